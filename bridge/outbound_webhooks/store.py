"""Subscribers and their delivery progress, in MongoDB.

* `webhook_subscribers`: one document per subscriber (`_id` is its id), added
  by the API or copied from PARLEY_WEBHOOKS when a dispatcher starts.
* `webhook_progress`: per subscriber and log, how far delivery got: every
  position up to `through` is settled (delivered, or not wanted), and
  `settled_above` lists the few beyond it that are settled too (conversations
  run ahead of a stuck one). Its size is bounded by the dispatcher's window.

Synchronous (pymongo); from async code call it through `asyncio.to_thread`.
"""

from __future__ import annotations

import builtins
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from parley.bridge.outbound_webhooks.subscribers import (
    InvalidSubscriber,
    Subscriber,
    validated,
)
from pymongo import ReturnDocument
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

Document = dict[str, Any]

SUBSCRIBERS = "webhook_subscribers"
PROGRESS = "webhook_progress"


class SubscriberExists(InvalidSubscriber):
    """Raised when adding a subscriber under an id that is taken."""


class SubscriberIsConfigured(InvalidSubscriber):
    """Raised when the API tries to remove a subscriber that PARLEY_WEBHOOKS defines."""


class WebhookSubscriptionStore:
    """Add, list and remove subscribers (what the API exposes).

    `head` returns the log's last position; with it, a subscriber added here
    receives exactly the events written after `add` returns. Without it,
    delivery starts where the log is when a dispatcher first sees the subscriber.
    """

    def __init__(
        self, db: Database[Document], *, head: Callable[[], int | None] | None = None
    ) -> None:
        self.subscribers: Collection[Document] = db[SUBSCRIBERS]
        self.progress: Collection[Document] = db[PROGRESS]
        self._head = head

    def add(
        self,
        url: Any,
        events: Any,
        secret: Any,
        *,
        subscriber_id: Any = None,
        replay: Any = False,
    ) -> Subscriber:
        """Validates and stores a subscriber; raises InvalidSubscriber (or
        SubscriberExists) with one line naming the problem."""
        subscriber = validated(
            subscriber_id=subscriber_id or f"wh_{secrets.token_hex(6)}",
            url=url,
            events=events,
            secret=secret,
            replay=replay,
        )
        document = _document(subscriber)
        document["start_after"] = self._start_after(subscriber)
        try:
            self.subscribers.insert_one(document)
        except DuplicateKeyError:
            raise SubscriberExists(f"a subscriber with id {subscriber.id!r} exists") from None
        return subscriber

    def list(self) -> list[Subscriber]:
        return [_subscriber(document) for document in self.subscribers.find().sort("_id")]

    def get(self, subscriber_id: str) -> Subscriber | None:
        document = self.subscribers.find_one({"_id": subscriber_id})
        return _subscriber(document) if document else None

    def remove(self, subscriber_id: str) -> bool:
        """Removes an API-added subscriber and its progress; False if unknown."""
        document = self.subscribers.find_one({"_id": subscriber_id}, {"source": 1})
        if document is None:
            return False
        if document.get("source") == "config":
            raise SubscriberIsConfigured(
                f"subscriber {subscriber_id!r} is defined by PARLEY_WEBHOOKS; remove it there"
            )
        self.subscribers.delete_one({"_id": subscriber_id, "source": {"$ne": "config"}})
        self.progress.delete_many({"subscriber_id": subscriber_id})
        return True

    def delivery_status(self, subscriber_id: str) -> builtins.list[dict[str, Any]]:
        """Per log: how far delivery got, and the last error if any."""
        found = self.progress.find({"subscriber_id": subscriber_id}, {"settled_above": 0})
        return [{key: value for key, value in doc.items() if key != "_id"} for doc in found]

    def sync_configured(self, configured: Sequence[Subscriber]) -> None:
        """Makes the stored configured subscribers match PARLEY_WEBHOOKS: adds new
        ones, updates changed ones (keeping their progress), drops removed ones."""
        wanted = {subscriber.id: subscriber for subscriber in configured}
        for subscriber in configured:
            fields = _document(subscriber)
            fields.pop("_id")
            existing = self.subscribers.find_one({"_id": subscriber.id}, {"source": 1})
            if existing is not None and existing.get("source") != "config":
                raise SubscriberExists(
                    f"PARLEY_WEBHOOKS id {subscriber.id!r} is already used by an API subscriber"
                )
            self.subscribers.update_one(
                {"_id": subscriber.id},
                {"$set": fields, "$setOnInsert": {"start_after": self._start_after(subscriber)}},
                upsert=True,
            )
        stale = [
            document["_id"]
            for document in self.subscribers.find({"source": "config"}, {"_id": 1})
            if document["_id"] not in wanted
        ]
        if stale:
            self.subscribers.delete_many({"_id": {"$in": stale}, "source": "config"})
            self.progress.delete_many({"subscriber_id": {"$in": stale}})

    def start_positions(self) -> dict[str, int | None]:
        """Each subscriber's first position to consider, as recorded when added."""
        return {
            document["_id"]: document.get("start_after")
            for document in self.subscribers.find({}, {"start_after": 1})
        }

    def _start_after(self, subscriber: Subscriber) -> int | None:
        if subscriber.replay:
            return 0
        return (self._head() or 0) if self._head is not None else None


