"""Where transports deliver: inbound messages, acknowledgements, connection state.

One path for every update: validate, record through the write side, then tell
the reply process which thread to look at. A message that cannot be valid is
refused with one log line; nothing already stored is touched.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import replace

from parley.bridge.ports import TransportStatus
from parley.domain.application import ParleyApp
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


class Intake:
    """The `InboundSink` every transport delivers to."""

    def __init__(
        self,
        app: ParleyApp,
        on_recorded: Callable[[object], None],
        on_status: StatusListener | None = None,
    ) -> None:
        self.app = app
        self.on_recorded = on_recorded  # called with the thread id of a new message
        self.status_listener = on_status
        self.recorded = 0
        self.duplicates = 0
        self.refused = 0

    async def on_message(self, message: InboundMessage) -> None:
        extra = {"chat_id": message.chat_id[:80], "wa_id": message.wa_message_id[:80]}
        try:
            message = validate(message)
        except InvalidInbound as exc:
            self.refused += 1
            log.warning("inbound refused", extra={**extra, "reason": str(exc)})
            return
        result = await asyncio.to_thread(self.app.receive, message)
        if result.duplicate:
            self.duplicates += 1
            log.info("duplicate delivery ignored", extra=extra)
            return
        self.recorded += 1
        log.info(
            "inbound recorded",
            extra={**extra, "thread_id": str(result.thread_id), "withheld": result.withheld},
        )
        if not result.withheld:
            self.on_recorded(result.thread_id)

    async def on_delivery(self, update: DeliveryUpdate) -> None:
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
