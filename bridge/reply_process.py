"""The reply process: follows the log and answers every inbound that needs it.

MessageReceived → context → reply model → ReplyGenerated (its outbound id chosen
and recorded before sending) → transport → ReplySent or ReplyFailed.

What is pending lives in the Thread aggregate (inbound awaiting an answer,
replies generated but not sent), not in this process: the log only says which
threads to look at. So a crash anywhere loses nothing. A restart resumes from
the checkpoint (the position below which every thread's work was finished) and
looks again; work already done is found done. A reply that was generated but not
recorded as sent may have gone out just before the crash: before sending it
again the process asks the transport whether it did (`Transport.lookup_sent`);
when the transport cannot tell, the reply is recorded as failed rather than
risk saying it twice.

Messages of one thread are answered in order, one at a time; threads run
concurrently up to a bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar
from uuid import UUID

from eventsourcing.persistence import Notification, Tracking
from parley.bridge.ports import (
    ContextSource,
    LookupResult,
    OutboundMessage,
    ReplyModel,
    SendReceipt,
    SendRejected,
    Transport,
    TransportError,
    TransportUnavailable,
)
from parley.bridge.watermark import Watermark
from parley.domain.application import ParleyApp
from parley.domain.rules import reply_withhold_reason
from parley.domain.thread import ReplyStatus, Thread, event_topic

log = logging.getLogger(__name__)
R = TypeVar("R")

FOLLOWED_TOPICS = (event_topic("MessageReceived"), event_topic("ReplyGenerated"))
UNKNOWN_OUTCOME = "sent or not is unknown after a restart; not resent, to never send twice"


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ReplySettings:
    concurrency: int = 16  # threads answered at once
    send_attempts: int = 5
    send_timeout: float = 30.0  # seconds for one send through the transport
    backoff_initial: float = 0.5
    backoff_max: float = 8.0
    quote_replies: bool = False
    checkpoint_interval: float = 0.5  # seconds between checkpoint writes
    shutdown_grace: float = 10.0  # seconds in-flight work may take to finish on stop


@dataclass
class _ThreadWork:
    positions: list[int] = field(default_factory=list)
    dirty: bool = False
    task: asyncio.Task[None] | None = None


class ReplyProcess:
    def __init__(
        self,
        *,
        app: ParleyApp,
        model: ReplyModel,
        transport: Transport,
        context_source: ContextSource,
        clock: Callable[[], datetime] = utc_now,
        settings: ReplySettings | None = None,
    ) -> None:
        self.app = app
        self.model = model
        self.transport = transport
        self.context_source = context_source
        self.clock = clock
        self.settings = settings or ReplySettings()
        self.checkpoint_name = f"reply-process/{app.event_log.log_name}"
        self._threads: dict[UUID, _ThreadWork] = {}
        self._attempted: set[str] = set()  # outbound ids this run has tried to send
        self._slots = asyncio.Semaphore(self.settings.concurrency)
        self._stopping = asyncio.Event()
        self._watermark = Watermark(0)
        self._loop: asyncio.AbstractEventLoop | None = None

    # --------------------------------------------------------------- running

    async def run(self, stop: asyncio.Event) -> None:
        """Answers until `stop` is set, then lets in-flight work finish briefly."""
        self._loop = asyncio.get_running_loop()
        start = await asyncio.to_thread(self.app.event_log.max_tracking_id, self.checkpoint_name)
        self._watermark = Watermark(start or 0)
        saved = self._watermark.done_up_to
        log.info("reply process starting", extra={"position": saved})
        subscription = self.app.event_log.subscribe(gt=start, topics=FOLLOWED_TOPICS)
        reader = threading.Thread(
            target=self._read_log, args=(subscription,), name="reply-log-reader", daemon=True
        )
        reader.start()
        try:
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.settings.checkpoint_interval)
                saved = await self._save_checkpoint(saved)
        finally:
            self._stopping.set()
            subscription.stop()
            await self._finish_in_flight()
            await self._save_checkpoint(saved)
            await asyncio.to_thread(reader.join, 5)
            log.info("reply process stopped", extra={"position": self._watermark.done_up_to})

    def nudge(self, thread_id: UUID) -> None:
        """Looks at a thread now (the intake calls this; the log would say so too)."""
        if not self._stopping.is_set():
            self._schedule(thread_id, None)

    def _read_log(self, subscription: Iterable[Notification]) -> None:
        loop = self._loop
        assert loop is not None
        try:
            for notification in subscription:
                loop.call_soon_threadsafe(
                    self._schedule, UUID(str(notification.originator_id)), notification.id
                )
        except Exception:
            log.exception("reply process lost the log; stopping")
            loop.call_soon_threadsafe(self._stopping.set)

    def _schedule(self, thread_id: UUID, position: int | None) -> None:
        work = self._threads.setdefault(thread_id, _ThreadWork())
        if position is not None:
            self._watermark.dispatched(position)
            work.positions.append(position)
        work.dirty = True
        if work.task is None and not self._stopping.is_set():
            work.task = asyncio.create_task(self._drain(thread_id, work))

    async def _drain(self, thread_id: UUID, work: _ThreadWork) -> None:
        backoff = self.settings.backoff_initial
        async with self._slots:
            while work.dirty and not self._stopping.is_set():
                work.dirty = False
                positions, work.positions = work.positions, []
                try:
                    await self._work_on(thread_id)
                except Exception:
                    log.exception(
                        "reply work failed; will retry", extra={"thread_id": str(thread_id)}
                    )
                    work.positions = positions + work.positions
                    work.dirty = True
                    await self._pause(backoff)
                    backoff = min(backoff * 2, 60.0)
                    continue
                backoff = self.settings.backoff_initial
                for position in positions:
                    self._watermark.finished(position)
        work.task = None
        if not work.dirty and not work.positions:
            self._threads.pop(thread_id, None)

    async def _finish_in_flight(self) -> None:
        tasks = [w.task for w in self._threads.values() if w.task is not None]
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=self.settings.shutdown_grace)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    async def _save_checkpoint(self, saved: int) -> int:
        position = self._watermark.done_up_to
        if position > saved:
            tracking = Tracking(self.checkpoint_name, position)
            await asyncio.to_thread(self.app.event_log.insert_tracking, tracking)
            return position
        return saved

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    # ------------------------------------------------------------ the work

    async def _work_on(self, thread_id: UUID) -> None:
        # One load, then the process keeps the thread it saves: each save is
        # checked against the stored version, and reloads only on a conflict.
        thread = await asyncio.to_thread(self.app.get_thread, thread_id)
        for reply_id in list(thread.unsent):  # left by a crash, or manual replies
            if self._stopping.is_set():
                return
            thread = await self._deliver(thread, reply_id, surely_unsent=False)
        for wa_message_id in list(thread.pending):
            if self._stopping.is_set():
                return
            thread = await self._answer(thread, wa_message_id)

    async def _answer(self, thread: Thread, wa_message_id: str) -> Thread:
        if wa_message_id not in thread.pending:
            return thread
        now = self.clock()
        context = await asyncio.to_thread(
            self.context_source.context_for, thread, wa_message_id, now
        )
        rules = self.app.rules
        withheld = reply_withhold_reason(
            rules=rules,
            relationship=context.relationship,
            bot_paused=thread.bot_paused,
            replies_in_window=thread.replies_since(now - rules.rate_window),
            now=now,
        )
        extra = {"thread_id": str(thread.id), "chat_id": thread.chat_id, "wa_id": wa_message_id}
        if withheld:
            _, thread = await self._change(
                thread,
                lambda t: t.withhold_reply(wa_message_id=wa_message_id, reason=withheld, at=now),
            )
            log.info("reply withheld", extra={**extra, "reason": withheld})
            return thread
        reply = await self.model.generate(context)
        generated_at = self.clock()
        reply_id, thread = await self._change(
            thread,
            lambda t: t.record_generated(
                in_reply_to=wa_message_id,
                text=reply.text,
                model=reply.model,
                latency_ms=reply.latency_ms,
                prompt_tokens=reply.prompt_tokens,
                response_tokens=reply.response_tokens,
                finish_reason=reply.finish_reason,
                context_digest=context.digest(),
                is_fallback=reply.is_fallback,
                fallback_reason=reply.fallback_reason,
                generated_at=generated_at,
            ),
        )
        if not reply_id:
            return thread  # withheld meanwhile (the thread was paused)
        return await self._deliver(thread, reply_id, surely_unsent=True)

    async def _change(self, thread: Thread, change: Callable[[Thread], R]) -> tuple[R, Thread]:
        return await asyncio.to_thread(self.app.change, thread, change)

    async def _deliver(self, thread: Thread, reply_id: str, *, surely_unsent: bool) -> Thread:
        reply = thread.replies[reply_id]
        if reply["status"] is not ReplyStatus.GENERATED:
            return thread
        outbound = OutboundMessage(
            outbound_id=reply_id,
            chat_id=thread.chat_id,
            text=reply["text"],
            quoted_message_id=reply["in_reply_to"] if self.settings.quote_replies else "",
            recorded_at=reply["generated_at"],
        )
        extra = {"thread_id": str(thread.id), "chat_id": thread.chat_id, "reply_id": reply_id}
        may_have_gone = not surely_unsent and reply_id not in self._attempted
        backoff = self.settings.backoff_initial
        last_error = ""
        for attempt in range(1, self.settings.send_attempts + 1):
            if self._stopping.is_set() and attempt > 1:
                return thread  # left for the next start, which asks the transport first
            if may_have_gone:
                try:
                    lookup = await asyncio.wait_for(
                        self.transport.lookup_sent(outbound), self.settings.send_timeout
                    )
                except (TransportError, TimeoutError, OSError) as exc:
                    last_error = f"lookup: {exc or type(exc).__name__}"
                    await self._pause(backoff)
                    backoff = min(backoff * 2, self.settings.backoff_max)
                    continue
                if lookup.result is LookupResult.SENT and lookup.receipt is not None:
                    log.info("reply had gone out before a restart", extra=extra)
                    return await self._record_sent(thread, reply_id, lookup.receipt, attempt)
                if lookup.result is LookupResult.UNKNOWN:
                    return await self._record_failed(
                        thread, reply_id, UNKNOWN_OUTCOME, attempt, True
                    )
            self._attempted.add(reply_id)
            try:
                receipt = await asyncio.wait_for(
                    self.transport.send_text(outbound), self.settings.send_timeout
                )
            except SendRejected as exc:
                return await self._record_failed(thread, reply_id, str(exc), attempt, True)
            except TransportUnavailable as exc:
                may_have_gone = False  # it never left: the transport was not connected
                last_error = str(exc) or "transport unavailable"
            except (TransportError, TimeoutError, OSError) as exc:
                may_have_gone = True  # it may have left: ask before trying again
                last_error = str(exc) or type(exc).__name__
            else:
                log.info("reply sent", extra={**extra, "attempts": attempt})
                return await self._record_sent(thread, reply_id, receipt, attempt)
            log.warning("send failed, retrying", extra={**extra, "error": last_error})
            await self._pause(backoff)
            backoff = min(backoff * 2, self.settings.backoff_max)
        reason = f"not sent after {self.settings.send_attempts} attempts: {last_error}"
        return await self._record_failed(
            thread, reply_id, reason, self.settings.send_attempts, False
        )

    async def _record_sent(
        self, thread: Thread, reply_id: str, receipt: SendReceipt, attempts: int
    ) -> Thread:
        _, thread = await self._change(
            thread,
            lambda t: t.record_sent(
                reply_id=reply_id,
                wa_message_id=receipt.wa_message_id,
                attempts=attempts,
                sent_at=self.clock(),
            ),
        )
        return thread

    async def _record_failed(
        self, thread: Thread, reply_id: str, reason: str, attempts: int, permanent: bool
    ) -> Thread:
        log.warning(
            "reply failed",
            extra={"thread_id": str(thread.id), "reply_id": reply_id, "reason": reason},
        )
        _, thread = await self._change(
            thread,
            lambda t: t.record_failed(
                reply_id=reply_id,
                reason=reason,
                attempts=attempts,
                permanent=permanent,
                failed_at=self.clock(),
            ),
        )
        return thread
