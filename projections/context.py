"""`rm_context`: everything a reply needs about one contact, in one document.

Bookkeeping in `rmx_context`: `thread/<id>` (whose thread it is, and the id of
a just-received message the account sent itself), `persona/<persona id>` (an
account's persona, copied onto each of its contacts).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import Tracking
from parley.domain import ids
from parley.domain.profiles import CustomContext, LearnedStyle
from parley.eventstore.datastore import Document
from parley.projections.base import ReadModelProjection
from parley.projections.events import (
    ContactRegistered,
    MessageReceived,
    PersonaDefined,
    PersonaEdited,
    ProfileEdited,
    PushNameChanged,
    ReplyGenerated,
    SentimentAssessed,
    StyleLearned,
    ThreadOpened,
    TopicsDetected,
)
from parley.projections.values import stored, utc_ms
from parley.projections.view import CollectionSpec, Index

CONTEXT = "rm_context"
STATE = "rmx_context"
RECENT_TURNS = 30
RECENT_TOPICS = 10
TREND = 10
EDITABLE = ("name", "preferred_name", "relationship", "language", "custom")


class ContextProjection(ReadModelProjection):
    name = "context"
    state = STATE
    collections = (
        CollectionSpec(CONTEXT, (Index((("account", 1),), "account"),)),
        CollectionSpec(STATE),
    )

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        """Events a reply does not need change nothing."""

    # -------------------------------------------------------------- contact

    @process_event.register(ContactRegistered)
    def _registered(self, event: Any, tracking: Tracking) -> None:
        persona = self.get(STATE, f"persona/{ids.persona_id(event.account)}")
        self.create(
            CONTEXT,
            {
                "_id": str(event.originator_id),
                "account": event.account,
                "name": event.push_name,
                "push_name": event.push_name,
                "preferred_name": "",
                "number": event.number,
                "first_seen_at": utc_ms(event.at),
                "interaction_count": 0,
                "language": "",
                "relationship": "unknown",
                "custom": stored(asdict(CustomContext())),
                "style": stored(asdict(LearnedStyle())),
                "recent": [],
                "recent_topics": [],
                "sentiment_trend": None,
                "sentiment_recent": [],
                "persona": dict(persona["values"]) if persona else None,
                "position": tracking.notification_id,
            },
        )

    @process_event.register(PushNameChanged)
    def _push_name(self, event: Any, tracking: Tracking) -> None:
        context = self._context(str(event.originator_id), tracking)
        if context["name"] == context["push_name"]:
            context["name"] = event.push_name
        context["push_name"] = event.push_name

    @process_event.register(ProfileEdited)
    def _edited(self, event: Any, tracking: Tracking) -> None:
        changes = {key: value for key, value in event.changes.items() if key in EDITABLE}
        if changes:
            context = self._context(str(event.originator_id), tracking)
            context.update(stored(changes))

    @process_event.register(StyleLearned)
    def _style(self, event: Any, tracking: Tracking) -> None:
        self._context(str(event.originator_id), tracking)["style"] = stored(event.style)

    # --------------------------------------------------------------- thread

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

    @process_event.register(MessageReceived)
    def _received(self, event: Any, tracking: Tracking) -> None:
        book = self._thread_book(event, tracking)
        if event.from_me or book["own"]:
            book["own"] = event.wa_message_id if event.from_me else ""
            self.changed(STATE, book)
        context = self._context(book["contact_id"], tracking)
        if not event.from_me:
            context["interaction_count"] += 1
        role = "model" if event.from_me else "user"
        self._add_turn(context, role, event.text, utc_ms(event.received_at), event)

    @process_event.register(ReplyGenerated)
    def _generated(self, event: Any, tracking: Tracking) -> None:
        book = self._thread_book(event, tracking)
        context = self._context(book["contact_id"], tracking)
        self._add_turn(context, "model", event.text, utc_ms(event.generated_at), event)

    @process_event.register(SentimentAssessed)
    def _sentiment(self, event: Any, tracking: Tracking) -> None:
        book = self._thread_book(event, tracking)
        if book["own"] == event.wa_message_id:
            return
        context = self._context(book["contact_id"], tracking)
        recent = [*context["sentiment_recent"], event.compound][-TREND:]
        context["sentiment_recent"] = recent
        context["sentiment_trend"] = round(sum(recent) / len(recent), 4)

    @process_event.register(TopicsDetected)
    def _topics(self, event: Any, tracking: Tracking) -> None:
        book = self._thread_book(event, tracking)
        if book["own"] == event.wa_message_id or not event.topics:
            return
        context = self._context(book["contact_id"], tracking)
        fresh = list(dict.fromkeys(event.topics))
        older = [topic for topic in context["recent_topics"] if topic not in fresh]
        context["recent_topics"] = (fresh + older)[:RECENT_TOPICS]

    # -------------------------------------------------------------- persona

    @process_event.register(PersonaDefined)
    def _persona_defined(self, event: Any, tracking: Tracking) -> None:
        book = self.create(
            STATE,
            {
                "_id": f"persona/{event.originator_id}",
                "account": event.account,
                "values": stored(event.profile),
            },
        )
        self._copy_persona(book, tracking)

    @process_event.register(PersonaEdited)
    def _persona_edited(self, event: Any, tracking: Tracking) -> None:
        doc_id = f"persona/{event.originator_id}"
        book = self.require(STATE, doc_id, tracking)
        book["values"] = {**book["values"], **stored(event.changes)}
        self.changed(STATE, book)
        self._copy_persona(book, tracking)

    # -------------------------------------------------------------- helpers

    def _copy_persona(self, book: Document, tracking: Tracking) -> None:
        for context in self.find(CONTEXT, "account", book["account"]):
            context["persona"] = dict(book["values"])
            context["position"] = tracking.notification_id
            self.changed(CONTEXT, context)

    def _add_turn(self, context: Document, role: str, text: str, at: Any, event: Any) -> None:
        turn = {"role": role, "text": text, "at": at, "thread_id": str(event.originator_id)}
        context["recent"] = [*context["recent"], turn][-RECENT_TURNS:]

    def _context(self, contact_id: str, tracking: Tracking) -> Document:
        context = self.require(CONTEXT, contact_id, tracking)
        context["position"] = tracking.notification_id
        self.changed(CONTEXT, context)
        return context

    def _thread_book(self, event: Any, tracking: Tracking) -> Document:
        doc_id = f"thread/{event.originator_id}"
        book = self.require(STATE, doc_id, tracking)
        return book
