"""A batch commits with its checkpoint or not at all; a lease keeps one writer."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from eventsourcing.persistence import Tracking
from parley.domain.application import ParleyApp
from parley.projections.applier import BatchApplier, upstream_name
from parley.projections.lease import LeaseLost, LeaseStore, current_leases, lease_id
from parley.projections.registry import build_projections
from parley.projections.replay import build
from parley.projections.view import CheckpointMoved
from testkit.readmodels import T0, inbound, make_app

UPSTREAM = upstream_name("parley", "main")


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2025, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def app(mongo_uri: str, database_name: str) -> Iterator[ParleyApp]:
    application = make_app(mongo_uri, database_name)
    for number in range(3):
        application.receive(inbound("4915100000001@c.us", f"w{number}", f"message {number}", T0))
    yield application
    application.close()


def _threads(app: ParleyApp) -> list:  # type: ignore[type-arg]
    projections = build_projections(app.recorder.datastore, ["threads"])
    projections[0].view.create_indexes()
    return projections


def test_a_second_writer_from_the_same_checkpoint_cannot_commit(app: ParleyApp) -> None:
    (first,) = _threads(app)
    (second,) = _threads(app)
    applier = BatchApplier(UPSTREAM, app.mapper)
    page = list(app.recorder.select_notifications(1, 100))
    events = applier.decode(page)
    assert first.view.position(UPSTREAM) == second.view.position(UPSTREAM) == 0
    applier.apply(first, page, events)
    with pytest.raises(CheckpointMoved):
        applier.apply(second, page, events)
    thread = app.recorder.datastore.db.rm_threads.find_one({})
    assert thread is not None
    assert thread["counts"]["inbound"] == 3
    # The loser forgot what it had cached and knows the new checkpoint on reload.
    assert second.view.position(UPSTREAM) == page[-1].id


def test_an_overlapping_batch_is_refused_even_when_it_ends_further_on(app: ParleyApp) -> None:
    (first,) = _threads(app)
    (second,) = _threads(app)
    applier = BatchApplier(UPSTREAM, app.mapper)
    page = list(app.recorder.select_notifications(1, 100))
    events = applier.decode(page)
    second.view.position(UPSTREAM)  # it read checkpoint 0 before the other wrote
    applier.apply(first, page[:5], events[:5])
    with pytest.raises(CheckpointMoved):
        applier.apply(second, page, events)  # 1..N from 0, though the other is at 5
    applier.apply(second, page, events)  # after reloading: applies 6..N only
    thread = app.recorder.datastore.db.rm_threads.find_one({})
    assert thread is not None
    assert thread["counts"]["inbound"] == 3


def test_a_handler_error_leaves_the_view_as_last_committed(app: ParleyApp) -> None:
    (projection,) = _threads(app)
    applier = BatchApplier(UPSTREAM, app.mapper)
    page = list(app.recorder.select_notifications(1, 100))
    events = applier.decode(page)
    applier.apply(projection, page[:3], events[:3])

    class Boom(Exception):
        pass

    def explode(event: object, tracking: Tracking) -> None:
        raise Boom

    projection.process_event = explode  # type: ignore[method-assign]
    with pytest.raises(Boom):
        applier.apply(projection, page, events)
    del projection.process_event
    assert projection.view.pending_writes == 0
    assert projection.view.max_tracking_id(UPSTREAM) == page[2].id
    build(app, [projection])
    thread = app.recorder.datastore.db.rm_threads.find_one({})
    assert thread is not None
    assert thread["counts"]["inbound"] == 3


def test_a_lease_is_taken_once_renewed_and_taken_over_after_expiry(app: ParleyApp) -> None:
    clock = FakeClock()
    db = app.recorder.datastore.db
    one = LeaseStore(db, "one", lease_seconds=10, clock=clock)
    two = LeaseStore(db, "two", lease_seconds=10, clock=clock)
    lease = lease_id("threads", "main")
    assert one.acquire(lease)
    assert not two.acquire(lease)
    clock.now += timedelta(seconds=8)
    assert one.renew(lease)
    clock.now += timedelta(seconds=8)
    assert not two.acquire(lease)  # renewed 8 s ago: still one's
    clock.now += timedelta(seconds=3)
    assert two.acquire(lease)
    assert not one.renew(lease)
    assert current_leases(db, clock.now)[lease].holder == "two"
    two.release(lease)
    assert lease not in current_leases(db, clock.now)


def test_a_holder_that_lost_its_lease_cannot_commit(app: ParleyApp) -> None:
    db = app.recorder.datastore.db
    (projection,) = _threads(app)
    applier = BatchApplier(UPSTREAM, app.mapper)
    mine = LeaseStore(db, "projector-a", lease_seconds=30)
    replay = LeaseStore(db, "replay-b", lease_seconds=30)
    lease = lease_id("threads", "main")
    assert mine.acquire(lease)
    replay.force(lease)
    page = list(app.recorder.select_notifications(1, 100))
    with pytest.raises(LeaseLost):
        applier.apply(projection, page, applier.decode(page), mine.fence(lease))
    assert db.rm_threads.count_documents({}) == 0
    assert projection.view.max_tracking_id(UPSTREAM) is None
    assert current_leases(db)[lease].holder == "replay-b"
