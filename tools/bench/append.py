"""Event append: Parley's recorder against the same writes done raw with pymongo.

    python -m parley.tools.bench.append [--events 20000] [--rounds 4] [--uri URI]

Three ways of writing one event per transaction-or-insert, on the same server in
the same run, interleaved in rounds so drift on a shared machine hits all alike:

* recorder:  `MongoApplicationRecorder.insert_events([event])` (what every
  aggregate save does: counter increment and insert in one transaction);
* raw txn:   the same counter `$inc` and `insert_one` in one pymongo transaction;
* insert_one: a bare insert, for reference.

Prints each rate and the overhead raw/recorder (target: at most 1.3x). Without
`--uri` it starts its own embedded server in a temporary folder.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from eventsourcing.persistence import StoredEvent
from parley.eventstore.datastore import MongoDatastore
from parley.eventstore.embedded import EmbeddedServer
from parley.eventstore.recorders import MongoApplicationRecorder
from pymongo import MongoClient, ReturnDocument
from pymongo.client_session import ClientSession
from pymongo.write_concern import WriteConcern

STATE = b'{"text":"' + b"x" * 180 + b'"}'  # about the size of a received message


def bench(uri: str, events: int, rounds: int) -> dict[str, float]:
    database = f"bench_append_{uuid.uuid4().hex[:8]}"
    datastore = MongoDatastore(uri, database)
    recorder = MongoApplicationRecorder(datastore, "bench_events")
    recorder.create_indexes()
    client: MongoClient[dict[str, object]] = MongoClient(uri, uuidRepresentation="standard")
    db = client.get_database(database, write_concern=WriteConcern("majority"))
    raw_events, raw_counters, plain = db["raw_events"], db["raw_counters"], db["plain_events"]
    raw_events.create_index([("originator_id", 1), ("originator_version", 1)], unique=True)
    raw_events.create_index([("log", 1), ("notification_id", 1)], unique=True)
    plain.create_index([("originator_id", 1), ("originator_version", 1)], unique=True)
    raw_counters.update_one({"_id": "main"}, {"$setOnInsert": {"value": 0}}, upsert=True)

    def through_recorder() -> None:
        recorder.insert_events([StoredEvent(uuid.uuid4(), 1, "bench.Event", STATE)])

    def raw_transaction() -> None:
        document = {
            "originator_id": uuid.uuid4(),
            "originator_version": 1,
            "topic": "bench.Event",
            "state": STATE,
        }

        def write(session: ClientSession) -> None:
            counter = raw_counters.find_one_and_update(
                {"_id": "main"},
                {"$inc": {"value": 1}},
                return_document=ReturnDocument.AFTER,
                session=session,
            )
            assert counter is not None
            document["log"] = "main"
            document["notification_id"] = counter["value"]
            raw_events.insert_one(document, session=session)

        with client.start_session() as session:
            session.with_transaction(write)

    def insert_one() -> None:
        plain.insert_one(
            {
                "originator_id": uuid.uuid4(),
                "originator_version": 1,
                "topic": "bench.Event",
                "state": STATE,
            }
        )

    modes: dict[str, Callable[[], None]] = {
        "recorder": through_recorder,
        "raw txn": raw_transaction,
        "insert_one": insert_one,
    }
    spent = dict.fromkeys(modes, 0.0)
    per_round = max(1, events // rounds)
    for mode in modes.values():  # warm up connections and caches
        for _ in range(50):
            mode()
    for _ in range(rounds):
        for name, mode in modes.items():
            started = time.perf_counter()
            for _ in range(per_round):
                mode()
            spent[name] += time.perf_counter() - started
    client.drop_database(database)
    client.close()
    datastore.close()
    return {name: per_round * rounds / seconds for name, seconds in spent.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000, help="events per mode")
    parser.add_argument("--rounds", type=int, default=4, help="interleaved rounds")
    parser.add_argument("--uri", help="an existing replica set (default: own embedded server)")
    args = parser.parse_args()
    if args.events < 1 or args.rounds < 1:
        parser.error("--events and --rounds must be positive")

    folder = None
    server = None
    uri = args.uri
    if uri is None:
        folder = Path(tempfile.mkdtemp(prefix="parley-bench-"))
        server = EmbeddedServer(folder)
        uri = server.ensure_running()
    try:
        rates = bench(uri, args.events, args.rounds)
    finally:
        if server is not None:
            server.stop()
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
    print(f"events per mode: {args.events} in {args.rounds} interleaved rounds")
    for name, rate in rates.items():
        print(f"  {name:<11} {rate:8.0f} events/s")
    overhead = rates["raw txn"] / rates["recorder"]
    print(f"overhead recorder vs raw transaction: {overhead:.2f}x (target <= 1.30x)")
    print(f"transaction cost vs bare insert_one: {rates['insert_one'] / rates['raw txn']:.2f}x")


if __name__ == "__main__":
    main()
