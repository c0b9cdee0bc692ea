"""Rebuilding read models from event 1.

In place: the replay takes the projections' leases (a running projector stops
applying them at its next commit), drops their collections and checkpoints, and
rebuilds. If the replay dies half way, its leases expire and a projector carries
on from the replay's checkpoint, finishing the rebuild.

In a shadow (`shadow=True`): the rebuild goes into `<collection>__shadow` while
the live read model keeps being served and kept up to date; once the shadow is
nearly caught up, the replay takes the leases, brings the shadow to the head of
the log, renames each shadow collection over the live one (`renameCollection`
with `dropTarget`, which the embedded server supports), and gives the leases
back. The projector then carries on from the shadow's checkpoint.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from parley.domain.application import ParleyApp
from parley.eventstore.recorders import MongoApplicationRecorder
from parley.projections.applier import BatchApplier, upstream_name
from parley.projections.base import ReadModelProjection
from parley.projections.feed import read_page
from parley.projections.lease import Clock, LeaseStore, lease_id, new_holder, utc_now
from parley.projections.registry import build_projections, build_view, projection_class
from parley.projections.view import SHADOW_SUFFIX, Fence

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]  # (position reached, position aimed at)
MAX_CHASES = 5


@dataclass(frozen=True)
class ReplayResult:
    projections: tuple[str, ...]
    position: int  # the log position every rebuilt read model reached
    events: int  # events applied
    seconds: float
    shadow: bool

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


def replay(
    app: ParleyApp,
    names: Sequence[str],
    *,
    shadow: bool = False,
    batch_size: int = 1000,
    lease_seconds: float = 15.0,
    cache_size: int = 20_000,
    progress: Progress | None = None,
    clock: Clock = utc_now,
) -> ReplayResult:
    """Rebuilds the named read models from event 1 (see the module's docstring)."""
    for name in names:
        projection_class(name)  # unknown names fail before anything is dropped
    recorder = _recorder(app)
    datastore = recorder.datastore
    leases = LeaseStore(datastore.db, new_holder("replay"), lease_seconds, clock)
    lease_ids = [lease_id(name, recorder.log_name) for name in names]
    started = time.perf_counter()
    projections = build_projections(
        datastore, names, suffix=SHADOW_SUFFIX if shadow else "", cache_size=cache_size
    )
    fences: list[Fence | None] = [leases.fence(lease) for lease in lease_ids]
    try:
        if shadow:
            _reset(projections)
            position = build(app, projections, batch_size=batch_size, progress=progress)
            # Catch up without the leases while the log keeps moving, so the live
            # read models are frozen only for the last short stretch.
            for _ in range(MAX_CHASES):
                if (recorder.max_notification_id() or 0) - position < batch_size:
                    break
                position = build(app, projections, batch_size=batch_size, progress=progress)
            _take(leases, lease_ids, projections)
            position = build(app, projections, batch_size=batch_size, fences=fences)
            for projection in projections:
                projection.view.swap_into(build_view(datastore, projection.name))
        else:
            _take(leases, lease_ids, projections)
            _reset(projections)
            position = build(
                app, projections, batch_size=batch_size, fences=fences, progress=progress
            )
    finally:
        for lease in lease_ids:
            leases.release(lease)
        for projection in projections:
            projection.view.close()
    seconds = time.perf_counter() - started
    log.info(
        "replay finished",
        extra={"projections": list(names), "position": position, "shadow": shadow},
    )
    return ReplayResult(tuple(names), position, position, seconds, shadow)


def build(
    app: ParleyApp,
    projections: Sequence[ReadModelProjection],
    *,
    batch_size: int = 1000,
    fences: Sequence[Fence | None] | None = None,
    progress: Progress | None = None,
    until: int | None = None,
) -> int:
    """Brings each projection's view from its checkpoint to the head of the log
    as it is now (or to `until`), a batch per transaction; returns the position."""
    recorder = _recorder(app)
    upstream = upstream_name(app.name, recorder.log_name)
    applier = BatchApplier(upstream, app.mapper)
    target = (recorder.max_notification_id() or 0) if until is None else until
    fences = fences or [None] * len(projections)
    position = min((p.view.position(upstream) for p in projections), default=target)
    if progress is not None:
        progress(position, target)
    while position < target:
        page = read_page(recorder, position + 1, min(batch_size, target - position))
        if not page:
            break
        events = applier.decode(page)
        for projection, fence in zip(projections, fences, strict=True):
            applier.apply(projection, page, events, fence)
        position = page[-1].id
        if progress is not None:
            progress(position, target)
    return position


def _take(
    leases: LeaseStore, lease_ids: Sequence[str], projections: Sequence[ReadModelProjection]
) -> None:
    for lease, projection in zip(lease_ids, projections, strict=True):
        leases.force(lease, [projection.view.session_id])


def _reset(projections: Sequence[ReadModelProjection]) -> None:
    for projection in projections:
        projection.view.drop()
        projection.view.create_indexes()


def _recorder(app: ParleyApp) -> MongoApplicationRecorder:
    recorder = app.recorder
    if not isinstance(recorder, MongoApplicationRecorder):
        msg = "replay needs Parley's MongoDB event store"
        raise TypeError(msg)
    return recorder
