"""Leases: at most one process applies a projection to one log at a time.

`projection_leases` holds `{_id: "<projection>/<log>", holder, expires_at}`. A
holder renews its lease well before `expires_at`; anyone may take a lease whose
time has passed. Every batch a holder commits renews its lease inside the same
transaction (`fence`), so a holder that lost its lease (it stalled, and another
took over, or a replay took it) cannot commit: the renewal matches nothing and
the transaction is rolled back. The commit's checkpoint compare-and-set would
refuse a double application anyway; the lease keeps two projectors from wasting
work and lets a replay stop the live projector.

A lease also lists the sessions its holder commits in. A holder killed in the
middle of a commit leaves an open transaction holding its documents until the
server's transaction lifetime runs out (a minute); whoever takes the lease over
first ends those sessions (`killSessions`; on a server with access control the
user needs the `killAnySession` privilege, or the same user), so the new holder
can commit at once. A holder that was merely slow loses its transaction, retries,
and then finds the lease gone.

Expiry is judged by each process's own clock (the embedded server cannot
evaluate `$$NOW` in a query), so leases assume clocks agree to well within
the lease time, as NTP-synchronised machines do.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from parley.eventstore.datastore import Document
from parley.projections.view import Fence
from pymongo import ReturnDocument
from pymongo.client_session import ClientSession
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError, PyMongoError

LEASES = "projection_leases"
log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


class LeaseLost(Exception):
    """Raised when a holder finds that its lease is no longer its own."""


@dataclass(frozen=True)
class LeaseInfo:
    lease_id: str
    holder: str
    expires_at: datetime


def lease_id(projection: str, log_name: str) -> str:
    return f"{projection}/{log_name}"


def new_holder(kind: str = "projector") -> str:
    """A holder name that says who holds the lease, and is unique per process run."""
    return f"{kind}:{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def utc_now() -> datetime:
    return datetime.now(UTC)


class LeaseStore:
    """Takes, renews and releases leases on behalf of one holder."""

    def __init__(
        self,
        db: Database[Document],
        holder: str,
        lease_seconds: float,
        clock: Clock = utc_now,
    ) -> None:
        self.leases: Collection[Document] = db[LEASES]
        self.holder = holder
        self.duration = timedelta(seconds=lease_seconds)
        self.clock = clock

    def acquire(self, lease: str, sessions: Sequence[Document] = ()) -> bool:
        """Takes the lease if it is free, expired or already ours, recording the
        sessions the new holder will commit in."""
        now = self.clock()
        current = self.leases.find_one({"_id": lease})
        if current is not None and current["holder"] != self.holder:
            if _aware(current["expires_at"]) > now:
                return False
            self._end_sessions(lease, current)
        try:
            self.leases.find_one_and_update(
                {"_id": lease, "$or": [{"holder": self.holder}, {"expires_at": {"$lte": now}}]},
                {
                    "$set": {
                        "holder": self.holder,
                        "expires_at": now + self.duration,
                        "sessions": list(sessions),
                    }
                },
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
        except DuplicateKeyError:
            return False  # someone else took it first
        return True

    def renew(self, lease: str) -> bool:
        """Extends the lease if it is still ours; False if it is not."""
        result = self.leases.update_one(
            {"_id": lease, "holder": self.holder},
            {"$set": {"expires_at": self.clock() + self.duration}},
        )
        return result.matched_count == 1

    def release(self, lease: str) -> None:
        """Gives the lease up at once, so another holder need not wait for expiry."""
        self.leases.delete_one({"_id": lease, "holder": self.holder})

    def force(self, lease: str, sessions: Sequence[Document] = ()) -> None:
        """Takes the lease whoever holds it (a replay stopping the live projector)."""
        current = self.leases.find_one({"_id": lease})
        if current is not None and current["holder"] != self.holder:
            self._end_sessions(lease, current)
        self.leases.update_one(
            {"_id": lease},
            {
                "$set": {
                    "holder": self.holder,
                    "expires_at": self.clock() + self.duration,
                    "sessions": list(sessions),
                }
            },
            upsert=True,
        )

    def _end_sessions(self, lease: str, current: Document) -> None:
        """Ends the sessions of the previous holder, aborting a transaction it
        may have left open."""
        sessions = current.get("sessions") or []
        if not sessions:
            return
        try:
            admin = self.leases.database.client.admin
            admin.command("killSessions", sessions, codec_options=self.leases.codec_options)
        except PyMongoError as exc:
            log.warning(
                "could not end the previous holder's sessions",
                extra={"lease": lease, "holder": current["holder"], "error": str(exc)},
            )

    def fence(self, lease: str) -> Fence:
        """A check for a commit's transaction: renews the lease in it, or raises
        LeaseLost (which rolls the transaction back) if the lease is not ours."""

        def check(session: ClientSession) -> None:
            result = self.leases.update_one(
                {"_id": lease, "holder": self.holder},
                {"$set": {"expires_at": self.clock() + self.duration}},
                session=session,
            )
            if result.matched_count != 1:
                raise LeaseLost(f"{lease} is no longer held by {self.holder}")

        return check


def current_leases(db: Database[Document], now: datetime | None = None) -> dict[str, LeaseInfo]:
    """Leases that have not expired, by id."""
    moment = now or utc_now()
    found: dict[str, LeaseInfo] = {}
    for document in db[LEASES].find({}):
        expires_at = _aware(document["expires_at"])
        if expires_at > moment:
            found[document["_id"]] = LeaseInfo(document["_id"], document["holder"], expires_at)
    return found


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
