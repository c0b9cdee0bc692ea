"""The audit and time travel: the event log read back through the API."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from parley.domain.application import IntakeResult, ParleyApp
from testkit.api import bearer, inbound, open_parley
from testkit.seeding import EPOCH

NUMBER = "15551234567"


@pytest.fixture
def parley(mongo_uri: str, database_name: str) -> Iterator[ParleyApp]:
    app = open_parley(mongo_uri, database_name)
    yield app
    app.close()


@pytest.fixture
def chat(parley: ParleyApp) -> IntakeResult:
    result = parley.receive(inbound(NUMBER, "Hello <there>", EPOCH, wa_message_id="w1"))
    parley.receive(
        inbound(NUMBER, "Still there?", EPOCH + timedelta(minutes=1), wa_message_id="w2")
    )
    return result


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


async def test_the_audit_lists_a_chats_events_oldest_first(client, parley, chat):
    response = await client.get(f"/api/v1/audit?chat={NUMBER}@c.us", headers=bearer())
    assert response.status == 200
    audit = await response.json()
    events = [entry["event"] for entry in audit["items"]]
    assert events[0] in ("Contact.Registered", "Conversation.Started")
    assert events.count("Thread.MessageReceived") == 2
    positions = [entry["position"] for entry in audit["items"]]
    assert positions == sorted(positions)
    received = next(e for e in audit["items"] if e["event"] == "Thread.MessageReceived")
    assert received["data"]["text"] == "Hello <there>"  # as written
    assert audit["next_after"] is None

    # A phone number in international format names the same chat.
    by_phone = await (
        await client.get("/api/v1/audit?chat=%2B1%20555%20123%204567", headers=bearer())
    ).json()
    assert by_phone["items"] == audit["items"]


async def test_the_audit_pages_by_position(client, parley, chat):
    everything = await (
        await client.get(f"/api/v1/audit?chat={NUMBER}@c.us", headers=bearer())
    ).json()
    seen, after = [], 0
    while after is not None:
        page = await (
            await client.get(
                f"/api/v1/audit?chat={NUMBER}@c.us&limit=3&after={after}", headers=bearer()
            )
        ).json()
        seen += page["items"]
        after = page["next_after"]
    assert seen == everything["items"]


async def test_the_audit_as_of_a_time_leaves_out_later_events(client, parley, chat):
    cut = datetime.now(UTC)
    await asyncio.sleep(0.01)
    await asyncio.to_thread(
        parley.edit_contact, chat.contact_id, by="test", at=EPOCH, name="Ana Edited"
    )
    now = await (await client.get(f"/api/v1/audit?chat={NUMBER}@c.us", headers=bearer())).json()
    then = await (
        await client.get(f"/api/v1/audit?chat={NUMBER}@c.us&as_of={rfc3339(cut)}", headers=bearer())
    ).json()
    assert "Contact.ProfileEdited" in [e["event"] for e in now["items"]]
    assert "Contact.ProfileEdited" not in [e["event"] for e in then["items"]]
    assert then["items"] == now["items"][: len(then["items"])]


async def test_an_unknown_chat_has_no_history_and_a_bad_one_is_400(client, parley):
    empty = await (await client.get("/api/v1/audit?chat=15559999999@c.us", headers=bearer())).json()
    assert empty["items"] == []
    bad = await client.get("/api/v1/audit?chat=hello", headers=bearer())
    assert bad.status == 400
    assert "chat id" in (await bad.json())["error"]["message"]


async def test_a_thread_as_of_a_log_position(client, parley, chat):
    await asyncio.to_thread(parley.pause_bot, chat.thread_id, by="test", reason="", at=EPOCH)
    path = f"/api/v1/threads/{chat.thread_id}/as-of"
    now = await (await client.get(path, headers=bearer())).json()
    assert now["state"]["bot_paused"] is True
    assert now["last_event"]["event"] == "Thread.BotPaused"
    before = now["last_event"]["position"] - 1
    then = await (await client.get(f"{path}?position={before}", headers=bearer())).json()
    assert then["state"]["bot_paused"] is False
    assert then["version"] == now["version"] - 1
    assert [m["text"] for m in then["state"]["inbound"]] == ["Hello <there>", "Still there?"]


async def test_a_contact_as_of_a_time(client, parley, chat):
    cut = datetime.now(UTC)
    await asyncio.sleep(0.01)
    await asyncio.to_thread(
        parley.edit_contact, chat.contact_id, by="test", at=EPOCH, name="Ana Edited"
    )
    path = f"/api/v1/contacts/{chat.contact_id}/as-of"
    now = await (await client.get(path, headers=bearer())).json()
    then = await (await client.get(f"{path}?at={rfc3339(cut)}", headers=bearer())).json()
    assert now["state"]["name"] == "Ana Edited"
    assert then["state"]["name"] == "Ana Souza"


async def test_time_travel_before_a_thread_existed_is_404(client, parley, chat):
    response = await client.get(
        f"/api/v1/threads/{chat.thread_id}/as-of?at=2000-01-01T00:00:00Z", headers=bearer()
    )
    assert response.status == 404
    unknown = await client.get(
        "/api/v1/contacts/00000000-0000-4000-8000-000000000000/as-of", headers=bearer()
    )
    assert unknown.status == 404
