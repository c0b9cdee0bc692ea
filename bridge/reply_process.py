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

The intake nudges the process as soon as a message is recorded, so most work
starts before the log brings its position. When the position arrives, the
process remembers how it last left that thread (its version, and whether work
was left): a position at or below that version, in a thread left with nothing
to do, is finished without loading the thread again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TypeVar
from uuid import UUID

from eventsourcing.persistence import Notification, PersistenceError, Tracking
from parley.bridge.ports import (
    ContextSource,
    LookupResult,
    OutboundMessage,
    ReplyModel,
    SendReceipt,
    SendRejected,
    SentLookup,
    Transport,
    TransportError,
    TransportUnavailable,
)
from parley.bridge.watermark import Watermark
from parley.domain.application import ParleyApp, ReplyOutcome
from parley.domain.rules import reply_withhold_reason
from parley.domain.thread import ReplyStatus, Thread, event_topic
from pymongo.errors import PyMongoError

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
    # After a restart, a send the transport cannot account for may yet be confirmed
    # (the Cloud API learns it from a status webhook within seconds): ask again for
    # this long before recording it as failed.
    unknown_outcome_wait: float = 15.0
    remembered_threads: int = 20_000  # how many threads' last state is remembered


@dataclass
class _ThreadWork:
    positions: list[int] = field(default_factory=list)
    # Log positions that arrived while a pass was running: (position, version).
    arrived: list[tuple[int, int]] = field(default_factory=list)
    dirty: bool = False
    task: asyncio.Task[None] | None = None


