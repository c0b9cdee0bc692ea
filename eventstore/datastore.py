"""One MongoDB client and database, and the one way Parley runs a transaction.

Transactions are where MongoDB's cost is, and where writers of one log meet on
the counter document, so every multi-document write goes through
`MongoDatastore.transaction`: it retries transient errors with jittered
backoff, maps driver errors onto the `eventsourcing` error family, and lets
writers in this process queue on a lock instead of colliding in the server.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from eventsourcing.persistence import (
    DatabaseError,
    IntegrityError,
    OperationalError,
    PersistenceError,
    ProgrammingError,
)
from parley.eventstore.sessions import SessionLedger
from pymongo import MongoClient
from pymongo.client_session import ClientSession
from pymongo.database import Database
from pymongo.errors import (
    BulkWriteError,
    ConfigurationError,
    ConnectionFailure,
    DuplicateKeyError,
    OperationFailure,
    PyMongoError,
)
from pymongo.read_concern import ReadConcern
from pymongo.write_concern import WriteConcern

T = TypeVar("T")
Document = dict[str, Any]

log = logging.getLogger(__name__)

DUPLICATE_KEY = 11000
TRANSIENT = "TransientTransactionError"
UNKNOWN_COMMIT = "UnknownTransactionCommitResult"

# Writers of one log in one process queue here rather than in the server, where
# they would abort each other with WriteConflict (see EMBEDDED_DB.md).
_process_locks: dict[tuple[str, str, str], threading.Lock] = {}
_process_locks_guard = threading.Lock()


class DatabaseSetupError(Exception):
    """Raised when the configured MongoDB cannot serve Parley (unreachable, or not a
    replica set); its message is one line a person can act on."""


def translate_error(exc: PyMongoError) -> PersistenceError:
    """Maps a driver error onto the `eventsourcing` persistence error family."""
    if isinstance(exc, DuplicateKeyError):
        return IntegrityError(str(exc))
    if isinstance(exc, BulkWriteError):
        codes = {error.get("code") for error in exc.details.get("writeErrors", [])}
        if DUPLICATE_KEY in codes:
            return IntegrityError(str(exc))
        return DatabaseError(str(exc))
    if isinstance(exc, OperationFailure):
        if exc.code == DUPLICATE_KEY:
            return IntegrityError(str(exc))
        if exc.has_error_label(TRANSIENT):
            return OperationalError(str(exc))
        return ProgrammingError(str(exc)) if exc.code in (2, 9, 14) else DatabaseError(str(exc))
    if isinstance(exc, ConnectionFailure):
        return OperationalError(str(exc))
    return PersistenceError(str(exc))


class MongoDatastore:
    """A MongoDB client bound to one database, shared by the recorders of a factory."""

    def __init__(
        self,
        uri: str,
        database_name: str,
        *,
        transaction_timeout: float = 30.0,
        server_selection_timeout_ms: int = 5_000,
        client: MongoClient[Document] | None = None,
    ) -> None:
        self.uri = uri
        self.database_name = database_name
        self.transaction_timeout = transaction_timeout
        self._owns_client = client is None
        self.client: MongoClient[Document] = client or MongoClient(
            uri,
            uuidRepresentation="standard",
            serverSelectionTimeoutMS=server_selection_timeout_ms,
            tz_aware=True,
            appname="parley",
        )
        self.db: Database[Document] = self.client.get_database(
            database_name, write_concern=WriteConcern("majority")
        )
        self.sessions = SessionLedger(self.client, database_name)
        self._closed = False

    def close(self) -> None:
        if self._owns_client and not self._closed:
            self._closed = True  # the library closes again when it collects the app
            self.client.close()

    def lock_for(self, key: str) -> threading.Lock:
        """The in-process lock for writers that serialise on one document."""
        lock_key = (self.uri, self.database_name, key)
        with _process_locks_guard:
            return _process_locks.setdefault(lock_key, threading.Lock())

    def transaction(self, work: Callable[[ClientSession], T], *, serialise_on: str = "") -> T:
        """Runs `work` in a transaction, retrying it whole on transient errors.

        `work` may run more than once, so it must only write through the session.
        `serialise_on` names the document this transaction contends on, if any.
        """
        deadline = time.monotonic() + self.transaction_timeout
        attempt = 0
        lock = self.lock_for(serialise_on) if serialise_on else None
        with self.client.start_session(causal_consistency=False) as session:
            while True:
                try:
                    # Before the first transaction: free what a dead predecessor
                    # left locked; and note this session, for a successor.
                    self.sessions.clear_dead()
                    self.sessions.note(session)
                    if lock is None:
                        return self._run_once(session, work, deadline)
                    with lock:
                        return self._run_once(session, work, deadline)
                except PyMongoError as exc:
                    if not self._is_transient(exc) or time.monotonic() >= deadline:
                        raise translate_error(exc) from exc
                    attempt += 1
                    pause = min(0.5, 0.002 * 2**attempt) * random.uniform(0.5, 1.5)
                    log.debug("transaction retry", extra={"attempt": attempt, "error": str(exc)})
                    time.sleep(pause)

    def _run_once(
        self, session: ClientSession, work: Callable[[ClientSession], T], deadline: float
    ) -> T:
        session.start_transaction(
            read_concern=ReadConcern("snapshot"), write_concern=WriteConcern("majority")
        )
        try:
            result = work(session)
        except BaseException:
            if session.in_transaction:
                session.abort_transaction()
            raise
        while True:
            try:
                session.commit_transaction()
                return result
            except PyMongoError as exc:
                if exc.has_error_label(UNKNOWN_COMMIT) and time.monotonic() < deadline:
                    time.sleep(0.01)
                    continue
                raise

    @staticmethod
    def _is_transient(exc: PyMongoError) -> bool:
        return exc.has_error_label(TRANSIENT) or isinstance(exc, ConnectionFailure)

    @contextmanager
    def translated_errors(self) -> Iterator[None]:
        """Raises driver errors as `eventsourcing` persistence errors."""
        try:
            yield
        except PyMongoError as exc:
            raise translate_error(exc) from exc


def check_replica_set(client: MongoClient[Document], uri_for_messages: str) -> None:
    """Raises DatabaseSetupError unless the server answers and can run transactions."""
    where = redact_uri(uri_for_messages)
    try:
        hello = client.admin.command("hello")
    except ConfigurationError as exc:
        raise DatabaseSetupError(f"MongoDB URI {where} is not usable: {exc}") from exc
    except PyMongoError as exc:
        raise DatabaseSetupError(
            f"cannot reach MongoDB at {where}: {type(exc).__name__}; is the server running?"
        ) from exc
    if not hello.get("setName") and hello.get("msg") != "isdbgrid":
        raise DatabaseSetupError(
            f"MongoDB at {where} is a standalone server; Parley needs a replica set "
            "(a single-node one is fine) for transactions and change streams"
        )


def redact_uri(uri: str) -> str:
    """The URI without its password, for messages and logs."""
    scheme, sep, rest = uri.partition("://")
    if not sep or "@" not in rest.split("/", 1)[0]:
        return uri
    credentials, _, host = rest.partition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"
