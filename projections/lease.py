"""Leases: at most one process applies a projection to one log at a time.

`projection_leases` holds `{_id: "<projection>/<log>", holder, expires_at}`. A
holder renews its lease well before `expires_at`; anyone may take a lease whose
time has passed. Every batch a holder commits renews its lease inside the same
transaction (`fence`), so a holder that lost its lease (it stalled, and another
took over, or a replay took it) cannot commit: the renewal matches nothing and
the transaction is rolled back. The commit's checkpoint compare-and-set would
refuse a double application anyway; the lease keeps two projectors from wasting
work and lets a replay stop the live projector.

Expiry is judged by each process's own clock (the embedded server cannot
evaluate `$$NOW` in a query), so leases assume clocks agree to well within
the lease time, as NTP-synchronised machines do.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from parley.eventstore.datastore import Document
from parley.projections.view import Fence
from pymongo import ReturnDocument
from pymongo.client_session import ClientSession
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

LEASES = "projection_leases"

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

    def acquire(self, lease: str) -> bool:
        """Takes the lease if it is free, expired or already ours."""
        now = self.clock()
        try:
            self.leases.find_one_and_update(
                {"_id": lease, "$or": [{"holder": self.holder}, {"expires_at": {"$lte": now}}]},
                {"$set": {"holder": self.holder, "expires_at": now + self.duration}},
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
        except DuplicateKeyError:
            return False  # held by someone else, and not expired
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

    def force(self, lease: str) -> None:
        """Takes the lease whoever holds it (a replay stopping the live projector)."""
        self.leases.update_one(
            {"_id": lease},
            {"$set": {"holder": self.holder, "expires_at": self.clock() + self.duration}},
            upsert=True,
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
        expires_at = document["expires_at"]
        if expires_at.tzinfo is None:
            expires_at = expires_at.replace(tzinfo=UTC)
        if expires_at > moment:
            found[document["_id"]] = LeaseInfo(document["_id"], document["holder"], expires_at)
    return found
