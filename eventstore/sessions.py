"""Transactions left open by a process that died.

A process killed in the middle of a transaction leaves it open on the server,
which aborts it only when its transaction lifetime runs out (60 s, on mongod and
on the embedded server alike). Until then it holds every document it wrote, and
for a writer of events that includes the log's counter document: every other
writer fails with WriteConflict and retries, and the whole log stands still.
The soak harness measured it: 55 s without a message recorded after one SIGKILL
of the bridge.

So each process notes the server sessions it runs transactions on (the driver
pools them: a handful per process) in `parley_sessions`, under its host, pid and
start time, and a process starting up kills the sessions of every process on its
host that is gone (`killSessions` aborts their open transactions at once), then
forgets them. A process stopping cleanly leaves its record for that clean-up
too: killing sessions that already ended does nothing, and closing must not
talk to the server (the library closes an application again from `__del__`,
inside the garbage collector, where starting the driver's threads deadlocks).

A process on another host is never touched: its liveness cannot
be seen from here, and its transactions still end with their lifetime.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from bson.binary import UUID_SUBTYPE, Binary
from pymongo import MongoClient
from pymongo.client_session import ClientSession
from pymongo.errors import OperationFailure, PyMongoError

log = logging.getLogger(__name__)

COLLECTION = "parley_sessions"
Document = dict[str, Any]


def process_start(pid: int) -> str:
    """When a process started (clock ticks since boot, from /proc), so a reused pid
    is not mistaken for the process that had it; "" where /proc is missing."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def alive(pid: int, started: str) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return not started or process_start(pid) == started


def _binary(lsid: Any) -> Binary:
    """A session id as the server takes it (a client may read it back as a UUID)."""
    if isinstance(lsid, UUID):
        return Binary.from_uuid(lsid)
    return Binary(bytes(lsid), UUID_SUBTYPE)


class SessionLedger:
    """The transaction sessions of this process, and the clean-up of dead ones'."""

    def __init__(self, client: MongoClient[Document], database: str) -> None:
        self.client = client
        self.collection = client[database][COLLECTION]
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.started = process_start(self.pid)
        self.key = f"{self.host}:{self.pid}:{self.started}"
        self._noted: set[bytes] = set()
        self._guard = threading.Lock()
        self._cleared = False

    def note(self, session: ClientSession) -> None:
        """Records the session a transaction is about to run on (once per session)."""
        lsid = session.session_id
        key = bytes(lsid["id"])
        with self._guard:
            if key in self._noted:
                return
            self._noted.add(key)
        try:
            self.collection.update_one(
                {"_id": self.key},
                {
                    "$addToSet": {"lsids": lsid["id"]},
                    "$setOnInsert": {
                        "host": self.host,
                        "pid": self.pid,
                        "started": self.started,
                        "since": datetime.now(UTC),
                    },
                },
                upsert=True,
            )
        except PyMongoError:
            with self._guard:
                self._noted.discard(key)  # try again with the next transaction
            raise

    def clear_dead(self) -> int:
        """Kills the sessions of this host's dead processes; returns how many of
        those processes there were. Runs once per process (repeat calls are free)."""
        if self._cleared:
            return 0
        dead = 0
        for record in self.collection.find({"host": self.host}):
            if record["_id"] == self.key or alive(int(record["pid"]), str(record["started"])):
                continue
            lsids = [{"id": _binary(lsid)} for lsid in record.get("lsids", [])]
            if lsids:
                try:
                    self.client.admin.command("killSessions", lsids)
                except OperationFailure as exc:
                    # Not ours to kill (another user's): they end with their lifetime.
                    log.warning(
                        "could not kill a dead process's sessions", extra={"error": str(exc)}
                    )
            self.collection.delete_one({"_id": record["_id"]})
            dead += 1
            log.info(
                "sessions of a dead process killed",
                extra={"pid": record["pid"], "sessions": len(lsids)},
            )
        self._cleared = True
        return dead
