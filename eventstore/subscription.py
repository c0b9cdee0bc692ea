"""Following the notification log: catch up in pages, then wake on a change
stream, and poll on a timer as well.

The timer is not an optimisation: a change stream can drop a wake-up (a
restart, a network blip, an event that lands between a read and the wait), and
a follower that only listens would then stall until the next write. The
library's own listen/notify subscription had exactly that bug (eventsourcing
issue #305). Here a missed wake-up costs at most one poll interval.

A wake-up is followed by a short settle (`settle`, 0.25 s by default) before the
read: under load every commit wakes every follower, and a follower that reads
after each one turns a busy log into a stream of tiny pages, each of which costs
its reader a query and a projector a transaction. Settling lets a burst land
first and be read, and applied, as one page.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from eventsourcing.persistence import Notification, OperationalError, Subscription
from pymongo.errors import PyMongoError

if TYPE_CHECKING:
    from parley.eventstore.recorders import MongoApplicationRecorder

log = logging.getLogger(__name__)


class MongoSubscription(Subscription["MongoApplicationRecorder"]):
    """Iterates over notifications after `gt`, blocking for new ones until stopped."""

    def __init__(
        self,
        recorder: MongoApplicationRecorder,
        gt: int | None = None,
        topics: Sequence[str] = (),
        *,
        page_size: int = 500,
        poll_interval: float | None = None,
        settle: float | None = None,
        use_change_stream: bool = True,
    ) -> None:
        super().__init__(recorder, gt=gt, topics=topics)
        self._page_size = page_size
        self._poll_interval = recorder.poll_interval if poll_interval is None else poll_interval
        self._settle = recorder.follow_settle if settle is None else settle
        self._scanned_to = gt or 0
        self._pages: queue.Queue[list[Notification]] = queue.Queue(maxsize=8)
        self._page: list[Notification] = []
        self._page_index = 0
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._error: BaseException | None = None
        self._threads = [threading.Thread(target=self._pull_loop, daemon=True)]
        if use_change_stream:
            self._threads.append(threading.Thread(target=self._watch_loop, daemon=True))
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        super().stop()
        self._stopped.set()
        self._wake.set()

    def __exit__(self, *args: object, **kwargs: object) -> None:
        try:
            super().__exit__(*args, **kwargs)
        finally:
            for thread in self._threads:
                thread.join(timeout=5)

    def __next__(self) -> Notification:
        while self._page_index >= len(self._page):
            if self._stopped.is_set():
                self._raise_stopped()
            try:
                self._page = self._pages.get(timeout=0.1)
            except queue.Empty:
                continue
            self._page_index = 0
        if self._stopped.is_set():
            self._raise_stopped()
        notification = self._page[self._page_index]
        self._page_index += 1
        return notification

    def _raise_stopped(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error
        raise StopIteration

    def _pull_loop(self) -> None:
        backoff = 0.2
        try:
            while not self._stopped.is_set():
                self._wake.clear()
                try:
                    caught_up = self._pull_pages()
                    backoff = 0.2
                except OperationalError as exc:
                    # The database is away (restarting, failing over): keep trying.
                    log.warning("subscription read failed, retrying", extra={"error": str(exc)})
                    self._stopped.wait(backoff)
                    backoff = min(backoff * 2, 5.0)
                    continue
                if caught_up:
                    self._wake.wait(self._poll_interval)
                    if self._settle > 0:
                        self._stopped.wait(self._settle)
        except BaseException as exc:
            self._error = exc
            self.stop()

    def _pull_pages(self) -> bool:
        """Reads pages until caught up; returns False if stopped first."""
        while not self._stopped.is_set():
            notifications, scanned_to = self._recorder.scan_notifications(
                self._scanned_to + 1, self._page_size, None, self._topics
            )
            if notifications and not self._put(notifications):
                return False
            self._scanned_to = scanned_to
            if len(notifications) < self._page_size:
                return True
        return False

    def _put(self, notifications: list[Notification]) -> bool:
        while not self._stopped.is_set():
            try:
                self._pages.put(notifications, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _watch_loop(self) -> None:
        """Sets the wake-up flag whenever the log's counter moves."""
        recorder = self._recorder
        pipeline = [{"$match": {"documentKey._id": recorder.log_name}}]
        backoff = 0.5
        while not self._stopped.is_set():
            try:
                with recorder.counters.watch(pipeline, max_await_time_ms=500) as stream:
                    backoff = 0.5
                    while not self._stopped.is_set() and stream.alive:
                        if stream.try_next() is None:
                            continue
                        self._wake.set()
                        # The server answers a waiting getMore as soon as one write
                        # lands, so asking again at once costs a round trip per
                        # commit. Once the changes in hand are used up, this
                        # watcher settles first, like the reader, and the next
                        # getMore brings what came meanwhile in one batch.
                        if self._settle > 0 and not _has_buffered(stream):
                            self._stopped.wait(self._settle)
            except PyMongoError as exc:
                if self._stopped.is_set():
                    return
                log.info(
                    "change stream closed; polling until it reopens", extra={"error": str(exc)}
                )
                self._stopped.wait(backoff)
                backoff = min(backoff * 2, 10.0)


def _has_buffered(stream: Any) -> bool:
    """Whether the change stream holds changes already fetched. pymongo has no
    public way to ask; where its cursor's buffer cannot be seen, say yes, which
    only forgoes the settle (a round trip per commit, never a backlog)."""
    buffered = getattr(getattr(stream, "_cursor", None), "_data", None)
    return buffered is None or len(buffered) > 0
