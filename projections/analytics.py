"""`rm_analytics`: volumes, reply latency and sentiment per account, per UTC hour,
per UTC day and in total.

Each figure lands in the bucket of its own event's time: inbound at
`received_at`, replies at `generated_at` / `sent_at` / `failed_at`, a message's
sentiment at its `received_at`. Messages the account sent itself are not
inbound. Bookkeeping in `rmx_analytics`: `thread/<id>` (account, contact and
the reply-latency ledger), `contact/<id>` (relationship), `seen/<bucket id>`
(the contacts already counted active in a bucket).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import Tracking
from parley.eventstore.datastore import Document
from parley.projections import histogram
from parley.projections.base import ReadModelProjection
from parley.projections.events import (
    ContactRegistered,
    MessageReceived,
    ProfileEdited,
    ReplyFailed,
    ReplyGenerated,
    ReplySent,
    ReplyWithheld,
    SentimentAssessed,
    ThreadOpened,
)
from parley.projections.ledger import Ledger, latency_ms
from parley.projections.values import stored, utc_ms
from parley.projections.view import CollectionSpec, Index

ANALYTICS = "rm_analytics"
STATE = "rmx_analytics"
LEDGER = Ledger("awaiting_reply", "awaiting_send")


def bucket_ids(account: str, at: datetime) -> list[tuple[str, str, datetime | None]]:
    """(id, granularity, bucket start) of the hour, day and total buckets of `at`."""
    at = at.astimezone(UTC)
    hour = datetime(at.year, at.month, at.day, at.hour, tzinfo=UTC)
    day = datetime(at.year, at.month, at.day, tzinfo=UTC)
    return [
        (f"{account}/hour/{hour:%Y-%m-%dT%H}", "hour", hour),
        (f"{account}/day/{day:%Y-%m-%d}", "day", day),
        (f"{account}/total", "total", None),
    ]


class AnalyticsProjection(ReadModelProjection):
    name = "analytics"
    state = STATE
    collections = (
        CollectionSpec(
            ANALYTICS,
            (Index((("account", 1), ("granularity", 1), ("bucket", 1)), "account_buckets"),),
        ),
        # A thread's ledger usually ends a batch as it began (every message
        # answered and sent): such documents need no write.
        CollectionSpec(STATE, write_if_changed=True),
    )

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        """Events that are not counted change nothing."""

    @process_event.register(ContactRegistered)
    def _registered(self, event: Any, tracking: Tracking) -> None:
        self.create(STATE, {"_id": f"contact/{event.originator_id}", "relationship": "unknown"})

    @process_event.register(ProfileEdited)
    def _edited(self, event: Any, tracking: Tracking) -> None:
        if "relationship" in event.changes:
            contact = self.state_doc(f"contact/{event.originator_id}", relationship="unknown")
            contact["relationship"] = stored(event.changes["relationship"])
            self.changed(STATE, contact)

    @process_event.register(ThreadOpened)
    def _opened(self, event: Any, tracking: Tracking) -> None:
        self.create(
            STATE,
            {
                "_id": f"thread/{event.originator_id}",
                "account": event.account,
                "contact_id": str(event.contact_id),
                **LEDGER.empty(),
            },
        )

    @process_event.register(MessageReceived)
    def _received(self, event: Any, tracking: Tracking) -> None:
        if event.from_me:
            return
        book = self._thread_book(event, tracking)
        received_at = utc_ms(event.received_at)
        LEDGER.received(book, event.wa_message_id, received_at)
        self.changed(STATE, book)
        contact_id = book["contact_id"]
        relationship = self._relationship(contact_id)

        def count(bucket: Document) -> None:
            bucket["inbound"] += 1
            _by_relationship(bucket, relationship)["inbound"] += 1
            seen = self.state_doc(f"seen/{bucket['_id']}", contacts=[])
            contacts: list[str] = seen["contacts"]
            index = bisect.bisect_left(contacts, contact_id)
            if index == len(contacts) or contacts[index] != contact_id:
                contacts.insert(index, contact_id)
                self.changed(STATE, seen)
                bucket["active_contacts"] = len(contacts)

        self._count(event.account, received_at, count)

    @process_event.register(ReplyWithheld)
    def _withheld(self, event: Any, tracking: Tracking) -> None:
        book = self._thread_book(event, tracking)
        LEDGER.withheld(book, event.wa_message_id)
        self.changed(STATE, book)
        self._count(event.account, utc_ms(event.at), _add("withheld"))

    @process_event.register(ReplyGenerated)
    def _generated(self, event: Any, tracking: Tracking) -> None:
        if event.in_reply_to:
            book = self._thread_book(event, tracking)
            LEDGER.answered(book, event.in_reply_to, event.reply_id)
            self.changed(STATE, book)

        def count(bucket: Document) -> None:
            bucket["manual" if event.manual else "replies_generated"] += 1
            if event.is_fallback:
                bucket["fallbacks"] += 1

        self._count(event.account, utc_ms(event.generated_at), count)

    @process_event.register(ReplySent)
    def _sent(self, event: Any, tracking: Tracking) -> None:
        book = self._thread_book(event, tracking)
        sent_at = utc_ms(event.sent_at)
        received_at = LEDGER.settled(book, event.reply_id)
        self.changed(STATE, book)
        relationship = self._relationship(book["contact_id"])

        def count(bucket: Document) -> None:
            bucket["replies_sent"] += 1
            _by_relationship(bucket, relationship)["replies_sent"] += 1
            if received_at is not None:
                hist = bucket["latency_hist"]
                hist[histogram.bucket_of(latency_ms(received_at, sent_at))] += 1
                bucket["latency_ms"] = histogram.summary(hist)

        self._count(event.account, sent_at, count)

    @process_event.register(ReplyFailed)
    def _failed(self, event: Any, tracking: Tracking) -> None:
        book = self._thread_book(event, tracking)
        LEDGER.settled(book, event.reply_id)
        self.changed(STATE, book)
        self._count(event.account, utc_ms(event.failed_at), _add("failures"))

    @process_event.register(SentimentAssessed)
    def _sentiment(self, event: Any, tracking: Tracking) -> None:
        book = self._thread_book(event, tracking)
        received_at = LEDGER.received_at(book, event.wa_message_id)
        if received_at is None:
            return  # the account's own message, or one forgotten long ago

        def count(bucket: Document) -> None:
            sentiment = bucket["sentiment"]
            sentiment[event.label] = sentiment.get(event.label, 0) + 1

        self._count(book["account"], received_at, count)

    # -------------------------------------------------------------- helpers

    def _count(self, account: str, at: datetime, change: Callable[[Document], None]) -> None:
        for doc_id, granularity, start in bucket_ids(account, at):
            bucket = self.get(ANALYTICS, doc_id)
            if bucket is None:
                bucket = self.create(ANALYTICS, _new_bucket(doc_id, account, granularity, start))
            change(bucket)
            self.changed(ANALYTICS, bucket)

    def _relationship(self, contact_id: str) -> str:
        contact = self.get(STATE, f"contact/{contact_id}")
        return str(contact["relationship"]) if contact else "unknown"

    def _thread_book(self, event: Any, tracking: Tracking) -> Document:
        doc_id = f"thread/{event.originator_id}"
        book = self.require(STATE, doc_id, tracking)
        return book


def _add(field: str) -> Callable[[Document], None]:
    def count(bucket: Document) -> None:
        bucket[field] += 1

    return count


def _by_relationship(bucket: Document, relationship: str) -> dict[str, int]:
    counts: dict[str, int] = bucket["by_relationship"].setdefault(
        relationship, {"inbound": 0, "replies_sent": 0}
    )
    return counts


def _new_bucket(doc_id: str, account: str, granularity: str, start: datetime | None) -> Document:
    hist = histogram.empty()
    return {
        "_id": doc_id,
        "account": account,
        "granularity": granularity,
        "bucket": start,
        "inbound": 0,
        "replies_generated": 0,
        "replies_sent": 0,
        "failures": 0,
        "fallbacks": 0,
        "withheld": 0,
        "manual": 0,
        "latency_hist": hist,
        "latency_ms": histogram.summary(hist),
        "sentiment": {"positive": 0, "neutral": 0, "negative": 0},
        "active_contacts": 0,
        "by_relationship": {},
    }
