"""The database's own speed in the same run, measured before the traffic starts, so
the run's figures can be read against what this server does on this machine now
(a shared machine's speed changes from hour to hour).

One client thread, nothing else running against the server: one-event
transactions through Parley's recorder (what every save pays), reads of an
aggregate's new events (what every load pays), and a bare insert.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from eventsourcing.persistence import StoredEvent
from parley.eventstore.datastore import MongoDatastore
from parley.eventstore.recorders import MongoApplicationRecorder

DATABASE = "soak_baseline"
STATE = b'{"text":"' + b"x" * 300 + b'"}'  # about the size of a received message


@dataclass(frozen=True)
class ServerBaseline:
    transactions_per_s: float
    reads_per_s: float
    inserts_per_s: float


def measure(uri: str, seconds: float = 2.0) -> ServerBaseline:
    datastore = MongoDatastore(uri, DATABASE)
    try:
        recorder = MongoApplicationRecorder(datastore, "baseline_events")
        recorder.create_indexes()
        aggregate = uuid.uuid4()
        recorder.insert_events([StoredEvent(aggregate, 1, "baseline", STATE)])
        plain = datastore.db["baseline_plain"]
        return ServerBaseline(
            transactions_per_s=_rate(
                lambda: recorder.insert_events([StoredEvent(uuid.uuid4(), 1, "baseline", STATE)]),
                seconds,
            ),
            reads_per_s=_rate(lambda: recorder.select_events(aggregate, gt=1), seconds),
            inserts_per_s=_rate(lambda: plain.insert_one({"state": STATE}), seconds),
        )
    finally:
        datastore.client.drop_database(DATABASE)
        datastore.close()


def _rate(operation: Callable[[], object], seconds: float) -> float:
    count = 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        operation()
        count += 1
    return count / (time.perf_counter() - started)
