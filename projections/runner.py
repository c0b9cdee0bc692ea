"""The projector: every projection it holds a lease for, caught up from its own
checkpoint and then following the log, a batch per transaction.

Why not the library's `ProjectionRunner`: it commits one event per transaction
(about 400 events a second on the embedded server) and runs one subscription
per projection. Here one subscription feeds every projection the process
holds; each page is decoded once, and each projection applies the part of it
beyond its own checkpoint and commits its changed documents and its checkpoint
together (see `ReadModelView`). Projections keep the library's shape.

One thread does everything (lease upkeep included), so the process never
writes a lease document from two places at once. Commits are not overlapped
with applying the next batch: catching up is bound by the server's own work
(on the embedded server about 26 s of server CPU against 5 s of ours per
100,000 events), and a separate commit thread measured slower.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from eventsourcing.persistence import Notification, OperationalError, PersistenceError
from parley.domain.application import ParleyApp
from parley.eventstore.recorders import MongoApplicationRecorder
from parley.projections.applier import BatchApplier, BatchResult, upstream_name
from parley.projections.base import ReadModelProjection
from parley.projections.feed import PageSubscription, read_page
from parley.projections.lease import Clock, LeaseLost, LeaseStore, lease_id, new_holder, utc_now
from parley.projections.registry import build_projections
from parley.projections.settings import ProjectorSettings
from parley.projections.view import CheckpointMoved
from pymongo.errors import PyMongoError

log = logging.getLogger(__name__)

PROGRESS_EVERY = 5.0  # seconds between progress lines per projection
WAIT_SLICE = 0.5  # longest wait for a page, so a stop is noticed promptly


class Projector:
    """Runs the configured projections in this process until `stop()`."""

    def __init__(
        self,
        app: ParleyApp,
        settings: ProjectorSettings,
        *,
        holder: str | None = None,
        clock: Clock = utc_now,
    ) -> None:
        recorder = app.recorder
        if not isinstance(recorder, MongoApplicationRecorder):
            msg = "the projector needs Parley's MongoDB event store"
            raise TypeError(msg)
        self.recorder = recorder
        self.settings = settings
        self.log_name = recorder.log_name
        self.upstream = upstream_name(app.name, recorder.log_name)
        self.projections = build_projections(
            recorder.datastore, settings.projections, cache_size=settings.cache_size
        )
        self.leases = LeaseStore(
            recorder.datastore.db, holder or new_holder(), settings.lease_seconds, clock
        )
        self.applier = BatchApplier(self.upstream, app.mapper)
        self.held: dict[str, float] = {}  # projection -> monotonic time of last renewal
        self._next_try: dict[str, float] = {}
        self._last_progress: dict[str, float] = {}
        self._stopping = threading.Event()
        self._subscription: PageSubscription | None = None
        self._next_position = 0  # the position the subscription delivers next
        self.batches_committed = 0

    @property
    def holder(self) -> str:
        return self.leases.holder

    def stop(self) -> None:
        """Asks `run` to finish the batch in hand, release its leases and return."""
        self._stopping.set()

    def run(self) -> None:
        for projection in self.projections:
            projection.view.create_indexes()
        log.info(
            "projector started",
            extra={"holder": self.holder, "projections": [p.name for p in self.projections]},
        )
        try:
            while not self._stopping.is_set():
                self._step()
        finally:
            self._close_subscription()
            self._release_all()
            for projection in self.projections:
                projection.view.close()
            log.info("projector stopped", extra={"holder": self.holder})

    # ------------------------------------------------------------ one step

    def _step(self) -> None:
        self._tend_leases()
        held = [p for p in self.projections if p.name in self.held]
        if not held:
            self._close_subscription()
            self._stopping.wait(min(self.settings.renew_every, WAIT_SLICE * 4))
            return
        try:
            start = min(p.view.position(self.upstream) for p in held)
            page = self._next_page(start)
        except (OperationalError, PyMongoError) as exc:
            self._pause_after(exc)
            return
        if not page:
            return
        self._next_position = page[-1].id + 1
        events = self.applier.decode(page)
        for projection in held:
            if projection.name in self.held:
                self._apply(projection, page, events)

    def _next_page(self, start: int) -> list[Notification]:
        """Catching up, pages are read here, in this thread (a reader thread
        competing for the interpreter made catch-up slower, not faster). Once a
        page comes back short, the log is followed through a subscription,
        until a full page shows the log has run ahead again."""
        if self._subscription is None:
            page = read_page(self.recorder, start + 1, self.settings.batch_size)
            if len(page) < self.settings.batch_size:
                self._follow_from(page[-1].id if page else start)
            return page
        if self._next_position != start + 1:
            self._close_subscription()  # a projection needs earlier events: catch up again
            return []
        page = self._subscription.next_page(timeout=min(WAIT_SLICE, self.settings.renew_every))
        if len(page) >= self.settings.batch_size:
            self._close_subscription()
        return page

    def _apply(
        self, projection: ReadModelProjection, page: list[Notification], events: list[Any]
    ) -> None:
        lease = lease_id(projection.name, self.log_name)
        try:
            result = self.applier.apply(projection, page, events, self.leases.fence(lease))
        except (LeaseLost, CheckpointMoved) as exc:
            log.warning(
                "projection lost", extra={"projection": projection.name, "reason": str(exc)}
            )
            self._drop(projection)
            return
        except (OperationalError, PyMongoError) as exc:
            self._pause_after(exc)
            return
        if result is not None:
            self.held[projection.name] = time.monotonic()  # the commit renewed the lease
            self.batches_committed += 1
            self._report(result)

    def _report(self, result: BatchResult) -> None:
        fields = {
            "projection": result.projection,
            "position": result.position,
            "events": result.events,
            "written": result.written,
            "ms": round(result.seconds * 1000, 1),
            "holder": self.holder,
        }
        log.debug("batch applied", extra=fields)
        now = time.monotonic()
        if now - self._last_progress.get(result.projection, 0.0) >= PROGRESS_EVERY:
            self._last_progress[result.projection] = now
            log.info("projection at", extra=fields)

    # --------------------------------------------------------------- leases

    def _tend_leases(self) -> None:
        now = time.monotonic()
        for projection in self.projections:
            lease = lease_id(projection.name, self.log_name)
            try:
                if projection.name in self.held:
                    if now - self.held[projection.name] >= self.settings.renew_every:
                        if self.leases.renew(lease):
                            self.held[projection.name] = now
                        else:
                            log.warning(
                                "projection lost",
                                extra={"projection": projection.name, "reason": "lease taken"},
                            )
                            self._drop(projection)
                elif now >= self._next_try.get(projection.name, 0.0):
                    self._next_try[projection.name] = now + self.settings.renew_every
                    if self.leases.acquire(lease, [projection.view.session_id]):
                        projection.view.discard()  # whatever it cached may be stale now
                        self.held[projection.name] = now
                        log.info(
                            "projection acquired",
                            extra={
                                "projection": projection.name,
                                "position": projection.view.position(self.upstream),
                                "holder": self.holder,
                            },
                        )
            except (PersistenceError, PyMongoError) as exc:
                log.warning(
                    "lease upkeep failed",
                    extra={"projection": projection.name, "error": str(exc)},
                )

    def _drop(self, projection: ReadModelProjection) -> None:
        self.held.pop(projection.name, None)
        projection.view.discard()
        self._next_try[projection.name] = time.monotonic() + self.settings.renew_every

    def _release_all(self) -> None:
        for name in list(self.held):
            try:
                self.leases.release(lease_id(name, self.log_name))
            except PyMongoError as exc:
                log.warning("lease release failed", extra={"projection": name, "error": str(exc)})
        self.held.clear()

    # --------------------------------------------------------- subscription

    def _follow_from(self, position: int) -> None:
        self._subscription = PageSubscription(
            self.recorder,
            gt=position,
            page_size=self.settings.batch_size,
            poll_interval=self.settings.poll_interval,
        )
        self._next_position = position + 1

    def _close_subscription(self) -> None:
        if self._subscription is not None:
            subscription, self._subscription = self._subscription, None
            subscription.close()

    def _pause_after(self, exc: Exception) -> None:
        """The database failed us: start again from the checkpoints after a pause."""
        log.warning("database error; retrying", extra={"error": str(exc)}, exc_info=True)
        for projection in self.projections:
            projection.view.discard()
        self._close_subscription()
        self._stopping.wait(min(self.settings.poll_interval * 2, 5.0))
