"""Saves made from many threads at once share transactions, yet each keeps its
own atomicity and its own outcome."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from uuid import uuid4

import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent
from parley.eventstore.datastore import MongoDatastore
from parley.eventstore.group_commit import GroupCommit, PendingSave
from parley.eventstore.recorders import MongoApplicationRecorder, UniqueKeyTaken


class SlowLog:
    """A stand-in writer: numbers documents like the counter does, slowly, and
    refuses any group holding a document marked as conflicting."""

    def __init__(self) -> None:
        self.next_id = 1
        self.groups: list[int] = []
        self.lock = threading.Lock()

    def write(self, saves: Sequence[PendingSave]) -> list[list[int]]:
        with self.lock:  # one transaction at a time, as on the counter document
            time.sleep(0.01)
            if any(d.get("conflict") for save in saves for d in save.documents):
                raise IntegrityError("version conflict")
            self.groups.append(len(saves))
            result = []
            for save in saves:
                result.append(list(range(self.next_id, self.next_id + len(save.documents))))
                self.next_id += len(save.documents)
            return result


def test_concurrent_saves_share_transactions_and_each_gets_its_own_ids() -> None:
    log = SlowLog()
    commit = GroupCommit(log.write)
    sizes = [1 + index % 3 for index in range(60)]

    def save(size: int) -> list[int]:
        return commit.submit(PendingSave([{"n": i} for i in range(size)], ()))

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(save, sizes))

    assert [len(ids) for ids in results] == sizes
    every_id = sorted(i for ids in results for i in ids)
    assert every_id == list(range(1, sum(sizes) + 1))
    assert all(ids == list(range(ids[0], ids[0] + len(ids))) for ids in results)
    assert sum(log.groups) == 60
    assert len(log.groups) < 60, "no save ever shared a transaction"


def test_a_conflicting_save_fails_alone_and_its_group_is_written_without_it() -> None:
    log = SlowLog()
    commit = GroupCommit(log.write)
    outcomes: dict[int, object] = {}
    barrier = threading.Barrier(12)

    def save(index: int) -> None:
        barrier.wait()
        try:
            outcomes[index] = commit.submit(PendingSave([{"n": index, "conflict": index == 5}], ()))
        except IntegrityError as exc:
            outcomes[index] = exc

    threads = [threading.Thread(target=save, args=(i,)) for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert isinstance(outcomes[5], IntegrityError)
    written = [outcomes[i] for i in range(12) if i != 5]
    assert all(isinstance(ids, list) and len(ids) == 1 for ids in written)
    assert sorted(ids[0] for ids in written) == list(range(1, 12))  # type: ignore[index]


def test_a_failure_of_the_store_reaches_every_save_of_the_group() -> None:
    def broken(saves: Sequence[PendingSave]) -> list[list[int]]:
        time.sleep(0.01)
        raise OSError("the database is away")

    commit = GroupCommit(broken)

    def save(index: int) -> str:
        try:
            commit.submit(PendingSave([{"n": index}], ()))
        except OSError as exc:
            return str(exc)
        return "written"

    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(save, range(20))) == {"the database is away"}


@pytest.fixture
def recorder(mongo_uri: str, database_name: str) -> MongoApplicationRecorder:
    datastore = MongoDatastore(mongo_uri, database_name)
    recorder = MongoApplicationRecorder(datastore, "stored_events")
    recorder.create_indexes()
    return recorder


def test_many_threads_saving_leave_one_ordered_log_and_conflicts_fail_alone(
    recorder: MongoApplicationRecorder,
) -> None:
    shared = uuid4()
    recorder.insert_events([StoredEvent(shared, 1, "t", b"first")])

    def save(index: int) -> object:
        events = [StoredEvent(uuid4(), 1, "t", f"{index}".encode())]
        if index % 10 == 0:  # these race for version 2 of one aggregate
            events.append(StoredEvent(shared, 2, "t", f"{index}".encode()))
        keys = [f"key/{index}", "key/taken"] if index == 7 else [f"key/{index}"]
        try:
            return recorder.insert_events(events, unique_keys=keys)
        except UniqueKeyTaken:
            return "key taken"
        except IntegrityError:
            return "conflict"

    recorder.insert_events([StoredEvent(uuid4(), 1, "t", b"")], unique_keys=["key/taken"])
    with ThreadPoolExecutor(16) as pool:
        outcomes = list(pool.map(save, range(80)))

    assert outcomes[7] == "key taken"
    racers = [outcomes[i] for i in range(0, 80, 10)]
    assert sum(1 for outcome in racers if outcome == "conflict") == len(racers) - 1
    written = [o for o in outcomes if isinstance(o, list)]
    assert len(written) == 80 - 1 - (len(racers) - 1)
    total = recorder.max_notification_id()
    assert total == 2 + sum(len(ids) for ids in written)
    page = recorder.select_notifications(1, 1000)
    assert [n.id for n in page] == list(range(1, total + 1))
    # A failed save claimed nothing, though its group was refused whole at first.
    assert not recorder.key_claimed("key/7")
    for index in range(0, 80, 10):
        assert recorder.key_claimed(f"key/{index}") == (outcomes[index] != "conflict")
