"""Projector catch-up: every read model built from an existing log, against a raw
scan of the same log, on the same server in the same run.

    python -m parley.tools.bench.projector [--events 100000] [--conversations 1000]
        [--batch-size 2000] [--rounds 2] [--uri URI] [--database NAME]

Writes a realistic history of `--events` events through the write side
(`parley.tools.history`; this takes a few minutes for 100,000, and is not
measured), then measures, in interleaved rounds:

* raw scan:  every event document of the log read with a plain pymongo cursor;
* catch-up:  `parley.projections.runner.Projector` running all five projections
  from empty read models until every checkpoint reaches the head of the log.

Prints both rates and their ratio (target: catch-up at least 3,000 events/s).
Without `--uri` it starts its own embedded server in a temporary folder; with
`--database` an existing log there is reused (and a missing one written).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from parley.domain.application import ParleyApp
from parley.eventstore.embedded import EmbeddedServer
from parley.eventstore.factory import factory_settings
from parley.eventstore.recorders import MongoApplicationRecorder
from parley.projections.applier import upstream_name
from parley.projections.lease import LEASES
from parley.projections.registry import PROJECTION_NAMES, build_view
from parley.projections.runner import Projector
from parley.projections.settings import ProjectorSettings
from parley.tools.history import write_history

TARGET = 3_000


def recorder_of(app: ParleyApp) -> MongoApplicationRecorder:
    recorder = app.recorder
    assert isinstance(recorder, MongoApplicationRecorder)
    return recorder


def ensure_history(app: ParleyApp, events: int, conversations: int) -> tuple[int, float]:
    recorder = recorder_of(app)
    have = recorder.max_notification_id() or 0
    if have >= events:
        return have, 0.0
    started = time.perf_counter()
    last_shown = 0.0

    def show(position: int) -> None:
        nonlocal last_shown
        now = time.perf_counter()
        if now - last_shown >= 5:
            last_shown = now
            rate = position / (now - started)
            print(f"  writing history: {position:,}/{events:,} ({rate:,.0f}/s)", file=sys.stderr)

    report = write_history(
        app, events=events, conversations=conversations, seed=2026, on_progress=show
    )
    return report.events, time.perf_counter() - started


def raw_scan(app: ParleyApp) -> float:
    """Events per second reading every event document with a plain cursor."""
    recorder = recorder_of(app)
    started = time.perf_counter()
    count = sum(1 for _ in recorder.events.find({"log": recorder.log_name}, batch_size=1000))
    return count / (time.perf_counter() - started)


def catch_up(app: ParleyApp, head: int, batch_size: int, cache_size: int) -> float:
    """Events per second for all projections, from empty read models to `head`."""
    recorder = recorder_of(app)
    datastore = recorder.datastore
    views = [build_view(datastore, name) for name in PROJECTION_NAMES]
    for view in views:
        view.drop()
    datastore.db[LEASES].drop()
    projector = Projector(
        app,
        ProjectorSettings(
            batch_size=batch_size, lease_seconds=60, poll_interval=0.5, cache_size=cache_size
        ),
    )
    upstream = upstream_name(app.name, recorder.log_name)
    runner = threading.Thread(target=projector.run, name="bench-projector")
    started = time.perf_counter()
    runner.start()
    try:
        while min(view.max_tracking_id(upstream) or 0 for view in views) < head:
            time.sleep(0.02)
        return head / (time.perf_counter() - started)
    finally:
        projector.stop()
        runner.join(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000, help="events in the log")
    parser.add_argument("--conversations", type=int, default=1_000, help="chats in the history")
    parser.add_argument(
        "--batch-size",
        type=int,
        default=ProjectorSettings().batch_size,
        help="events per transaction (default: the projector's)",
    )
    parser.add_argument(
        "--cache-size",
        type=int,
        default=ProjectorSettings().cache_size,
        help="read-model documents cached per collection (default: the projector's)",
    )
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds")
    parser.add_argument("--uri", help="an existing replica set (default: own embedded server)")
    parser.add_argument("--database", help="reuse (or keep) the log in this database")
    args = parser.parse_args()
    if min(args.events, args.conversations, args.batch_size, args.rounds, args.cache_size) < 1:
        parser.error(
            "--events, --conversations, --batch-size, --cache-size and --rounds must be positive"
        )

    folder = server = None
    uri = args.uri
    if uri is None:
        folder = Path(tempfile.mkdtemp(prefix="parley-bench-"))
        server = EmbeddedServer(folder)
        uri = server.ensure_running()
    database = args.database or f"bench_projector_{uuid.uuid4().hex[:8]}"
    app = ParleyApp(env=factory_settings(uri, database))
    try:
        head, writing = ensure_history(app, args.events, args.conversations)
        scans, catch_ups = [], []
        for _ in range(args.rounds):
            scans.append(raw_scan(app))
            catch_ups.append(catch_up(app, head, args.batch_size, args.cache_size))
        scans.append(raw_scan(app))
    finally:
        if args.database is None:
            recorder_of(app).datastore.client.drop_database(database)
        app.close()
        if server is not None:
            server.stop()
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)

    scan = sum(scans) / len(scans)
    projected = sum(catch_ups) / len(catch_ups)
    if writing:
        print(f"history: {head:,} events written in {writing:.0f}s ({head / writing:,.0f}/s)")
    else:
        print(f"history: {head:,} events (reused)")
    print(
        f"projections: {', '.join(PROJECTION_NAMES)}; batch size {args.batch_size}, "
        f"cache {args.cache_size:,} documents per collection"
    )
    print(f"  raw scan   {scan:10,.0f} events/s  (mean of {len(scans)})")
    rounds = ", ".join(f"{rate:,.0f}" for rate in catch_ups)
    print(f"  catch-up   {projected:10,.0f} events/s  (rounds: {rounds})")
    print(f"catch-up / raw scan: {projected / scan:.2f}")
    verdict = "meets" if projected >= TARGET else "misses"
    print(f"catch-up {verdict} the target of {TARGET:,} events/s")


if __name__ == "__main__":
    main()