@dataclass(frozen=True)
class _LeftAt:
    """How a completed pass left a thread: its version then, and whether work was
    left (a message still pending, a reply not yet sent or failed)."""

    version: int
    work_left: bool

    def covers(self, version: int) -> bool:
        return version <= self.version and not self.work_left


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
        self._left: OrderedDict[UUID, _LeftAt] = OrderedDict()
        self._slots = asyncio.Semaphore(self.settings.concurrency)
        self._stopping = asyncio.Event()
        self._watermark = Watermark(0)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sending: set[asyncio.Future[Thread]] = set()

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
                    self._arrived,
                    UUID(str(notification.originator_id)),
                    notification.id,
                    notification.originator_version,
                )
        except Exception:
            log.exception("reply process lost the log; stopping")
            loop.call_soon_threadsafe(self._stopping.set)

    def _arrived(self, thread_id: UUID, position: int, version: int) -> None:
        """A log position: finished at once if the last pass over its thread
        covered it, else work for the thread."""
        self._watermark.dispatched(position)
        left = self._left.get(thread_id)
        if left is not None and left.covers(version):
            self._watermark.finished(position)
            return
        work = self._threads.get(thread_id)
        if work is not None and work.task is not None:
            # A pass is running; whether it covers this position is known after it.
            work.arrived.append((position, version))
            return
        self._schedule(thread_id, position)

    def _schedule(self, thread_id: UUID, position: int | None) -> None:
        work = self._threads.setdefault(thread_id, _ThreadWork())
        if position is not None:
            work.positions.append(position)
        work.dirty = True
        if work.task is None and not self._stopping.is_set():
            work.task = asyncio.create_task(self._drain(thread_id, work))

    async def _drain(self, thread_id: UUID, work: _ThreadWork) -> None:
        backoff = self.settings.backoff_initial
        async with self._slots:
            while (work.dirty or work.arrived) and not self._stopping.is_set():
                work.dirty = False
                positions, work.positions = work.positions, []
                positions.extend(position for position, _ in work.arrived)
                work.arrived = []
                try:
                    left = await self._work_on(thread_id)
                except Exception:
                    log.exception(
                        "reply work failed; will retry", extra={"thread_id": str(thread_id)}
                    )
                    work.positions = positions + work.positions
                    work.dirty = True
                    await self._pause(backoff)
                    backoff = min(backoff * 2, 60.0)
                    continue
                if left is None:  # stopping: the rest is for the next start
                    work.positions = positions + work.positions
                    break
                backoff = self.settings.backoff_initial
                self._remember(thread_id, left)
                for position in positions:
                    self._watermark.finished(position)
                arrived, work.arrived = work.arrived, []
                for position, version in arrived:
                    if left.covers(version):
                        self._watermark.finished(position)
                    else:
                        work.positions.append(position)
                        work.dirty = True
        work.task = None
        if not work.dirty and not work.positions and not work.arrived:
            self._threads.pop(thread_id, None)

    def _remember(self, thread_id: UUID, left: _LeftAt) -> None:
        self._left[thread_id] = left
        self._left.move_to_end(thread_id)
        while len(self._left) > self.settings.remembered_threads:
            self._left.popitem(last=False)

    async def _finish_in_flight(self) -> None:
        tasks = [w.task for w in self._threads.values() if w.task is not None]
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=self.settings.shutdown_grace)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        if self._sending:  # sends the cancelled passes leave running, bounded by their timeout
            sending = set(self._sending)
            await asyncio.wait(sending, timeout=self.settings.send_timeout + 5)
            for send in sending:
                if send.done() and not send.cancelled():
                    send.exception()  # retrieved: its pass is gone, the next start looks

    async def _save_checkpoint(self, saved: int) -> int:
        position = self._watermark.done_up_to
        if position > saved:
            tracking = Tracking(self.checkpoint_name, position)
            try:
                await asyncio.to_thread(self.app.event_log.insert_tracking, tracking)
            except (PersistenceError, PyMongoError) as exc:
                # The database is away: the checkpoint only trails further behind,
                # and a restart would redo finished work, which finds it done.
                log.warning("checkpoint not saved", extra={"position": position, "error": str(exc)})
                return saved
            return position
        return saved

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    # ------------------------------------------------------------ the work

    async def _work_on(self, thread_id: UUID) -> _LeftAt | None:
        """One pass over a thread; how it left the thread, or None if it stopped
        part way (the process is stopping)."""
        # One load, then the process keeps the thread it saves: each save is
        # checked against the stored version, and reloads only on a conflict.
        thread = await asyncio.to_thread(self.app.get_thread, thread_id)
        for reply_id in list(thread.unsent):  # left by a crash, or manual replies
            if self._stopping.is_set():
                return None
            thread = await self._deliver(thread, reply_id, surely_unsent=False)
        for wa_message_id in list(thread.pending):
            if self._stopping.is_set():
                return None
            thread = await self._answer(thread, wa_message_id)
        # A conflict reload may have brought a newer message than this pass saw.
        return _LeftAt(thread.version, bool(thread.pending or thread.unsent))

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
        outcome = ReplyOutcome(**asdict(reply), context_digest=context.digest())
        generated_at = self.clock()
        reply_id, thread = await self._change(
            thread, lambda t: outcome.record_on(t, wa_message_id, generated_at)
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
        # Unless this pass itself just generated it, the reply may have gone out
        # already: before a crash, or in an earlier pass of this run whose record
        # of the outcome failed (the database went away after the send).
        may_have_gone = not surely_unsent
        backoff = self.settings.backoff_initial
        last_error = ""
        for attempt in range(1, self.settings.send_attempts + 1):
            if self._stopping.is_set() and attempt > 1:
                return thread  # left for the next start, which asks the transport first
            if may_have_gone:
                try:
                    lookup = await self._look_up(outbound, extra)
                except (TransportError, TimeoutError, OSError) as exc:
                    last_error = f"lookup: {exc or type(exc).__name__}"
                    await self._pause(backoff)
                    backoff = min(backoff * 2, self.settings.backoff_max)
                    continue
                if lookup.result is LookupResult.SENT and lookup.receipt is not None:
                    log.info("reply had gone out before a restart", extra=extra)
                    return await self._record_sent(thread, reply_id, lookup.receipt, attempt)
                if lookup.result is LookupResult.UNKNOWN:
                    if self._stopping.is_set():
                        return thread  # still in doubt: the next start asks again
                    return await self._record_failed(
                        thread, reply_id, UNKNOWN_OUTCOME, attempt, True
                    )
            # A send and the record of its outcome run to the end even when this
            # pass is cancelled at shutdown: cut between the two, the reply would
            # be out but not recorded as sent (`_finish_in_flight` waits for them).
            sending = asyncio.ensure_future(
                self._send_and_record(thread, reply_id, outbound, attempt, extra)
            )
            self._sending.add(sending)
            sending.add_done_callback(self._sending.discard)
            try:
                return await asyncio.shield(sending)
            except SendRejected as exc:
                return await self._record_failed(thread, reply_id, str(exc), attempt, True)
            except TransportUnavailable as exc:
                may_have_gone = False  # it never left: the transport was not connected
                last_error = str(exc) or "transport unavailable"
            except (TransportError, TimeoutError, OSError) as exc:
                may_have_gone = True  # it may have left: ask before trying again
                last_error = str(exc) or type(exc).__name__
            log.warning("send failed, retrying", extra={**extra, "error": last_error})
            await self._pause(backoff)
            backoff = min(backoff * 2, self.settings.backoff_max)
        reason = f"not sent after {self.settings.send_attempts} attempts: {last_error}"
        return await self._record_failed(
            thread, reply_id, reason, self.settings.send_attempts, False
        )

    async def _send_and_record(
        self,
        thread: Thread,
        reply_id: str,
        outbound: OutboundMessage,
        attempt: int,
        extra: dict[str, str],
    ) -> Thread:
        """One send, then the record that it went out; the transport's errors are
        raised with nothing recorded, for `_deliver` to decide."""
        receipt = await asyncio.wait_for(
            self.transport.send_text(outbound), self.settings.send_timeout
        )
        log.info("reply sent", extra={**extra, "attempts": attempt})
        return await self._record_sent(thread, reply_id, receipt, attempt)

    async def _look_up(self, outbound: OutboundMessage, extra: dict[str, str]) -> SentLookup:
        """Asks the transport whether a reply went out; while it cannot tell, asks
        again for a while, since a confirmation may be on its way."""
        deadline = asyncio.get_running_loop().time() + self.settings.unknown_outcome_wait
        pause = self.settings.backoff_initial
        while True:
            lookup = await asyncio.wait_for(
                self.transport.lookup_sent(outbound), self.settings.send_timeout
            )
            loop_time = asyncio.get_running_loop().time()
            if lookup.result is not LookupResult.UNKNOWN or loop_time >= deadline:
                return lookup
            if self._stopping.is_set():
                return lookup
            log.info("reply in doubt; asking the transport again", extra=extra)
            await self._pause(min(pause, deadline - loop_time))
            pause = min(pause * 2, self.settings.backoff_max)

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
