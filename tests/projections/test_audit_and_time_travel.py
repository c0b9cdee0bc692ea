"""The event history of a chat, and aggregates as they were at a past moment."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from uuid import UUID

import orjson
import pytest
from parley.domain import ids
from parley.domain.application import ParleyApp
from parley.domain.errors import NotFound
from parley.domain.profiles import Relationship
from parley.projections.audit import AuditEntry, conversation_history, parse_chat, parse_time
from parley.projections.errors import InvalidChat, InvalidTime
from parley.projections.lease import LeaseStore, lease_id
from parley.projections.status import projection_status
from parley.projections.tail import tail
from parley.projections.time_travel import contact_as_of, thread_as_of
from testkit.live import LiveHistory
from testkit.readmodels import T0, inbound, make_app, project

ANA = "4915100000001@c.us"


@pytest.fixture
def app(mongo_uri: str, database_name: str) -> Iterator[ParleyApp]:
    application = make_app(mongo_uri, database_name)
    yield application
    application.close()


def two_threads(app: ParleyApp) -> tuple[UUID, UUID]:
    first = app.receive(inbound(ANA, "a1", "hi", T0))
    assert first.contact_id is not None
    assert first.thread_id is not None
    app.edit_contact(
        first.contact_id, by="sam", at=T0, name="Ana Souza", relationship=Relationship.FRIEND
    )
    second = app.receive(inbound(ANA, "a2", "back after a while", T0 + timedelta(days=8)))
    assert second.thread_id is not None
    return first.thread_id, second.thread_id


def test_the_history_spans_conversation_threads_and_contact_oldest_first(app: ParleyApp) -> None:
    first, second = two_threads(app)
    app.receive(inbound("4915100000002@c.us", "b1", "someone else", T0))
    history = conversation_history(app, "default", ANA)
    positions = [entry.position for entry in history]
    assert positions == sorted(positions)
    assert len(set(positions)) == len(positions)
    events = [entry.event for entry in history]
    assert events[:2] == ["Contact.Registered", "Contact.StyleLearned"]
    assert {"Conversation.Started", "Conversation.ThreadOpened", "Contact.ProfileEdited"} <= set(
        events
    )
    assert {entry.originator_id for entry in history if entry.aggregate == "Thread"} == {
        str(first),
        str(second),
    }
    assert "Thread.Archived" in events
    assert all("someone else" not in entry.json_line() for entry in history)
    received = next(e for e in history if e.event == "Thread.MessageReceived")
    assert received.data["text"] == "hi"
    assert received.data["received_at"] == "2025-03-03T09:00:00Z"


def test_as_of_shows_only_what_was_recorded_by_then(app: ParleyApp) -> None:
    two_threads(app)
    history = conversation_history(app, "default", ANA)
    edited = next(e for e in history if e.event == "Contact.ProfileEdited")
    assert edited.recorded_at is not None
    earlier = conversation_history(app, "default", ANA, as_of=edited.recorded_at)
    assert earlier == history[: len(earlier)]
    assert edited in earlier
    assert all(e.recorded_at is not None and e.recorded_at <= edited.recorded_at for e in earlier)
    assert not any(e.event == "Thread.Archived" for e in earlier)
    assert (
        conversation_history(
            app, "default", ANA, as_of=history[0].recorded_at - timedelta(seconds=1)
        )
        == []
    )  # type: ignore[operator]


def test_an_unknown_chat_has_no_history(app: ParleyApp) -> None:
    assert conversation_history(app, "default", "4915199999999@c.us") == []


def test_audit_entries_are_json_lines_and_readable_lines(app: ParleyApp) -> None:
    app.receive(inbound(ANA, "x1", "line one\nline two \x1b[31mred", T0))
    entry = next(
        e for e in conversation_history(app, "default", ANA) if e.event == "Thread.MessageReceived"
    )
    assert isinstance(entry, AuditEntry)
    decoded = orjson.loads(entry.json_line())
    assert decoded["data"]["text"] == "line one\nline two \x1b[31mred"  # stored as written
    line = entry.line()
    assert "\n" not in line
    assert "\x1b" not in line
    assert line.split()[0] == str(entry.position)


@pytest.mark.parametrize(
    ("given", "chat"),
    [
        ("4915112345678@c.us", "4915112345678@c.us"),
        ("+49 151 12345678", "4915112345678@c.us"),
        ("0049 (151) 123-45678", "4915112345678@c.us"),
        ("120363041234567890@g.us", "120363041234567890@g.us"),
        ("4915112345678-1600000000@g.us", "4915112345678-1600000000@g.us"),
    ],
)
def test_chat_ids_and_phone_numbers_are_understood(given: str, chat: str) -> None:
    assert parse_chat(given) == chat


@pytest.mark.parametrize(
    "given",
    [
        "",
        "abc",
        "12345",
        "0151 12345678",
        "4915112345678@x.us",
        "+49 151 1234567890123",
        "49151;drop",
    ],
)
def test_anything_else_is_refused_with_one_clear_line(given: str) -> None:
    with pytest.raises(InvalidChat) as caught:
        parse_chat(given)
    assert "\n" not in str(caught.value)
    assert "+49 151 12345678" in str(caught.value)


def test_times_are_read_as_iso_8601_utc_by_default() -> None:
    assert parse_time("2025-03-03T09:00:00Z") == T0
    assert parse_time("2025-03-03T09:00:00") == T0
    assert parse_time("2025-03-03T10:00:00+01:00") == T0
    with pytest.raises(InvalidTime):
        parse_time("yesterday")


def test_a_thread_as_of_a_position_and_a_time(app: ParleyApp) -> None:
    first, _ = two_threads(app)
    history = conversation_history(app, "default", ANA)
    opened = next(
        e for e in history if e.event == "Thread.Opened" and e.originator_id == str(first)
    )
    received = next(e for e in history if e.event == "Thread.MessageReceived")
    early = thread_as_of(app, first, position=opened.position)
    assert early["state"]["inbound"] == []
    assert early["version"] == 1
    assert early["last_event"]["event"] == "Thread.Opened"
    later = thread_as_of(app, first, position=received.position)
    assert [m["wa_message_id"] for m in later["state"]["inbound"]] == ["a1"]
    assert later["state"]["state"] == "active"
    now = thread_as_of(app, first)
    assert now["state"]["state"] == "archived"
    by_time = thread_as_of(app, first, at=received.recorded_at)
    assert by_time["state"]["inbound"] == later["state"]["inbound"]
    assert orjson.loads(orjson.dumps(now)) == now  # plain JSON values throughout
    with pytest.raises(NotFound):
        thread_as_of(app, first, position=opened.position - 1)


def test_a_contact_as_of_before_and_after_an_edit(app: ParleyApp) -> None:
    two_threads(app)
    contact_id = ids.contact_id("default", "4915100000001")
    history = conversation_history(app, "default", ANA)
    edit = next(e for e in history if e.event == "Contact.ProfileEdited")
    before = contact_as_of(app, contact_id, position=edit.position - 1)
    after = contact_as_of(app, contact_id, position=edit.position)
    assert (before["state"]["name"], before["state"]["relationship"]) == ("Ana", "unknown")
    assert (after["state"]["name"], after["state"]["relationship"]) == ("Ana Souza", "friend")
    with pytest.raises(NotFound):
        contact_as_of(app, ids.thread_id(ids.conversation_id("default", ANA), 1))


def test_status_reports_position_lag_and_holder(app: ParleyApp) -> None:
    two_threads(app)
    project(app, ["threads"])
    head = app.recorder.max_notification_id()
    LeaseStore(app.recorder.datastore.db, "projector:test", 30).acquire(lease_id("threads", "main"))
    rows = {row["name"]: row for row in projection_status(app.recorder.datastore.db, app.recorder)}
    assert (rows["threads"]["position"], rows["threads"]["lag"], rows["threads"]["holder"]) == (
        head,
        0,
        "projector:test",
    )
    assert (rows["messages"]["position"], rows["messages"]["lag"], rows["messages"]["holder"]) == (
        0,
        head,
        None,
    )


def test_tail_follows_new_events_as_they_are_recorded(app: ParleyApp) -> None:
    app.receive(inbound(ANA, "old", "before the tail started", T0))
    stop = threading.Event()
    seen: list[AuditEntry] = []

    def follow() -> None:
        for entry in tail(app, after=app.recorder.max_notification_id(), stop=stop, wait=0.1):
            seen.append(entry)
            if entry.event == "Thread.MessageReceived" and entry.data["wa_message_id"] == "new2":
                stop.set()

    follower = threading.Thread(target=follow)
    follower.start()
    app.receive(inbound(ANA, "new1", "first after", T0 + timedelta(minutes=1)))
    app.receive(inbound(ANA, "new2", "second after", T0 + timedelta(minutes=2)))
    follower.join(timeout=30)
    stop.set()
    assert not follower.is_alive()
    texts = [e.data["text"] for e in seen if e.event == "Thread.MessageReceived"]
    assert texts == ["first after", "second after"]
    assert all(e.recorded_at is not None for e in seen)


def test_the_live_history_has_auditable_group_and_direct_chats(live_history: LiveHistory) -> None:
    app = live_history.app
    group = next(chat for chat in live_history.report.chats if chat.endswith("@g.us"))
    direct = live_history.report.chats[0]
    for chat in (group, direct):
        history = conversation_history(app, "default", chat)
        assert history
        assert history[0].position < history[-1].position
        assert {"Conversation", "Thread", "Contact"} <= {e.aggregate for e in history}
