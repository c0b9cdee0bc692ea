"""Delivers the event log to webhook subscribers, on its own, beside the replies.

Each subscriber has a worker that follows the log through the recorder's own
subscription from that subscriber's checkpoint, so a dead receiver never
delays replies or the other subscribers, and its backlog is only a position in
the log, never a copy of it.

Order: events of one originator (one conversation, one contact) go out one at
a time, in log order, each retried with exponential backoff until the receiver
answers 2xx. Different originators proceed independently, up to `window`
positions ahead of the oldest event still unsettled; beyond that the worker
waits, so memory stays bounded however long a receiver is down.

Delivery is at least once: progress is saved every `flush_interval`, so a crash
or a stop in mid-flight sends the last few events again, with the same
`X-Parley-Delivery` id for the receiver to drop. After dropping duplicates, each
originator's events arrive in order.

Run one dispatcher per log: two would both deliver everything.
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
from eventsourcing.persistence import Notification, Subscription, Transcoder
from parley.bridge.outbound_webhooks.delivery import delivery_id, event_body, headers_for
from parley.bridge.outbound_webhooks.store import (
    DeliveryStats,
    ProgressRecord,
    ProgressStore,
    WebhookSubscriptionStore,
)
from parley.bridge.outbound_webhooks.subscribers import Subscriber
from parley.eventstore.recorders import MongoApplicationRecorder
from parley.eventstore.transcoder import OrjsonTranscoder
from pymongo.database import Database
from pymongo.errors import PyMongoError

log = logging.getLogger(__name__)

Document = dict[str, Any]


@dataclass(frozen=True)
class DeliverySettings:
    timeout: float = 10.0  # seconds one POST may take
    backoff_base: float = 1.0  # first retry pause, doubled each time
    backoff_cap: float = 300.0
    window: int = 256  # positions a subscriber may run ahead of its oldest unsettled one
    concurrency: int = 4  # POSTs in flight per subscriber
    refresh_interval: float = 2.0  # how often subscriber changes are picked up
    flush_interval: float = 0.5  # how often progress is saved


class OutboundWebhookDispatcher:
    """Follows `recorder`'s log and delivers it to every subscriber in `db`.

    `configured` (from PARLEY_WEBHOOKS) is written to the store on start;
    subscribers added or removed through the store are picked up while running.
    """

    def __init__(
        self,
        recorder: MongoApplicationRecorder,
        db: Database[Document],
        *,
        configured: Sequence[Subscriber] = (),
        settings: DeliverySettings | None = None,
        transcoder: Transcoder | None = None,
    ) -> None:
        self.recorder = recorder
        self.settings = settings or DeliverySettings()
        self.configured = tuple(configured)
        self.transcoder = transcoder or OrjsonTranscoder()
        self.stream = f"{recorder.events_collection_name}:{recorder.log_name}"
        self.store = WebhookSubscriptionStore(db, head=recorder.max_notification_id)
        self.progress_store = ProgressStore(db, self.stream)
        self._workers: dict[str, SubscriberWorker] = {}
        self._session: aiohttp.ClientSession | None = None
        self._refresher: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Starts a worker for every subscriber; returns once they are running."""
        await asyncio.to_thread(self.store.sync_configured, self.configured)
        self._session = aiohttp.ClientSession()
        await self._refresh()
        self._refresher = asyncio.create_task(self._refresh_loop(), name="webhook-refresh")
        log.info(
            "outbound webhooks started",
            extra={"stream": self.stream, "subscribers": len(self._workers)},
        )

    async def stop(self) -> None:
        if self._refresher is not None:
            self._refresher.cancel()
            await asyncio.gather(self._refresher, return_exceptions=True)
            self._refresher = None
        await asyncio.gather(*(worker.stop() for worker in self._workers.values()))
        self._workers.clear()
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _refresh_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.refresh_interval)
            try:
                await self._refresh()
            except PyMongoError as exc:
                log.warning("cannot read webhook subscribers", extra={"error": str(exc)})
            except Exception:
                # Our bug: keep the traceback, keep the running workers going.
                log.exception("webhook subscriber refresh failed")

    async def _refresh(self) -> None:
        assert self._session is not None
        subscribers = await asyncio.to_thread(self.store.list)
        starts = await asyncio.to_thread(self.store.start_positions)
        current = {subscriber.id: subscriber for subscriber in subscribers}
        for gone in set(self._workers) - set(current):
            await self._workers.pop(gone).stop()
            log.info("webhook subscriber removed", extra={"subscriber": gone})
        for subscriber_id, subscriber in current.items():
            worker = self._workers.get(subscriber_id)
            if worker is not None:
                worker.subscriber = subscriber  # a changed URL, secret or filter applies now
                continue
            worker = SubscriberWorker(
                subscriber,
                recorder=self.recorder,
                progress_store=self.progress_store,
                session=self._session,
                settings=self.settings,
                transcoder=self.transcoder,
                stream=self.stream,
            )
            await worker.start(starts.get(subscriber_id))
            self._workers[subscriber_id] = worker


