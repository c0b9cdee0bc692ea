"""Writer processes for the event store's concurrency test (run under spawn)."""

from __future__ import annotations

import random
from uuid import UUID

from eventsourcing.persistence import IntegrityError, StoredEvent
from parley.eventstore.datastore import MongoDatastore
from parley.eventstore.recorders import MongoApplicationRecorder


def append_racing(
    uri: str, database: str, writer: int, originators: list[str], appends: int
) -> tuple[list[tuple[str, int, bytes]], int]:
    """Appends to shared aggregates at their next version, racing other writers.

    Returns what this writer stored (originator, version, state) and how many
    appends lost a race (raised IntegrityError) and were retried.
    """
    datastore = MongoDatastore(uri, database)
    recorder = MongoApplicationRecorder(datastore, "stored_events")
    rng = random.Random(writer)
    stored: list[tuple[str, int, bytes]] = []
    conflicts = 0
    try:
        while len(stored) < appends:
            originator = UUID(rng.choice(originators))
            last = recorder.select_events(originator, desc=True, limit=1)
            version = last[0].originator_version + 1 if last else 1
            batch = rng.choice((1, 1, 2, 3))
            events = [
                StoredEvent(
                    originator_id=originator,
                    originator_version=version + offset,
                    topic="race",
                    state=f"writer={writer};n={len(stored) + offset}".encode(),
                )
                for offset in range(batch)
            ]
            try:
                recorder.insert_events(events)
            except IntegrityError:
                conflicts += 1
                continue
            stored.extend(
                (str(originator), event.originator_version, event.state) for event in events
            )
        return stored, conflicts
    finally:
        datastore.close()
