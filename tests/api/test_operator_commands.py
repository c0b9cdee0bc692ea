"""Operator commands go to the write side (real aggregates, real event store)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from uuid import UUID

import pytest
from parley.domain.application import IntakeResult, ParleyApp
from parley.domain.thread import Thread
from parley.http.auth import operator_name
from testkit.api import OTHER_TOKEN, bearer, inbound, open_parley
from testkit.seeding import EPOCH


@pytest.fixture
def parley(mongo_uri: str, database_name: str) -> Iterator[ParleyApp]:
    app = open_parley(mongo_uri, database_name)
    yield app
    app.close()


@pytest.fixture
def chat(parley: ParleyApp) -> IntakeResult:
    result = parley.receive(inbound("15551234567", "Hello there", EPOCH, wa_message_id="w1"))
    assert result.thread_id is not None
    assert result.contact_id is not None
    return result


def events_of(parley: ParleyApp, aggregate_id: UUID) -> list[object]:
    return list(parley.repository.event_store.get(aggregate_id))


async def test_editing_a_contact_records_the_operators_edit(client, parley, chat):
    response = await client.patch(
        f"/api/v1/contacts/{chat.contact_id}",
        json={
            "name": "Ana <Souza>",
            "relationship": "client",
            "priority": 7,
            "language": "pt-BR",
            "custom": {"personality": "direct", "topics": ["invoices"], "emoji_preference": "none"},
        },
        headers=bearer(OTHER_TOKEN),
    )
    assert response.status == 202, await response.text()
    answer = await response.json()
    assert answer["by"] == operator_name(OTHER_TOKEN.encode())
    contact = await asyncio.to_thread(parley.get_contact, chat.contact_id)
    assert contact.name == "Ana <Souza>"  # stored as written
    assert contact.relationship == "client"
    assert contact.priority == 7
    assert contact.language == "pt-BR"
    assert contact.custom_context.topics == ("invoices",)
    assert contact.custom_context.emoji_preference == "none"
    assert answer["version"] == contact.version
    edited = events_of(parley, chat.contact_id)[-1]
    assert type(edited).__name__ == "ProfileEdited"
    assert edited.by == answer["by"]  # type: ignore[attr-defined]


async def test_a_refused_edit_changes_nothing(client, parley, chat):
    before = await asyncio.to_thread(parley.get_contact, chat.contact_id)
    for body in ({"priority": 11}, {"name": {"$gt": ""}}, {"custom": {"emoji_preference": "x"}}):
        response = await client.patch(
            f"/api/v1/contacts/{chat.contact_id}", json=body, headers=bearer()
        )
        assert response.status == 400
    after = await asyncio.to_thread(parley.get_contact, chat.contact_id)
    assert after.version == before.version


async def test_editing_an_unknown_contact_is_404(client, parley):
    response = await client.patch(
        "/api/v1/contacts/00000000-0000-4000-8000-000000000000",
        json={"name": "Nobody"},
        headers=bearer(),
    )
    assert response.status == 404


async def test_pausing_and_resuming_the_bot_on_a_thread(client, parley, chat):
    path = f"/api/v1/threads/{chat.thread_id}"
    paused = await client.post(f"{path}/pause", json={"reason": "I'll answer"}, headers=bearer())
    assert paused.status == 202
    thread: Thread = await asyncio.to_thread(parley.get_thread, chat.thread_id)
    assert thread.bot_paused
    event = events_of(parley, chat.thread_id)[-1]
    assert type(event).__name__ == "BotPaused"
    assert event.reason == "I'll answer"  # type: ignore[attr-defined]
    resumed = await client.post(f"{path}/resume", json={}, headers=bearer())
    assert resumed.status == 202
    thread = await asyncio.to_thread(parley.get_thread, chat.thread_id)
    assert not thread.bot_paused


async def test_a_manual_reply_is_queued_once_per_request_id(client, parley, chat, clock):
    clock.now = EPOCH + timedelta(minutes=2)
    body = {"text": "I'll call you <tonight>", "request_id": "req-1"}
    path = f"/api/v1/threads/{chat.thread_id}/replies"
    first = await (await client.post(path, json=body, headers=bearer())).json()
    again = await (await client.post(path, json=body, headers=bearer())).json()
    assert first["reply_id"] == again["reply_id"]
    thread: Thread = await asyncio.to_thread(parley.get_thread, chat.thread_id)
    manual = [r for r in thread.replies.values() if r["manual"]]
    assert len(manual) == 1
    assert manual[0]["text"] == "I'll call you <tonight>"
    generated = events_of(parley, chat.thread_id)[-1]
    assert generated.generated_at == clock.now  # type: ignore[attr-defined]


async def test_a_command_on_an_unknown_thread_is_404(client, parley):
    response = await client.post(
        "/api/v1/threads/00000000-0000-4000-8000-000000000000/pause", json={}, headers=bearer()
    )
    assert response.status == 404


async def test_the_persona_is_defined_then_edited(client, parley):
    initial = await (await client.get("/api/v1/persona", headers=bearer())).json()
    assert initial["defined"] is False
    body = {
        "name": "Sam's assistant",
        "owner_name": "Sam",
        "organisation": "Sam's Studio",
        "services": ["portraits", "weddings"],
        "instructions": "Never quote prices.",
        "tone": "warm",
    }
    assert (await client.put("/api/v1/persona", json=body, headers=bearer())).status == 202
    shown = await (await client.get("/api/v1/persona", headers=bearer())).json()
    assert shown == {"account": "default", "defined": True, **body}
    edited = await client.put("/api/v1/persona", json={"name": "Sam's bot"}, headers=bearer())
    assert edited.status == 202
    shown = await (await client.get("/api/v1/persona", headers=bearer())).json()
    assert shown["name"] == "Sam's bot"
    assert shown["services"] == []  # a PUT replaces the whole persona


async def test_a_blank_persona_name_is_refused(client, parley):
    response = await client.put("/api/v1/persona", json={"name": "   "}, headers=bearer())
    assert response.status == 400
    assert "name" in (await response.json())["error"]["message"]
    persona = await (await client.get("/api/v1/persona", headers=bearer())).json()
    assert persona["defined"] is False
