"""Where transports deliver: inbound messages, acknowledgements, connection state.

One path for every update: validate, record through the write side, then tell
the reply process which thread to look at. A message that cannot be valid is
refused with one log line; nothing already stored is touched.

Under load, and when a transport redelivers (Meta retries a webhook that was
slow to answer, and the retry often arrives while the first delivery is still
being recorded), the intake must not make things worse:

* recording runs as its own task, which the caller's timeout does not cancel, so
  work begun is finished, and a redelivery arriving meanwhile waits for it
  instead of recording it a second time;
* messages recorded recently are remembered, so a late redelivery costs nothing;
  an older one is still caught by the write side's unique key;
* at most `max_concurrent` records run at once: they queue on one counter
  document anyway, and more would only fill the worker threads the reply
  process needs.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import replace

from parley.bridge.ports import TransportStatus
from parley.domain.application import IntakeResult, ParleyApp
from parley.domain.messages import DeliveryUpdate, InboundMessage

log = logging.getLogger(__name__)

MAX_TEXT = 65_536  # WhatsApp's own limit on a message's characters
MAX_ID = 256
_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")
_CHAT_ID = re.compile(r"^[0-9A-Za-z._:-]{1,64}@(c\.us|g\.us|s\.whatsapp\.net|broadcast|lid)$")


class InvalidInbound(ValueError):
    """Raised when a transport hands over a message that cannot be recorded."""


def clean_text(text: str) -> tuple[str, bool]:
    """The text with lone surrogates (which no UTF-8 store can hold) replaced."""
    cleaned = _LONE_SURROGATE.sub("\ufffd", text)
    return cleaned, cleaned != text


def validate(message: InboundMessage) -> InboundMessage:
    """The message ready to record, or InvalidInbound saying what is wrong."""
    if not message.wa_message_id or len(message.wa_message_id) > MAX_ID:
        raise InvalidInbound("message id missing or longer than 256 characters")
    if not _CHAT_ID.match(message.chat_id):
        raise InvalidInbound(f"chat id {message.chat_id[:80]!r} is not a WhatsApp chat id")
    if len(message.sender) > 64 or len(message.push_name) > 256:
        raise InvalidInbound("sender or push name too long")
    if len(message.text) > MAX_TEXT:
        raise InvalidInbound(f"text longer than WhatsApp's {MAX_TEXT} characters")
    for moment in (message.sent_at, message.received_at):
        if moment.tzinfo is None:
            raise InvalidInbound("timestamps must carry a time zone")
    text, text_changed = clean_text(message.text)
    name, name_changed = clean_text(message.push_name)
    if not (text_changed or name_changed):
        return message
    extra = {**message.extra, "sanitised": "lone UTF-16 surrogates replaced by U+FFFD"}
    return replace(message, text=text, push_name=name, extra=extra)


StatusListener = Callable[[TransportStatus], Awaitable[None]]


def _retrieve_error(task: asyncio.Task[IntakeResult]) -> None:
    """Marks a failed record's error as seen: its callers got it, or timed out and
    answered the transport already (which will redeliver)."""
    if not task.cancelled():
        task.exception()


class Intake:
    """The `InboundSink` every transport delivers to."""

    def __init__(
        self,
        app: ParleyApp,
        on_recorded: Callable[[object], None],
        on_status: StatusListener | None = None,
        *,
        max_concurrent: int = 16,
        remember: int = 20_000,
    ) -> None:
        self.app = app
        self.on_recorded = on_recorded  # called with the thread id of a new message
        self.status_listener = on_status
        self.recorded = 0
        self.duplicates = 0
        self.refused = 0
        self.max_concurrent = max_concurrent
        self.remember = remember
        self._slots: asyncio.Semaphore | None = None  # made in the running loop
        self._in_flight: dict[tuple[str, str], asyncio.Task[IntakeResult]] = {}
        self._recent: OrderedDict[tuple[str, str], None] = OrderedDict()

    async def on_message(self, message: InboundMessage) -> None:
        extra = {"chat_id": message.chat_id[:80], "wa_id": message.wa_message_id[:80]}
        try:
            message = validate(message)
        except InvalidInbound as exc:
            self.refused += 1
            log.warning("inbound refused", extra={**extra, "reason": str(exc)})
            return
        key = (message.account, message.wa_message_id)
        if key in self._recent:
            self.duplicates += 1
            log.info("duplicate delivery ignored", extra=extra)
            return
        task = self._in_flight.get(key)
        if task is not None:
            await asyncio.shield(task)  # the first delivery's outcome is ours too
            self.duplicates += 1
            log.info("duplicate delivery ignored while the first is recorded", extra=extra)
            return
        task = asyncio.create_task(self._record(key, message, extra))
        task.add_done_callback(_retrieve_error)  # its caller may have given up waiting
        self._in_flight[key] = task
        await asyncio.shield(task)

    async def _record(
        self, key: tuple[str, str], message: InboundMessage, extra: dict[str, str]
    ) -> IntakeResult:
        try:
            async with self._slot():
                result = await asyncio.to_thread(self.app.receive, message)
        finally:
            del self._in_flight[key]
        self._remember(key)
        if result.duplicate:
            self.duplicates += 1
            log.info("duplicate delivery ignored", extra=extra)
            return result
        self.recorded += 1
        log.info(
            "inbound recorded",
            extra={**extra, "thread_id": str(result.thread_id), "withheld": result.withheld},
        )
        if not result.withheld:
            self.on_recorded(result.thread_id)
        return result

    def _slot(self) -> asyncio.Semaphore:
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.max_concurrent)
        return self._slots

    def _remember(self, key: tuple[str, str]) -> None:
        self._recent[key] = None
        if len(self._recent) > self.remember:
            self._recent.popitem(last=False)

    async def on_delivery(self, update: DeliveryUpdate) -> None:
        async with self._slot():
            matched = await asyncio.to_thread(self.app.record_delivery, update)
        if not matched:
            log.debug(
                "acknowledgement for a message Parley did not send",
                extra={"wa_id": update.wa_message_id},
            )

    async def on_status(self, status: TransportStatus) -> None:
        log.info("transport status", extra={"state": status.state.value, "detail": status.detail})
        if self.status_listener is not None:
            await self.status_listener(status)
