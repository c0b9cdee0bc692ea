"""The embedded database: shared by every process of a data folder, survives a
restart with everything acknowledged, and refuses what cannot work."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from parley.eventstore.connection import open_client
from parley.eventstore.datastore import DatabaseSetupError
from parley.eventstore.embedded import EmbeddedServer, free_port, server_executable
from parley.eventstore.factory import factory_settings


class Note(Aggregate):
    @event("Written")
    def __init__(self, text: str) -> None:
        self.text = text
        self.edits: list[str] = []

    @event("Edited")
    def edit(self, text: str) -> None:
        self.edits.append(self.text)
        self.text = text


class Notes(Application[object]):
    pass


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[EmbeddedServer]:
    server = EmbeddedServer(tmp_path / "data")
    yield server
    server.stop(timeout=10)


def test_everything_written_reads_back_identical_after_a_restart(
    own_server: EmbeddedServer,
) -> None:
    uri = own_server.ensure_running()
    app = Notes(env=factory_settings(uri, "restart"))
    ids = []
    for index in range(50):
        note = Note(f"note {index} ✓ «quoted»")
        for edit in range(index % 4):
            note.edit(f"edit {edit} of {index}")
        app.save(note)
        ids.append(note.id)
    before = app.recorder.select_notifications(start=1, limit=10_000)
    states_before = {i: (app.repository.get(i).text, app.repository.get(i).edits) for i in ids}
    app.close()

    assert own_server.stop()
    assert own_server.status().state == "stopped"
    uri_after = own_server.ensure_running()

    app = Notes(env=factory_settings(uri_after, "restart"))
    try:
        after = app.recorder.select_notifications(start=1, limit=10_000)
        assert after == before
        assert {i: (app.repository.get(i).text, app.repository.get(i).edits) for i in ids} == (
            states_before
        )
        # And the log carries on from where it was.
        note = Note("after restart")
        app.save(note)
        assert app.recorder.max_notification_id() == len(before) + 1
    finally:
        app.close()


def test_processes_of_one_data_folder_share_one_server(own_server: EmbeddedServer) -> None:
    data_dir = own_server.dir.parent
    code = (
        "import sys; from pathlib import Path;"
        "from parley.eventstore.embedded import EmbeddedServer;"
        "print(EmbeddedServer(Path(sys.argv[1])).ensure_running())"
    )

    def start_from_a_process() -> str:
        done = subprocess.run(
            [sys.executable, "-c", code, str(data_dir)],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        return done.stdout.strip()

    with ThreadPoolExecutor(3) as pool:
        uris = list(pool.map(lambda _: start_from_a_process(), range(3)))
    assert len(set(uris)) == 1
    status = own_server.status()
    assert status.state == "running"
    assert status.record is not None
    assert status.record.uri == uris[0]


def test_a_stale_record_of_a_dead_server_is_cleaned_up(own_server: EmbeddedServer) -> None:
    own_server.dir.mkdir(parents=True, exist_ok=True)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    stale = {
        "pid": int(dead.stdout),
        "port": free_port(),
        "uri": "mongodb://127.0.0.1:1/?directConnection=true",
        "storage": str(own_server.storage),
        "started_at": 0.0,
    }
    own_server.record_file.write_text(json.dumps(stale))
    assert own_server.status().state == "stale"
    uri = own_server.ensure_running()
    assert uri != stale["uri"]
    assert own_server.status().state == "running"


def test_an_unreachable_uri_is_one_clear_error() -> None:
    with pytest.raises(DatabaseSetupError, match=r"cannot reach MongoDB at .*127\.0\.0\.1:1"):
        open_client("mongodb://127.0.0.1:1/?directConnection=true", timeout_ms=300)


def test_a_standalone_server_is_refused_because_it_has_no_transactions(tmp_path: Path) -> None:
    port = free_port()
    server = subprocess.Popen(
        [
            server_executable(),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--storage-path",
            str(tmp_path / "standalone"),
            "--standalone",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        uri = f"mongodb://127.0.0.1:{port}/?directConnection=true"
        with pytest.raises(
            DatabaseSetupError, match="standalone server; Parley needs a replica set"
        ):
            open_client(uri, timeout_ms=15_000)
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_the_db_command_reports_and_stops_the_embedded_server(tmp_path: Path) -> None:
    env = {**os.environ, "PARLEY_DATA_DIR": str(tmp_path / "cli")}
    env.pop("PARLEY_MONGODB_URI", None)

    def parley(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "parley.tools.cli", *args],
            check=False,
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            cwd=tmp_path,
        )

    assert "stopped" in parley("db", "status").stdout
    assert "running at mongodb://127.0.0.1:" in parley("db", "start").stdout
    assert "embedded database: running" in parley("db", "status").stdout
    assert parley("db", "stop").stdout.strip() == "embedded database: stopped"
    assert "stopped" in parley("db", "status").stdout


def test_a_bad_setting_is_one_line_and_a_nonzero_exit(tmp_path: Path) -> None:
    env = {**os.environ, "PARLEY_MONGODB_URI": "postgres://nope"}
    done = subprocess.run(
        [sys.executable, "-m", "parley.tools.cli", "db", "status"],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        cwd=tmp_path,
    )
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "parley: PARLEY_MONGODB_URI must start with mongodb:// or mongodb+srv://"
    )


def test_a_restart_on_the_same_port_keeps_every_uri_valid(own_server: EmbeddedServer) -> None:
    uri = own_server.ensure_running()
    record = own_server.status().record
    assert record is not None
    app = Notes(env=factory_settings(uri, "same_port"))
    note = Note("written before the stop")
    app.save(note)
    app.close()

    assert own_server.stop()
    # At once, while the old server may still hold the port on its way out.
    again = own_server.ensure_running(port=record.port)

    assert again == uri
    reopened = Notes(env=factory_settings(uri, "same_port"))
    try:
        assert reopened.repository.get(note.id).text == "written before the stop"
    finally:
        reopened.close()
