"""The reply process's context: one read of the context read model, merged with
the thread the reply process holds."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from parley.domain.application import ParleyApp, ReplyOutcome
from parley.domain.errors import UnknownMessage
from parley.domain.messages import MessageKind
from parley.domain.profiles import DEFAULT_PROFILES, PersonaProfile, Relationship
from parley.projections.context_source import ReadModelContextSource, looks_urgent
from testkit.readmodels import T0, inbound, make_app, project

ANA = "4915100000001@c.us"
FALLBACK = PersonaProfile(name="Fallback", owner_name="Nobody")


@pytest.fixture
def app(mongo_uri: str, database_name: str) -> Iterator[ParleyApp]:
    application = make_app(mongo_uri, database_name)
    yield application
    application.close()


def reply(app: ParleyApp, thread_id: object, wa_id: str, text: str, minutes: float) -> None:
    outcome = ReplyOutcome(text, "gemini-2.5-flash", 500.0, 10, 5, "STOP", "d", False, "")
    app.record_generated(thread_id, wa_id, outcome, T0 + timedelta(minutes=minutes))  # type: ignore[arg-type]


def source(app: ParleyApp, fallback_app: ParleyApp | None = None) -> ReadModelContextSource:
    db = app.recorder.datastore.db
    return ReadModelContextSource(db, FALLBACK, timezone="Europe/Berlin", app=fallback_app)


def test_context_comes_from_one_document_plus_the_exact_thread(app: ParleyApp) -> None:
    app.set_persona("default", PersonaProfile(name="Parley", owner_name="Sam"), by="sam", at=T0)
    old = app.receive(inbound(ANA, "o1", "from the old thread", T0))
    assert old.thread_id is not None
    assert old.contact_id is not None
    reply(app, old.thread_id, "o1", "old answer", 1)
    app.edit_contact(
        old.contact_id, by="sam", at=T0, name="Ana Souza", relationship=Relationship.CLIENT
    )
    later = T0 + timedelta(days=8)
    current = app.receive(inbound(ANA, "n1", "new thread starts", later))
    assert current.thread_id is not None
    project(app)
    # The read model now trails: two more messages it has not seen.
    app.receive(inbound(ANA, "n2", "is anyone there?", later + timedelta(minutes=1)))
    app.receive(inbound(ANA, "n3", "I need this ASAP", later + timedelta(minutes=2)))
    thread = app.get_thread(current.thread_id)

    context = source(app).context_for(thread, "n2", later + timedelta(minutes=1, seconds=5))

    assert [(t.role, t.text) for t in context.history] == [
        ("user", "from the old thread"),
        ("model", "old answer"),
        ("user", "new thread starts"),
    ]
    assert context.inbound_text == "is anyone there?"
    assert context.inbound_kind is MessageKind.TEXT
    assert (context.contact_name, context.relationship) == ("Ana Souza", Relationship.CLIENT)
    assert context.relationship_profile == DEFAULT_PROFILES[Relationship.CLIENT]
    assert context.persona.owner_name == "Sam"
    assert context.interaction_count == 2  # as far as the read model has seen
    assert context.first_contact_at == T0
    assert context.local_time.utcoffset() == timedelta(hours=1)
    assert not context.urgent
    urgent = source(app).context_for(thread, "n3", later + timedelta(minutes=3))
    assert urgent.urgent
    assert [t.text for t in urgent.history][-2:] == ["new thread starts", "is anyone there?"]


def test_a_contact_the_read_model_has_not_seen_is_read_from_its_aggregate(app: ParleyApp) -> None:
    first = app.receive(inbound(ANA, "f1", "first ever message", T0, push_name="Ana"))
    assert first.thread_id is not None
    thread = app.get_thread(first.thread_id)
    with_app = source(app, fallback_app=app).context_for(thread, "f1", T0)
    assert with_app.contact_name == "Ana"
    assert with_app.first_contact_at == T0
    assert with_app.persona == FALLBACK  # no persona was ever defined
    assert with_app.history == ()
    bare = source(app).context_for(thread, "f1", T0)
    assert bare.contact_name == ""
    assert bare.relationship is Relationship.UNKNOWN
    assert bare.inbound_text == "first ever message"


def test_a_very_long_message_is_cut_as_the_intake_cuts_it(app: ParleyApp) -> None:
    long = app.receive(inbound(ANA, "l1", "x" * 5_000, T0))
    assert long.thread_id is not None
    context = source(app).context_for(app.get_thread(long.thread_id), "l1", T0)
    assert context.inbound_text == "x" * 4_000


def test_an_unknown_message_is_refused(app: ParleyApp) -> None:
    first = app.receive(inbound(ANA, "f1", "hello", T0))
    assert first.thread_id is not None
    with pytest.raises(UnknownMessage):
        source(app).context_for(app.get_thread(first.thread_id), "nope", T0)


@pytest.mark.parametrize(
    ("text", "urgent"),
    [
        ("URGENT: call me", True),
        ("asap please", True),
        ("help!!!", True),
        ("see you at urgentville", False),
        ("ok", False),
    ],
)
def test_urgency_is_read_from_plain_cues(text: str, urgent: bool) -> None:
    assert looks_urgent(text) is urgent
