"""Writers in separate processes append to shared aggregates while readers follow
the log: positions appear once, in order, never below one already read, and a
conflicting version is refused rather than overwritten."""

from __future__ import annotations

import multiprocessing
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import IntegrityError, Notification, StoredEvent
from parley.eventstore.datastore import MongoDatastore
from parley.eventstore.recorders import MongoApplicationRecorder
from pymongo import MongoClient, monitoring
from testkit.writers import append_racing

WRITERS = 4
APPENDS_PER_WRITER = 60


@pytest.fixture
def recorder(mongo_uri: str, database_name: str) -> MongoApplicationRecorder:
    datastore = MongoDatastore(mongo_uri, database_name)
    recorder = MongoApplicationRecorder(datastore, "stored_events", poll_interval=0.2)
    recorder.create_indexes()
    return recorder


def test_racing_writer_processes_leave_one_ordered_log(
    recorder: MongoApplicationRecorder, mongo_uri: str, database_name: str
) -> None:
    originators = [str(uuid4()) for _ in range(3)]  # few aggregates: writers collide
    followed: list[Notification] = []
    polled_ids: list[int] = []
    done = threading.Event()

    def follow() -> None:
        with recorder.subscribe(gt=0) as subscription:
            for notification in subscription:
                followed.append(notification)
                if done.is_set() and notification.id == recorder.max_notification_id():
                    return

    def poll_contiguously() -> None:
        # Reads from just past what it has seen: any id that became visible before
        # a lower one would show up here as a gap.
        last = 0
        while not done.is_set() or last < (recorder.max_notification_id() or 0):
            page = recorder.select_notifications(last + 1, 50)
            assert [n.id for n in page] == list(range(last + 1, last + 1 + len(page)))
            polled_ids.extend(n.id for n in page)
            if page:
                last = page[-1].id

    follower = threading.Thread(target=follow, daemon=True)
    poller = threading.Thread(target=poll_contiguously, daemon=True)
    follower.start()
    poller.start()

    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=WRITERS, mp_context=spawn) as pool:
        futures = [
            pool.submit(
                append_racing, mongo_uri, database_name, writer, originators, APPENDS_PER_WRITER
            )
            for writer in range(WRITERS)
        ]
        results = [future.result(timeout=240) for future in futures]
    done.set()
    # Wake the follower if it is waiting for a change that already happened.
    recorder.insert_events([StoredEvent(uuid4(), 1, "end", b"")])
    follower.join(timeout=60)
    poller.join(timeout=60)
    assert not follower.is_alive()
    assert not poller.is_alive()

    total = recorder.max_notification_id()
    assert total is not None
    # The follower saw every position exactly once, strictly increasing.
    ids = [n.id for n in followed]
    assert ids == list(range(1, total + 1))
    assert polled_ids == list(range(1, len(polled_ids) + 1))

    # Every write a writer was told succeeded is stored exactly as it wrote it:
    # losing writers got IntegrityError, nobody overwrote anybody.
    written = {(o, v): state for stored, _ in results for (o, v, state) in stored}
    assert len(written) == sum(len(stored) for stored, _ in results)
    for originator in originators:
        events = recorder.select_events(originator_id=UUID(originator))
        assert [e.originator_version for e in events] == list(range(1, len(events) + 1))
        for event in events:
            assert written[(originator, event.originator_version)] == event.state
    assert sum(len(stored) for stored, _ in results) == total - 1  # minus the "end" event
    assert sum(conflicts for _, conflicts in results) > 0, "writers never collided"


def test_a_conflicting_version_is_refused_and_the_stored_event_kept(
    recorder: MongoApplicationRecorder,
) -> None:
    originator = uuid4()
    recorder.insert_events([StoredEvent(originator, 1, "t", b"first")])
    with pytest.raises(IntegrityError):
        recorder.insert_events(
            [StoredEvent(originator, 2, "t", b"new"), StoredEvent(originator, 1, "t", b"second")]
        )
    assert [(e.originator_version, e.state) for e in recorder.select_events(originator)] == [
        (1, b"first")
    ]
    # The refused transaction consumed no position.
    assert recorder.max_notification_id() == 1
    assert recorder.insert_events([StoredEvent(originator, 2, "t", b"next")]) == [2]


