"""A conversation's full history, read straight from the event log.

`conversation_history(app, account, chat_id)` returns every event of the chat's
Conversation, of each of its Threads and of its Contact, oldest first, decoded
into JSON-ready `AuditEntry` values. Nothing here reads a read model, so what
it shows is what was recorded.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.persistence import StoredEvent
from parley.domain import ids
from parley.domain.application import ParleyApp
from parley.eventstore.datastore import Document
from parley.eventstore.recorders import MongoApplicationRecorder
from parley.projections.errors import InvalidChat, InvalidTime
from parley.projections.events import ConversationStarted, ConversationThreadOpened
from parley.projections.values import jsonable
from pymongo.cursor import Cursor

_CHAT_ID = re.compile(r"^[1-9]\d{5,14}@(c\.us|s\.whatsapp\.net)$")
_GROUP_ID = re.compile(r"^\d{6,20}(-\d{6,12})?@g\.us$")
_PHONE = re.compile(r"^\+?[\d\s().\-/]+$")
_METADATA = frozenset(("originator_id", "originator_version", "timestamp", "originator_topic"))
CHAT_HELP = (
    "a chat id such as 4915112345678@c.us, a group id such as 120363041234567890@g.us, "
    "or a phone number in international format such as +49 151 12345678"
)


@dataclass(frozen=True)
class AuditEntry:
    """One recorded event, as the audit shows it."""

    position: int  # the event's place in the log (notification id)
    recorded_at: datetime | None  # when the store wrote it
    aggregate: str  # "Conversation", "Thread", "Contact", "Persona"
    originator_id: str
    version: int
    event: str  # e.g. "Thread.MessageReceived"
    data: dict[str, Any]  # the event's fields, JSON-ready

    def to_json(self) -> dict[str, Any]:
        return {
            "position": self.position,
            "recorded_at": jsonable(self.recorded_at),
            "aggregate": self.aggregate,
            "originator_id": self.originator_id,
            "version": self.version,
            "event": self.event,
            "data": self.data,
        }

    def json_line(self) -> str:
        return orjson.dumps(self.to_json()).decode()

    def line(self) -> str:
        """One readable line: position, time, event, aggregate, then the fields."""
        when = jsonable(self.recorded_at) if self.recorded_at else "-"
        fields = orjson.dumps(self.data).decode()
        return (
            f"{self.position:>8} {when} {self.event} "
            f"{self.originator_id[:8]} v{self.version} {fields}"
        )


def parse_chat(text: str) -> str:
    """The chat id a person meant, from a chat id or a phone number; raises
    InvalidChat with one line saying what is expected."""
    value = text.strip()
    if "@" in value:
        if _CHAT_ID.match(value) or _GROUP_ID.match(value):
            return value
        raise InvalidChat(f"{text!r} is not a WhatsApp chat id; expected {CHAT_HELP}")
    if not _PHONE.match(value):
        raise InvalidChat(f"{text!r} is not a chat id or a phone number; expected {CHAT_HELP}")
    digits = re.sub(r"\D", "", value)
    if digits.startswith("00"):
        digits = digits[2:]  # the international call prefix, as dialled in Europe
    if digits.startswith("0") or not 6 <= len(digits) <= 15:
        raise InvalidChat(
            f"{text!r} is not a phone number in international format; expected {CHAT_HELP}"
        )
    return f"{digits}@c.us"


def parse_time(text: str) -> datetime:
    """An ISO 8601 time (a date alone means its midnight UTC); zone-less times
    are UTC. Raises InvalidTime."""
    value = text.strip()
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise InvalidTime(
            f"{text!r} is not a time; use ISO 8601 such as 2025-03-04T12:30:00Z"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def conversation_history(
    app: ParleyApp, account: str, chat_id: str, as_of: datetime | None = None
) -> list[AuditEntry]:
    """Every event of one chat (its Conversation, Threads and Contact), oldest
    first, as recorded up to `as_of` (all of them if None); [] for an unknown chat."""
    recorder = events_recorder(app)
    conversation_id = ids.conversation_id(account, chat_id)
    conversation = list(_documents(recorder, [conversation_id], as_of))
    if not conversation:
        return []
    members: list[UUID] = []
    for document in conversation:
        event = app.mapper.to_domain_event(stored_event(document))
        if isinstance(event, ConversationStarted):
            members.append(event.contact_id)
        elif isinstance(event, ConversationThreadOpened):
            members.append(event.thread_id)
    documents = [*conversation, *_documents(recorder, members, as_of)]
    documents.sort(key=lambda document: int(document["notification_id"]))
    return [entry_from_document(app, document) for document in documents]


def entry_from_document(app: ParleyApp, document: Document) -> AuditEntry:
    """An event document of the events collection, decoded."""
    event = app.mapper.to_domain_event(stored_event(document))
    topic: str = document["topic"]
    qualname = topic.split(":", 1)[-1]
    data = {key: jsonable(value) for key, value in vars(event).items() if key not in _METADATA}
    recorded_at = document.get("recorded_at")
    if isinstance(recorded_at, datetime) and recorded_at.tzinfo is None:
        recorded_at = recorded_at.replace(tzinfo=UTC)
    return AuditEntry(
        position=int(document["notification_id"]),
        recorded_at=recorded_at,
        aggregate=qualname.split(".", 1)[0],
        originator_id=str(document["originator_id"]),
        version=int(document["originator_version"]),
        event=qualname,
        data=data,
    )


def events_recorder(app: ParleyApp) -> MongoApplicationRecorder:
    recorder = app.recorder
    if not isinstance(recorder, MongoApplicationRecorder):
        msg = "the audit reads Parley's MongoDB event store"
        raise TypeError(msg)
    return recorder


def events_of(
    recorder: MongoApplicationRecorder,
    originator_id: UUID,
    *,
    at: datetime | None = None,
    position: int | None = None,
) -> Iterator[Document]:
    """One aggregate's event documents in version order, recorded up to `at`
    and/or `position`.

    The query names only the aggregate, which the (originator_id,
    originator_version) index answers; the cut is made here, at the first event
    beyond it. On the embedded server a range on `recorded_at` beside it makes
    the planner scan the whole collection, and a `hint` scans the whole index.
    """
    for document in events_query(recorder, originator_id):
        if at is not None and _aware(document.get("recorded_at")) > at:
            break
        if position is not None and int(document["notification_id"]) > position:
            break
        yield document


def events_query(recorder: MongoApplicationRecorder, originator_id: UUID) -> Cursor[Document]:
    """The query `events_of` runs (for checking its plan)."""
    return recorder.events.find({"originator_id": originator_id}).sort("originator_version", 1)


def _aware(moment: datetime | None) -> datetime:
    if moment is None:
        return datetime.max.replace(tzinfo=UTC)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _documents(
    recorder: MongoApplicationRecorder, originator_ids: Iterable[UUID], as_of: datetime | None
) -> Iterator[Document]:
    """The event documents of each aggregate in version order, one indexed query
    per aggregate (a long `$in` is slow on the embedded server)."""
    for originator_id in originator_ids:
        with recorder.datastore.translated_errors():
            yield from events_of(recorder, originator_id, at=as_of)


def stored_event(document: Document) -> StoredEvent:
    return StoredEvent(
        originator_id=document["originator_id"],
        originator_version=document["originator_version"],
        topic=document["topic"],
        state=document["state"],
    )
