"""`parley projector` as a real process: killed mid catch-up, run twice at once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from parley.domain.application import ParleyApp
from parley.projections.lease import LEASES, current_leases, lease_id
from parley.projections.registry import PROJECTION_NAMES
from testkit.live import LiveHistory, positions
from testkit.processes import ParleyProcess, parley_env
from testkit.readmodels import T0, inbound, project, read_model, wait_for


def holder_pid(holder: str) -> int:
    return int(holder.split(":")[2])  # projector:<host>:<pid>:<token>


@pytest.fixture(autouse=True)
def end_killed_transactions(log_copy: ParleyApp) -> Iterator[None]:
    """A projector killed mid-commit leaves its transaction open on the server,
    and the embedded server blocks dropping the database behind it for good; a
    projector taking the lease over ends it, but a failing test may not get that
    far, so end the sessions the leases name before the database is dropped."""
    yield
    db = log_copy.recorder.datastore.db
    sessions = [s for lease in db[LEASES].find() for s in lease.get("sessions", [])]
    if sessions:
        db.client.admin.command("killSessions", sessions, codec_options=db.codec_options)


def test_a_projector_killed_during_catch_up_resumes_and_counts_nothing_twice(
    live_history: LiveHistory,
    log_copy: ParleyApp,
    mongo_uri: str,
    database_name: str,
    tmp_path: Path,
) -> None:
    head = live_history.report.events
    env = parley_env(
        mongo_uri,
        database_name,
        tmp_path,
        PARLEY_PROJECTOR_BATCH_SIZE="50",
        PARLEY_PROJECTOR_LEASE_SECONDS="1",
    )
    reached: list[list[int]] = []
    for round_number, share in enumerate((0.15, 0.4, 0.65)):
        process = ParleyProcess(["projector"], env, tmp_path, f"killed-{round_number}")
        try:
            wait_for(
                lambda share=share: max(positions(log_copy)) >= head * share,  # type: ignore[misc]
                timeout=90,
                what=f"catch-up past {share:.0%}",
            )
        finally:
            process.kill()
            process.close()
        reached.append(positions(log_copy))
        assert min(reached[-1]) < head, "the kill came after the catch-up"
    assert max(reached[0]) < max(reached[1]) < max(reached[2])

    final = ParleyProcess(["projector"], env, tmp_path, "final")
    try:
        wait_for(lambda: min(positions(log_copy)) == head, timeout=90, what="the final catch-up")
        assert final.terminate() == 0
    finally:
        final.close()
    for name in PROJECTION_NAMES:
        assert read_model(log_copy, name) == read_model(live_history.app, name), name


def test_two_projectors_never_apply_one_projection_and_the_survivor_takes_over(
    log_copy: ParleyApp, mongo_uri: str, database_name: str, tmp_path: Path
) -> None:
    db = log_copy.recorder.datastore.db
    env = parley_env(
        mongo_uri,
        database_name,
        tmp_path,
        PARLEY_PROJECTOR_BATCH_SIZE="300",
        PARLEY_PROJECTOR_LEASE_SECONDS="1.5",
        PARLEY_PROJECTOR_POLL_INTERVAL="0.2",
    )
    first = ParleyProcess(["projector"], env, tmp_path, "first")
    second = ParleyProcess(["projector"], env, tmp_path, "second")
    processes = {first.pid: first, second.pid: second}
    try:
        head = log_copy.recorder.max_notification_id()
        wait_for(lambda: min(positions(log_copy)) == head, timeout=90, what="the catch-up")
        assert first.process.poll() is None
        assert second.process.poll() is None
        leases = current_leases(db)
        owner = {
            name: holder_pid(leases[lease_id(name, "main")].holder) for name in PROJECTION_NAMES
        }
        assert set(owner.values()) <= set(processes)
        for pid, process in processes.items():
            applied = {
                line["projection"] for line in process.log_lines() if line["msg"] == "batch applied"
            }
            assert applied == {name for name, holder in owner.items() if holder == pid}

        victim = processes[owner["threads"]]
        survivor = second if victim is first else first
        victim_held = {name for name, pid in owner.items() if pid == victim.pid}
        victim.kill()
        for number in range(5):
            log_copy.receive(
                inbound(
                    "4915100000077@c.us",
                    f"after-{number}",
                    "still there?",
                    T0 + timedelta(minutes=number),
                )
            )
        new_head = log_copy.recorder.max_notification_id()
        wait_for(lambda: min(positions(log_copy)) == new_head, timeout=60, what="the take-over")
        now_held = current_leases(db)
        assert len(now_held) == len(PROJECTION_NAMES)
        assert {holder_pid(lease.holder) for lease in now_held.values()} == {survivor.pid}
        acquired = {
            line["projection"]
            for line in survivor.log_lines()
            if line["msg"] == "projection acquired"
        }
        assert victim_held <= acquired
        assert survivor.terminate() == 0
        assert current_leases(db) == {}  # released on the way out
        assert any(line["msg"] == "projector stopped" for line in survivor.log_lines())
    finally:
        first.close()
        second.close()
    project(log_copy, suffix="__clean")
    for name in PROJECTION_NAMES:
        assert read_model(log_copy, name) == read_model(log_copy, name, suffix="__clean"), name
