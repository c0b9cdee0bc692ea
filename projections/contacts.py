"""`rm_contacts`: each contact's profile, learned style and statistics.

Statistics count on the conversation's contact (for a group chat, the group).
Bookkeeping in `rmx_contacts`: `thread/<id>` (whose thread it is, and the id of
a just-received message the account sent itself, whose sentiment is not the
contact's).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import Tracking
from parley.domain.profiles import CustomContext, LearnedStyle
from parley.eventstore.datastore import Document
from parley.projections.base import ReadModelProjection
from parley.projections.events import (
    ContactRegistered,
    MessageReceived,
    ProfileEdited,
    PushNameChanged,
    ReplySent,
    SentimentAssessed,
    StyleLearned,
    ThreadOpened,
)
from parley.projections.values import stored, utc_ms
from parley.projections.view import CollectionSpec, Index

CONTACTS = "rm_contacts"
STATE = "rmx_contacts"
EDITABLE = ("name", "preferred_name", "relationship", "priority", "language", "custom")


class ContactsProjection(ReadModelProjection):
    name = "contacts"
    state = STATE
    collections = (
        CollectionSpec(
            CONTACTS,
            (
                Index((("account", 1), ("last_message_at", -1), ("_id", -1)), "account_recent"),
                Index((("account", 1), ("number", 1)), "account_number"),
            ),
        ),
        CollectionSpec(STATE),
    )

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        """Events that say nothing about a contact change nothing."""

    @process_event.register(ContactRegistered)
    def _registered(self, event: Any, tracking: Tracking) -> None:
        self.create(
            CONTACTS,
            {
                "_id": str(event.originator_id),
                "account": event.account,
                "number": event.number,
                "push_name": event.push_name,
                "name": event.push_name,
                "preferred_name": "",
                "relationship": "unknown",
                "priority": 0,
                "language": "",
                "custom": stored(asdict(CustomContext())),
                "style": stored(asdict(LearnedStyle())),
                "first_seen_at": utc_ms(event.at),
                "last_message_at": None,
                "stats": {
                    "inbound": 0,
                    "replies_sent": 0,
                    "threads": 0,
                    "sentiment_mean": None,
                    "assessed": 0,
                    "sentiment_sum": 0.0,
                },
                "position": tracking.notification_id,
            },
        )

    @process_event.register(PushNameChanged)
    def _push_name(self, event: Any, tracking: Tracking) -> None:
        contact = self._contact(str(event.originator_id), tracking)
        if contact["name"] == contact["push_name"]:
            contact["name"] = event.push_name
        contact["push_name"] = event.push_name

    @process_event.register(ProfileEdited)
    def _edited(self, event: Any, tracking: Tracking) -> None:
        contact = self._contact(str(event.originator_id), tracking)
        for key, value in event.changes.items():
            if key in EDITABLE:
                contact[key] = stored(value)

    @process_event.register(StyleLearned)
    def _style(self, event: Any, tracking: Tracking) -> None:
        self._contact(str(event.originator_id), tracking)["style"] = stored(event.style)

    @process_event.register(ThreadOpened)
    def _opened(self, event: Any, tracking: Tracking) -> None:
        self.create(
            STATE,
            {
                "_id": f"thread/{event.originator_id}",
                "contact_id": str(event.contact_id),
                "own": "",
            },
        )
        self._contact(str(event.contact_id), tracking)["stats"]["threads"] += 1

    @process_event.register(MessageReceived)
    def _received(self, event: Any, tracking: Tracking) -> None:
        book = self._thread_book(event, tracking)
        if event.from_me or book["own"]:
            book["own"] = event.wa_message_id if event.from_me else ""
            self.changed(STATE, book)
        if event.from_me:
            return
        contact = self._contact(book["contact_id"], tracking)
        contact["stats"]["inbound"] += 1
        received_at = utc_ms(event.received_at)
        last = contact["last_message_at"]
        contact["last_message_at"] = received_at if last is None else max(last, received_at)

    @process_event.register(SentimentAssessed)
    def _sentiment(self, event: Any, tracking: Tracking) -> None:
        book = self._thread_book(event, tracking)
        if book["own"] == event.wa_message_id:
            return
        stats = self._contact(book["contact_id"], tracking)["stats"]
        stats["assessed"] += 1
        stats["sentiment_sum"] += event.compound
        stats["sentiment_mean"] = round(stats["sentiment_sum"] / stats["assessed"], 4)

    @process_event.register(ReplySent)
    def _sent(self, event: Any, tracking: Tracking) -> None:
        book = self._thread_book(event, tracking)
        self._contact(book["contact_id"], tracking)["stats"]["replies_sent"] += 1

    # -------------------------------------------------------------- helpers

    def _contact(self, contact_id: str, tracking: Tracking) -> Document:
        contact = self.require(CONTACTS, contact_id, tracking)
        contact["position"] = tracking.notification_id
        self.changed(CONTACTS, contact)
        return contact

    def _thread_book(self, event: Any, tracking: Tracking) -> Document:
        doc_id = f"thread/{event.originator_id}"
        book = self.require(STATE, doc_id, tracking)
        return book