class ProgressRecord:
    """One subscriber's progress along one log (see the module docstring)."""

    def __init__(self, through: int, settled_above: Iterable[int] = ()) -> None:
        self.through = through
        self._above = {position for position in settled_above if position > through}

    def is_settled(self, position: int) -> bool:
        return position <= self.through or position in self._above

    def settle(self, position: int) -> bool:
        """Marks a position settled; True if `through` moved."""
        if self.is_settled(position):
            return False
        self._above.add(position)
        moved = False
        while self.through + 1 in self._above:
            self.through += 1
            self._above.discard(self.through)
            moved = True
        return moved

    @property
    def settled_above(self) -> list[int]:
        return sorted(self._above)


class ProgressStore:
    """Reads and writes `webhook_progress` for one log."""

    def __init__(self, db: Database[Document], stream: str) -> None:
        self.progress: Collection[Document] = db[PROGRESS]
        self.stream = stream

    def _key(self, subscriber_id: str) -> str:
        return f"{subscriber_id}|{self.stream}"

    def load_or_create(self, subscriber_id: str, start_after: int) -> ProgressRecord:
        document = self.progress.find_one_and_update(
            {"_id": self._key(subscriber_id)},
            {
                "$setOnInsert": {
                    "subscriber_id": subscriber_id,
                    "stream": self.stream,
                    "through": start_after,
                    "settled_above": [],
                    "delivered": 0,
                    "failed_attempts": 0,
                }
            },
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        assert document is not None  # upserted
        return ProgressRecord(int(document["through"]), document.get("settled_above", []))

    def save(self, subscriber_id: str, progress: ProgressRecord, stats: DeliveryStats) -> None:
        """Writes the progress; a removed subscriber's record is not brought back."""
        fields: Document = {
            "through": progress.through,
            "settled_above": progress.settled_above,
            "updated_at": datetime.now(UTC),
        }
        if stats.last_error is not None:
            fields["last_error"] = stats.last_error
            fields["last_error_at"] = stats.last_error_at
        if stats.last_delivered_at is not None:
            fields["last_delivered_at"] = stats.last_delivered_at
        self.progress.update_one(
            {"_id": self._key(subscriber_id)},
            {
                "$set": fields,
                "$inc": {"delivered": stats.delivered, "failed_attempts": stats.failed_attempts},
            },
        )


@dataclass
class DeliveryStats:
    """What happened since the last save."""

    delivered: int = 0
    failed_attempts: int = 0
    last_error: str | None = None
    last_error_at: datetime | None = None
    last_delivered_at: datetime | None = None

    def taken(self) -> DeliveryStats:
        """A copy of these figures, which are then reset."""
        copy = replace(self)
        self.delivered = self.failed_attempts = 0
        self.last_error = None
        self.last_error_at = self.last_delivered_at = None
        return copy


def _document(subscriber: Subscriber) -> Document:
    return {
        "_id": subscriber.id,
        "url": subscriber.url,
        "events": list(subscriber.events),
        "secret": subscriber.secret,
        "source": subscriber.source,
        "replay": subscriber.replay,
    }


def _subscriber(document: Document) -> Subscriber:
    return Subscriber(
        id=document["_id"],
        url=document["url"],
        events=tuple(document["events"]),
        secret=document["secret"],
        source=document.get("source", "api"),
        replay=bool(document.get("replay", False)),
    )