class SubscriberWorker:
    """Delivers one log to one subscriber."""

    def __init__(
        self,
        subscriber: Subscriber,
        *,
        recorder: MongoApplicationRecorder,
        progress_store: ProgressStore,
        session: aiohttp.ClientSession,
        settings: DeliverySettings,
        transcoder: Transcoder,
        stream: str,
    ) -> None:
        self.subscriber = subscriber
        self.recorder = recorder
        self.progress_store = progress_store
        self.session = session
        self.settings = settings
        self.transcoder = transcoder
        self.stream = stream
        self.progress = ProgressRecord(0)
        self.read_to = 0
        self.stats = DeliveryStats()
        self._inbox: asyncio.Queue[Notification] = asyncio.Queue(maxsize=64)
        self._room = asyncio.Event()
        self._dirty = asyncio.Event()
        self._slots = asyncio.Semaphore(settings.concurrency)
        self._lanes: dict[str, deque[Notification]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = threading.Event()
        self._subscription: Subscription[Any] | None = None
        self._feed_thread: threading.Thread | None = None
        self._saving: asyncio.Future[None] | None = None

    # ------------------------------------------------------------- lifecycle

    async def start(self, start_after: int | None) -> None:
        if start_after is None:
            start_after = await asyncio.to_thread(self.recorder.max_notification_id) or 0
        self.progress = await asyncio.to_thread(
            self.progress_store.load_or_create, self.subscriber.id, start_after
        )
        self.read_to = self.progress.through
        loop = asyncio.get_running_loop()
        self._feed_thread = threading.Thread(
            target=self._feed,
            args=(self.progress.through, loop),
            name=f"webhook-feed-{self.subscriber.id}",
            daemon=True,
        )
        self._feed_thread.start()
        self._spawn(self._read(), "read")
        self._spawn(self._flush_loop(), "flush")
        log.info(
            "webhook subscriber following the log",
            extra={"subscriber": self.subscriber.id, "position": self.progress.through},
        )

    async def stop(self) -> None:
        self._stopping.set()
        if self._subscription is not None:
            self._subscription.stop()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._saving is not None:
            await asyncio.gather(self._saving, return_exceptions=True)
        if self._feed_thread is not None:
            await asyncio.to_thread(self._feed_thread.join, 10)
        await self._save()

    def _spawn(self, work: Any, label: str) -> None:
        task = asyncio.create_task(work, name=f"webhook-{label}-{self.subscriber.id}")
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error(
                "webhook worker task failed",
                exc_info=task.exception(),
                extra={"subscriber": self.subscriber.id, "task": task.get_name()},
            )

    # ------------------------------------------------------------- the log, in a thread

    def _feed(self, after: int, loop: asyncio.AbstractEventLoop) -> None:
        """Iterates the recorder's (blocking) subscription and hands each
        notification to the event loop, waiting while the worker is full."""
        position = after
        while not self._stopping.is_set():
            try:
                with self.recorder.subscribe(gt=position) as subscription:
                    self._subscription = subscription
                    if self._stopping.is_set():
                        return
                    for notification in subscription:
                        if not self._hand_over(notification, loop):
                            return
                        position = notification.id
            except Exception:
                if self._stopping.is_set():
                    return
                log.exception(
                    "webhook feed failed; following again",
                    extra={"subscriber": self.subscriber.id, "position": position},
                )
                self._stopping.wait(1.0)

    def _hand_over(self, notification: Notification, loop: asyncio.AbstractEventLoop) -> bool:
        try:
            future = asyncio.run_coroutine_threadsafe(self._inbox.put(notification), loop)
        except RuntimeError:  # the loop is closed
            return False
        while True:
            try:
                future.result(timeout=0.2)
                return True
            except TimeoutError:
                if self._stopping.is_set():
                    future.cancel()
                    return False

    # ------------------------------------------------------------- ordering

    async def _read(self) -> None:
        while True:
            while self.read_to - self.progress.through >= self.settings.window:
                self._room.clear()
                await self._room.wait()
            notification = await self._inbox.get()
            self.read_to = max(self.read_to, notification.id)
            if self.progress.is_settled(notification.id):
                continue  # delivered before a restart
            if not self.subscriber.wants(notification.topic):
                self._settle(notification.id)
                continue
            key = str(notification.originator_id)
            lane = self._lanes.get(key)
            if lane is None:
                lane = self._lanes[key] = deque()
                self._spawn(self._run_lane(key, lane), "lane")
            lane.append(notification)

    async def _run_lane(self, key: str, lane: deque[Notification]) -> None:
        """One originator's events, strictly one after another."""
        try:
            while lane:
                notification = lane[0]
                await self._deliver(notification)
                lane.popleft()
                self._settle(notification.id)
        finally:
            if not lane and self._lanes.get(key) is lane:
                del self._lanes[key]

    def _settle(self, position: int) -> None:
        self.progress.settle(position)
        self._dirty.set()
        self._room.set()

    # ------------------------------------------------------------- delivery

    async def _deliver(self, notification: Notification) -> None:
        body = event_body(notification, self.transcoder)
        delivery = delivery_id(self.subscriber.id, self.stream, notification.id)
        attempt = 0
        while True:
            attempt += 1
            subscriber = self.subscriber
            async with self._slots:
                problem = await self._post(subscriber, body, delivery, notification.topic)
            now = datetime.now(UTC)
            self._dirty.set()
            if problem is None:
                self.stats.delivered += 1
                self.stats.last_delivered_at = now
                return
            self.stats.failed_attempts += 1
            self.stats.last_error = problem
            self.stats.last_error_at = now
            pause = self._backoff(attempt)
            log.warning(
                "webhook delivery failed; will retry",
                extra={
                    "subscriber": subscriber.id,
                    "position": notification.id,
                    "originator_id": str(notification.originator_id),
                    "attempt": attempt,
                    "retry_in_s": round(pause, 2),
                    "problem": problem,
                },
            )
            await asyncio.sleep(pause)

    async def _post(
        self, subscriber: Subscriber, body: bytes, delivery: str, topic: str
    ) -> str | None:
        """Sends one attempt; None on a 2xx answer, else what went wrong."""
        headers = headers_for(
            subscriber.secret, body, delivery=delivery, timestamp=int(time.time()), topic=topic
        )
        timeout = aiohttp.ClientTimeout(total=self.settings.timeout)
        try:
            async with self.session.post(
                subscriber.url, data=body, headers=headers, timeout=timeout, allow_redirects=False
            ) as response:
                if 200 <= response.status < 300:
                    return None
                return f"answered {response.status}"
        except (TimeoutError, aiohttp.ClientError) as exc:
            return f"{type(exc).__name__}: {exc}"[:300]

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self.settings.backoff_cap, self.settings.backoff_base * 2.0 ** (attempt - 1))
        return ceiling * random.uniform(0.5, 1.0)

    # ------------------------------------------------------------- progress

    async def _flush_loop(self) -> None:
        while True:
            await self._dirty.wait()
            await asyncio.sleep(self.settings.flush_interval)
            self._dirty.clear()
            await self._save()

    async def _save(self) -> None:
        # A copy: the write runs in a thread while the loop moves on.
        snapshot = ProgressRecord(self.progress.through, self.progress.settled_above)
        stats = self.stats.taken()
        # Shielded: a stop must not leave an older snapshot being written after
        # the final one.
        saving = asyncio.ensure_future(
            asyncio.to_thread(self.progress_store.save, self.subscriber.id, snapshot, stats)
        )
        self._saving = saving
        try:
            await asyncio.shield(saving)
        except PyMongoError as exc:
            log.warning(
                "cannot save webhook progress; will retry",
                extra={"subscriber": self.subscriber.id, "error": str(exc)},
            )
            self.stats.delivered += stats.delivered
            self.stats.failed_attempts += stats.failed_attempts
            self._dirty.set()