def test_a_follower_without_wake_ups_still_catches_up_by_polling(
    recorder: MongoApplicationRecorder,
) -> None:
    from parley.eventstore.subscription import MongoSubscription

    subscription = MongoSubscription(recorder, gt=0, poll_interval=0.2, use_change_stream=False)
    with subscription:
        recorder.insert_events([StoredEvent(uuid4(), 1, "t", b"a")])
        assert next(subscription).id == 1
        recorder.insert_events([StoredEvent(uuid4(), 1, "t", b"b")])
        assert next(subscription).id == 2


def test_a_topic_filtered_follower_skips_other_events(recorder: MongoApplicationRecorder) -> None:
    wanted = uuid4()
    for index in range(30):
        recorder.insert_events([StoredEvent(uuid4(), 1, "noise", b"")])
        if index % 10 == 9:
            recorder.insert_events([StoredEvent(wanted, index, "wanted", b"")])
    with recorder.subscribe(gt=0, topics=["wanted"]) as subscription:
        seen = [next(subscription) for _ in range(3)]
    assert [n.topic for n in seen] == ["wanted"] * 3
    assert [n.id for n in seen] == sorted(n.id for n in seen)


def test_a_burst_of_writes_reaches_a_settling_follower_as_one_page(
    recorder: MongoApplicationRecorder,
) -> None:
    from parley.eventstore.subscription import MongoSubscription

    class PageCounting(MongoSubscription):
        pages: list[int]

        def _put(self, notifications: list[Notification]) -> bool:
            self.pages.append(len(notifications))
            return super()._put(notifications)

    PageCounting.pages = []
    recorder.insert_events([StoredEvent(uuid4(), 1, "t", b"first")])
    with PageCounting(recorder, gt=0, settle=1.0, poll_interval=30) as subscription:
        assert next(subscription).id == 1
        for _ in range(10):  # one wake-up, then the follower settles
            recorder.insert_events([StoredEvent(uuid4(), 1, "t", b"burst")])
        seen = [next(subscription).id for _ in range(10)]
    assert seen == list(range(2, 12))
    assert PageCounting.pages[0] == 1
    assert len(PageCounting.pages) < 11, "every write of the burst was read on its own"


def test_a_burst_of_writes_costs_the_watcher_a_few_round_trips_not_one_each(
    recorder: MongoApplicationRecorder,
) -> None:
    from parley.eventstore.subscription import MongoSubscription

    class GetMores(monitoring.CommandListener):
        count = 0

        def started(self, event: monitoring.CommandStartedEvent) -> None:
            if event.command_name == "getMore" and event.command.get("collection") == (
                recorder.counters.name
            ):
                GetMores.count += 1

        def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
            return None

        def failed(self, event: monitoring.CommandFailedEvent) -> None:
            return None

    client: MongoClient[dict[str, Any]] = MongoClient(
        recorder.datastore.uri, uuidRepresentation="standard", event_listeners=[GetMores()]
    )
    follower = MongoApplicationRecorder(
        MongoDatastore(recorder.datastore.uri, recorder.datastore.database_name, client=client),
        "stored_events",
    )
    recorder.insert_events([StoredEvent(uuid4(), 1, "t", b"first")])
    with MongoSubscription(follower, gt=0, settle=0.25, poll_interval=30) as subscription:
        assert next(subscription).id == 1
        GetMores.count = 0
        for _ in range(60):  # writes spread over several settle periods
            recorder.insert_events([StoredEvent(uuid4(), 1, "t", b"burst")])
            time.sleep(0.01)
        assert [next(subscription).id for _ in range(60)] == list(range(2, 62))
    client.close()
    # Each getMore waits for the next write; asked at once, it would bring one each.
    assert GetMores.count < 20, f"{GetMores.count} getMores for 60 writes"


def test_processes_starting_together_all_set_up_the_store(
    mongo_uri: str, database_name: str
) -> None:
    barrier = threading.Barrier(6)
    errors: list[BaseException] = []

    def start() -> None:
        recorder = MongoApplicationRecorder(MongoDatastore(mongo_uri, database_name), "events")
        barrier.wait()
        try:
            recorder.create_indexes()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
