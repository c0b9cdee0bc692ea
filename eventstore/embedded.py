"""The embedded database: one SecantusDB server per data folder, shared by every
Parley process on the machine.

SecantusDB speaks MongoDB's wire protocol and advertises itself as a single-node
replica set, so Parley talks to it exactly as it talks to a production replica
set. It runs as its own process (`secantusd-py`), never inside a Parley process:
a Parley process that crashes must not take the database with it.

Layout under `<data>/db/`: `data/` (storage), `server.json` (pid, port, URI),
`server.lock` (held while a process checks, starts or stops the server) and
`server.log` (the server's own output).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from parley.eventstore.datastore import DatabaseSetupError
from pymongo import MongoClient
from pymongo.errors import PyMongoError

SERVER_EXECUTABLE = "secantusd-py"


@dataclass(frozen=True)
class ServerRecord:
    pid: int
    port: int
    uri: str
    storage: str
    started_at: float


@dataclass(frozen=True)
class ServerStatus:
    state: str  # "running", "stale" (record left by a dead server) or "stopped"
    record: ServerRecord | None

    def describe(self) -> str:
        if self.record is None:
            return "embedded database: stopped"
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.record.started_at))
        return (
            f"embedded database: {self.state}, pid {self.record.pid}, {self.record.uri}, "
            f"storage {self.record.storage}, started {started}"
        )


def uri_for_port(port: int) -> str:
    # Retryable writes slow this server down after ~10,000 of them (EMBEDDED_DB.md);
    # Parley's multi-document writes run in transactions anyway.
    return f"mongodb://127.0.0.1:{port}/?directConnection=true&retryWrites=false"


def answers(uri: str, timeout_ms: int = 1_000) -> bool:
    """True if a MongoDB server answers `ping` at `uri`."""
    client: MongoClient[dict[str, object]] = MongoClient(
        uri, serverSelectionTimeoutMS=timeout_ms, connectTimeoutMS=timeout_ms
    )
    try:
        client.admin.command("ping")
        return True
    except PyMongoError:
        return False
    finally:
        client.close()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int) -> bool:
    """True if a server could listen on 127.0.0.1:`port` now (as servers do, with
    SO_REUSEADDR, so a port held only by old TIME_WAIT connections counts as free)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def server_executable() -> str:
    beside_python = Path(sys.executable).parent / SERVER_EXECUTABLE
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which(SERVER_EXECUTABLE)
    if found is None:
        msg = f"{SERVER_EXECUTABLE} not found; install Parley's dependencies (make setup)"
        raise DatabaseSetupError(msg)
    return found


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped by its parent) counts as gone.
    with contextlib.suppress(OSError):
        status = Path(f"/proc/{pid}/status").read_text()
        if "\nState:\tZ" in status:
            return False
    return True


def _is_our_server(pid: int, storage: Path) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return _pid_alive(pid)
    return (
        any(SERVER_EXECUTABLE.encode() in part for part in cmdline)
        and str(storage).encode() in cmdline
    )


class EmbeddedServer:
    """Starts, finds and stops the embedded database of one data folder."""

    def __init__(self, data_dir: Path) -> None:
        self.dir = data_dir.resolve() / "db"
        self.storage = self.dir / "data"
        self.record_file = self.dir / "server.json"
        self.lock_file = self.dir / "server.lock"
        self.log_file = self.dir / "server.log"

    @contextlib.contextmanager
    def _locked(self, timeout: float = 120.0) -> Iterator[None]:
        self.dir.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + timeout
        with self.lock_file.open("a") as handle:
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        msg = f"another process holds {self.lock_file} for too long"
                        raise DatabaseSetupError(msg) from None
                    time.sleep(0.1)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _read_record(self) -> ServerRecord | None:
        try:
            return ServerRecord(**json.loads(self.record_file.read_text()))
        except (OSError, ValueError, TypeError):
            return None

    def _status_unlocked(self) -> ServerStatus:
        record = self._read_record()
        if record is None:
            return ServerStatus("stopped", None)
        if _is_our_server(record.pid, Path(record.storage)) and answers(record.uri):
            return ServerStatus("running", record)
        return ServerStatus("stale", record)

    def status(self) -> ServerStatus:
        with self._locked():
            return self._status_unlocked()

    def ensure_running(self, start_timeout: float = 60.0, port: int | None = None) -> str:
        """Returns the URI of this folder's server, starting it if none runs.

        `port` asks for a start on that port (waiting for it to come free), so
        that the URI processes already hold stays valid across a restart.
        """
        with self._locked():
            status = self._status_unlocked()
            if status.state == "running" and status.record is not None:
                return status.record.uri
            if status.state == "stale" and status.record is not None:
                self._clean_stale(status.record)
            return self._start(start_timeout, port).uri

    def _clean_stale(self, record: ServerRecord) -> None:
        # A live server of ours that does not answer is wedged: stop it first,
        # or the new one would fight it for the storage folder.
        if _pid_alive(record.pid) and _is_our_server(record.pid, Path(record.storage)):
            self._terminate(record.pid, timeout=10)
        self.record_file.unlink(missing_ok=True)

    def _start(self, timeout: float, port: int | None = None) -> ServerRecord:
        self.storage.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + timeout
        if port is None:
            port = free_port()
        # A server that just stopped may hold its port a moment longer.
        while not port_is_free(port):
            if time.monotonic() > deadline:
                msg = f"port {port} did not come free within {timeout:.0f}s"
                raise DatabaseSetupError(msg)
            time.sleep(0.2)
        command = [
            server_executable(),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--storage-path",
            str(self.storage),
            "--log-level",
            "WARNING",
        ]
        with self.log_file.open("ab") as log:
            process = subprocess.Popen(  # noqa: S603 - fixed executable and arguments
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # outlives the Parley process that started it
                cwd=self.dir,
            )
        record = ServerRecord(process.pid, port, uri_for_port(port), str(self.storage), time.time())
        while not answers(record.uri, timeout_ms=500):
            if process.poll() is not None:
                msg = (
                    f"the embedded database exited at start (code {process.returncode}); "
                    f"see {self.log_file}"
                )
                raise DatabaseSetupError(msg)
            if time.monotonic() > deadline:
                self._terminate(process.pid, timeout=5)
                msg = (
                    f"the embedded database did not answer within {timeout:.0f}s; "
                    f"see {self.log_file}"
                )
                raise DatabaseSetupError(msg)
            time.sleep(0.1)
        tmp = self.record_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(record)))
        tmp.replace(self.record_file)
        return record

    def stop(self, timeout: float = 30.0) -> bool:
        """Stops the server if one runs; returns whether one was stopped."""
        with self._locked():
            record = self._read_record()
            if record is None:
                return False
            stopped = False
            if _pid_alive(record.pid) and _is_our_server(record.pid, Path(record.storage)):
                self._terminate(record.pid, timeout)
                stopped = True
            self.record_file.unlink(missing_ok=True)
            return stopped

    @staticmethod
    def _terminate(pid: int, timeout: float) -> None:
        # SIGTERM lets the server checkpoint; it takes 2-4 s (EMBEDDED_DB.md).
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _pid_alive(pid):
            if time.monotonic() > deadline:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                break
            time.sleep(0.1)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
