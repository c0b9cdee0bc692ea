"""Aggregates rebuilt from their stored events equal the aggregates that produced
them, over random command sequences (hypothesis), through the real event store."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from parley.domain.application import ParleyApp
from parley.domain.contact import Contact
from parley.domain.errors import DomainError
from parley.domain.messages import DeliveryStatus, MessageKind
from parley.domain.persona import Persona, profile_values
from parley.domain.profiles import CustomContext, LearnedStyle, PersonaProfile, Relationship
from parley.domain.thread import Thread
from parley.eventstore.factory import factory_settings

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
texts = st.text(min_size=0, max_size=40)
minutes = st.integers(min_value=0, max_value=60 * 24 * 9)

thread_commands = st.lists(
    st.one_of(
        st.tuples(
            st.just("receive"), texts, st.sampled_from(list(MessageKind)), st.booleans(), minutes
        ),
        st.tuples(st.just("withhold"), st.integers(0, 5), texts),
        st.tuples(st.just("generate"), st.integers(0, 5), texts, st.booleans()),
        st.tuples(st.just("sent"), st.integers(0, 5), st.integers(1, 4)),
        st.tuples(st.just("failed"), st.integers(0, 5), st.booleans()),
        st.tuples(st.just("delivery"), st.integers(0, 5), st.sampled_from(list(DeliveryStatus))),
        st.tuples(st.just("pause"), texts),
        st.tuples(st.just("resume")),
        st.tuples(st.just("clock"), minutes),
        st.tuples(st.just("manual"), texts),
    ),
    max_size=25,
)

contact_commands = st.lists(
    st.one_of(
        st.tuples(st.just("push_name"), texts),
        st.tuples(st.just("relationship"), st.sampled_from(list(Relationship))),
        st.tuples(
            st.just("edit"), texts, st.integers(0, 10), st.sampled_from(["", "none", "lots"])
        ),
        st.tuples(
            st.just("style"),
            st.floats(0, 5, allow_nan=False),
            st.sampled_from([10, 40, 160]),
            st.sampled_from([0.0, 0.25, 0.5, 1.0]),
        ),
    ),
    max_size=12,
)


@pytest.fixture(scope="module")
def apps(mongo_uri: str) -> Iterator[tuple[ParleyApp, ParleyApp]]:
    database = f"rebuild_{uuid4().hex[:8]}"
    writer = ParleyApp(env=factory_settings(mongo_uri, database))
    # A second application with no aggregate cache: every get is a rebuild.
    reader = ParleyApp(env={**factory_settings(mongo_uri, database), "AGGREGATE_CACHE_MAXSIZE": ""})
    yield writer, reader
    writer.close()
    reader.close()


def apply_thread_command(thread: Thread, command: tuple[Any, ...], counter: list[int]) -> None:
    name = command[0]
    pending = list(thread.pending)
    unsent = list(thread.unsent)
    sent = [rid for rid, reply in thread.replies.items() if reply["wa_message_id"]]
    at = thread.last_message_at + timedelta(minutes=1)
    if name == "receive":
        _, text, kind, from_me, offset = command
        counter[0] += 1
        moment = T0 + timedelta(minutes=offset)
        thread.receive(
            wa_message_id=f"w{counter[0]}",
            sender="491",
            push_name="P",
            kind=kind,
            text=text,
            media={"mime_type": "image/png", "size_bytes": 10}
            if kind is MessageKind.IMAGE
            else None,
            sent_at=moment,
            received_at=max(moment, thread.last_message_at),
            quoted_message_id="",
            from_me=from_me,
            mentions_me=False,
            extra={"k": text[:5]},
        )
    elif name == "withhold" and pending:
        thread.withhold_reply(
            wa_message_id=pending[command[1] % len(pending)], reason=command[2], at=at
        )
    elif name == "generate" and pending:
        thread.record_generated(
            in_reply_to=pending[command[1] % len(pending)],
            text=command[2],
            model="m",
            latency_ms=1.5,
            prompt_tokens=3,
            response_tokens=None,
            finish_reason="STOP",
            context_digest="d",
            is_fallback=command[3],
            fallback_reason="why" if command[3] else "",
            generated_at=at,
        )
    elif name == "sent" and unsent:
        reply_id = unsent[command[1] % len(unsent)]
        thread.record_sent(
            reply_id=reply_id, wa_message_id=f"out-{reply_id}", attempts=command[2], sent_at=at
        )
    elif name == "failed" and unsent:
        reply_id = unsent[command[1] % len(unsent)]
        thread.record_failed(
            reply_id=reply_id, reason="x", attempts=2, permanent=command[2], failed_at=at
        )
    elif name == "delivery" and sent:
        thread.record_delivery(
            wa_message_id=f"out-{sent[command[1] % len(sent)]}", status=command[2], at=at
        )
    elif name == "pause":
        thread.pause_bot(by="op", reason=command[1], at=at)
    elif name == "resume":
        thread.resume_bot(by="op", at=at)
    elif name == "clock":
        thread.catch_up_clock(thread.last_message_at + timedelta(minutes=command[1]))
    elif name == "manual":
        counter[0] += 1
        thread.queue_manual_reply(request_id=f"r{counter[0]}", text=command[1], by="op", at=at)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(commands=thread_commands, save_every=st.integers(1, 6))
def test_a_rebuilt_thread_equals_the_thread_that_produced_its_events(
    apps: tuple[ParleyApp, ParleyApp], commands: list[tuple[Any, ...]], save_every: int
) -> None:
    writer, reader = apps
    thread = Thread(
        account="acct",
        conversation_id=uuid4(),
        chat_id="491@c.us",
        contact_id=uuid4(),
        number=1,
        is_group=False,
        previous_thread_id=None,
        opened_at=T0,
    )
    counter = [0]
    for index, command in enumerate(commands, start=1):
        with contextlib.suppress(DomainError):  # a refused command records nothing
            apply_thread_command(thread, command, counter)
        if index % save_every == 0:
            writer.save(thread)
    writer.save(thread)
    assert reader.repository.get(thread.id) == thread


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(commands=contact_commands, persona_name=st.text(min_size=1, max_size=20).filter(str.strip))
def test_rebuilt_contacts_and_personas_equal_the_originals(
    apps: tuple[ParleyApp, ParleyApp], commands: list[tuple[Any, ...]], persona_name: str
) -> None:
    writer, reader = apps
    account = uuid4().hex
    contact = Contact(account=account, number="4912345", push_name="Ana", at=T0)
    persona = Persona(account=account, profile=profile_values(PersonaProfile()), by="file", at=T0)
    for command in commands:
        name = command[0]
        try:
            if name == "push_name":
                contact.note_push_name(push_name=command[1], at=T0)
            elif name == "relationship":
                contact.edit(by="op", at=T0, relationship=command[1])
            elif name == "edit":
                contact.edit(
                    by="op",
                    at=T0,
                    preferred_name=command[1],
                    priority=command[2],
                    custom=CustomContext(
                        personality=command[1], topics=(command[1],), emoji_preference=command[3]
                    ),
                )
            elif name == "style":
                style = LearnedStyle(
                    emoji_rate=round(command[1] * 2) / 2,
                    typical_length=command[2],
                    formality=command[3],
                    samples=3,
                )
                contact.learn_style(style=style, at=T0)
        except DomainError:
            pass
    persona.edit(profile=PersonaProfile(name=persona_name, services=("a", "b")), by="op", at=T0)
    writer.save(contact, persona)
    assert reader.repository.get(contact.id) == contact
    assert reader.repository.get(persona.id) == persona
