"""A process killed inside a transaction leaves it open on the server, holding the
log's counter document; the next process to start frees it at once instead of
every writer waiting out the server's transaction lifetime."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from uuid import uuid4

from eventsourcing.persistence import StoredEvent
from parley.eventstore.datastore import MongoDatastore
from parley.eventstore.recorders import MongoApplicationRecorder
from parley.eventstore.sessions import COLLECTION

# Opens a transaction that increments the log's counter, says so, and hangs.
STUCK_WRITER = """
import sys, time
from parley.eventstore.datastore import MongoDatastore
from parley.eventstore.recorders import MongoApplicationRecorder
datastore = MongoDatastore(sys.argv[1], sys.argv[2])
recorder = MongoApplicationRecorder(datastore, "events")
def hang(session):
    recorder.counters.update_one({"_id": "main"}, {"$inc": {"value": 1}}, session=session)
    print("holding", flush=True)
    time.sleep(600)
datastore.transaction(hang)
"""


def test_a_killed_writers_open_transaction_does_not_stall_the_next_process(
    mongo_uri: str, database_name: str
) -> None:
    setup = MongoApplicationRecorder(MongoDatastore(mongo_uri, database_name), "events")
    setup.create_indexes()
    stuck = subprocess.Popen(
        [sys.executable, "-c", STUCK_WRITER, mongo_uri, database_name],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert stuck.stdout is not None
        assert stuck.stdout.readline().strip() == "holding"
        stuck.send_signal(signal.SIGKILL)
        stuck.wait(timeout=30)
        assert setup.datastore.db[COLLECTION].count_documents({"pid": stuck.pid}) == 1

        # A process starting now: its first save must not wait for the server to
        # reap the dead transaction (60 s), nor fail after its own 30 s of retries.
        restarted = MongoApplicationRecorder(
            MongoDatastore(mongo_uri, database_name, transaction_timeout=20), "events"
        )
        started = time.monotonic()
        ids = restarted.insert_events([StoredEvent(uuid4(), 1, "t", b"after the crash")])
        assert ids == [1]
        assert time.monotonic() - started < 20  # only a hang guard; the save succeeded
        assert setup.datastore.db[COLLECTION].count_documents({"pid": stuck.pid}) == 0
    finally:
        if stuck.poll() is None:
            stuck.kill()
        stuck.wait(timeout=30)


CLEAN_WRITER = """
import sys
from uuid import uuid4
from eventsourcing.persistence import StoredEvent
from parley.eventstore.datastore import MongoDatastore
from parley.eventstore.recorders import MongoApplicationRecorder
datastore = MongoDatastore(sys.argv[1], sys.argv[2])
MongoApplicationRecorder(datastore, "events").insert_events([StoredEvent(uuid4(), 1, "t", b"x")])
datastore.close()
"""


def test_a_cleanly_stopped_process_is_cleaned_up_by_the_next_start(
    mongo_uri: str, database_name: str
) -> None:
    setup = MongoApplicationRecorder(MongoDatastore(mongo_uri, database_name), "events")
    setup.create_indexes()
    writer = subprocess.run(
        [sys.executable, "-c", CLEAN_WRITER, mongo_uri, database_name], timeout=120, check=True
    )
    assert writer.returncode == 0
    ledger = setup.datastore.db[COLLECTION]
    # Closing talked to nobody (it may run inside the garbage collector) ...
    assert ledger.count_documents({"host": setup.datastore.sessions.host}) == 1
    # ... and the next process to start forgets the record of the one that is gone.
    assert setup.datastore.sessions.clear_dead() == 1
    assert ledger.count_documents({}) == 0
    setup.datastore.close()
