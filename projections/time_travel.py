"""A thread's or a contact's state as it was at a past time or log position.

The aggregate is rebuilt from its own events, read with the (originator_id,
originator_version) index and cut off by `recorded_at` (a time) or by
`notification_id` (a log position), and returned as a plain JSON-ready dict.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate
from parley.domain.application import ParleyApp
from parley.domain.contact import Contact
from parley.domain.errors import NotFound
from parley.domain.thread import Thread
from parley.eventstore.datastore import Document
from parley.projections.audit import events_of, events_recorder, stored_event
from parley.projections.values import jsonable


def thread_as_of(
    app: ParleyApp, thread_id: UUID, *, at: datetime | None = None, position: int | None = None
) -> dict[str, Any]:
    """The thread as recorded up to `at` and/or `position` (now if neither).
    Raises NotFound if it did not exist by then."""
    thread, last = _rebuild(app, thread_id, Thread, at, position)
    assert isinstance(thread, Thread)
    state = {
        "account": thread.account,
        "conversation_id": thread.conversation_id,
        "chat_id": thread.chat_id,
        "contact_id": thread.contact_id,
        "number": thread.number,
        "is_group": thread.is_group,
        "previous_thread_id": thread.previous_thread_id,
        "opened_at": thread.opened_at,
        "state": thread.state,
        "bot_paused": thread.bot_paused,
        "last_message_at": thread.last_message_at,
        "inbound": [{"wa_message_id": wa_id, **record} for wa_id, record in thread.inbound.items()],
        "pending": thread.pending,
        "replies": [
            {"reply_id": reply_id, **record} for reply_id, record in thread.replies.items()
        ],
        "unsent": thread.unsent,
        "turns": thread.turns,
    }
    return _result(thread, last, at, position, state)


def contact_as_of(
    app: ParleyApp, contact_id: UUID, *, at: datetime | None = None, position: int | None = None
) -> dict[str, Any]:
    """The contact as recorded up to `at` and/or `position` (now if neither).
    Raises NotFound if it did not exist by then."""
    contact, last = _rebuild(app, contact_id, Contact, at, position)
    assert isinstance(contact, Contact)
    state = {
        "account": contact.account,
        "number": contact.number,
        "push_name": contact.push_name,
        "name": contact.name,
        "preferred_name": contact.preferred_name,
        "relationship": contact.relationship,
        "priority": contact.priority,
        "language": contact.language,
        "custom": contact.custom,
        "style": contact.style,
        "first_seen_at": contact.first_seen_at,
    }
    return _result(contact, last, at, position, state)


def _rebuild(
    app: ParleyApp,
    aggregate_id: UUID,
    kind: type[Aggregate],
    at: datetime | None,
    position: int | None,
) -> tuple[Aggregate, Document]:
    recorder = events_recorder(app)
    aggregate: Any = None
    last: Document | None = None
    with recorder.datastore.translated_errors():
        for document in events_of(recorder, aggregate_id, at=at, position=position):
            event: Any = app.mapper.to_domain_event(stored_event(document))
            aggregate = event.mutate(aggregate)
            last = document
    if aggregate is None or last is None:
        raise NotFound(f"{kind.__name__} {aggregate_id} had no events by then")
    if not isinstance(aggregate, kind):
        raise NotFound(f"{aggregate_id} is not a {kind.__name__}")
    return aggregate, last


def _result(
    aggregate: Aggregate,
    last: Document,
    at: datetime | None,
    position: int | None,
    state: dict[str, Any],
) -> dict[str, Any]:
    result: dict[str, Any] = jsonable(
        {
            "id": aggregate.id,
            "version": aggregate.version,
            "as_of": {"at": at, "position": position},
            "last_event": {
                "position": last.get("notification_id"),
                "recorded_at": last.get("recorded_at"),
                "event": str(last["topic"]).split(":", 1)[-1],
            },
            "state": state,
        }
    )
    return result
