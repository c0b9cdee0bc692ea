"""Events written by the real write side, projected by the real projector (running
in a thread, as `parley projector` runs it), read and commanded through the API."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from parley.domain.application import ParleyApp, ReplyOutcome
from parley.projections.runner import Projector
from parley.projections.settings import ProjectorSettings
from testkit.api import bearer, inbound, open_parley
from testkit.seeding import EPOCH, bridge_status_document

ANA, BEN = "15551230001", "15551230002"


@pytest.fixture
def parley(mongo_uri: str, database_name: str) -> Iterator[ParleyApp]:
    app = open_parley(mongo_uri, database_name)
    yield app
    app.close()


async def eventually(check: Callable[[], Awaitable[Any]], what: str) -> Any:
    """Polls `check` until it returns something truthy (the projector is asynchronous);
    the limit only keeps a broken run from hanging."""
    deadline = time.monotonic() + 30
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def write_history(parley: ParleyApp) -> dict[str, Any]:
    ana = parley.receive(inbound(ANA, "Are we on for Friday?", EPOCH, wa_message_id="a1"))
    parley.receive(
        inbound(ANA, "<script>alert(1)</script>", EPOCH + timedelta(minutes=1), wa_message_id="a2")
    )
    ben = parley.receive(
        inbound(
            BEN, "Invoice please", EPOCH + timedelta(minutes=2), wa_message_id="b1", push_name="Ben"
        )
    )
    assert ana.thread_id is not None
    assert ben.thread_id is not None
    outcome = ReplyOutcome(
        text="Yes, Friday at 8!",
        model="gemini-2.5-flash",
        latency_ms=640.0,
        prompt_tokens=300,
        response_tokens=12,
        finish_reason="STOP",
        context_digest="sha256:test",
        is_fallback=False,
        fallback_reason="",
    )
    reply_id = parley.record_generated(ana.thread_id, "a1", outcome, EPOCH + timedelta(seconds=2))
    parley.record_sent(
        ana.thread_id, reply_id, "wamid.out1", attempts=1, at=EPOCH + timedelta(seconds=3)
    )
    return {"ana": ana, "ben": ben}


async def test_projected_history_is_served_and_operator_commands_come_back_projected(
    client, db, parley, clock
):
    history = write_history(parley)
    ana = history["ana"]
    db["bridge_status"].insert_one(bridge_status_document(updated_at=clock.now))
    running = Projector(parley, ProjectorSettings(lease_seconds=30, poll_interval=0.05))
    worker = threading.Thread(target=running.run, name="projector", daemon=True)
    worker.start()
    try:

        async def threads() -> list[dict[str, Any]]:
            page = await (await client.get("/api/v1/threads", headers=bearer())).json()
            return page["items"] if len(page["items"]) == 2 else []

        listed = await eventually(threads, "two projected threads")
        assert [t["contact_name"] for t in listed] == ["Ben", "Ana Souza"]

        async def timeline() -> list[dict[str, Any]]:
            page = await (
                await client.get(f"/api/v1/threads/{ana.thread_id}/messages", headers=bearer())
            ).json()
            statuses = [m.get("reply_status") for m in page["items"]]
            return page["items"] if "sent" in statuses else []

        messages = await eventually(timeline, "the sent reply in the timeline")
        # Log order: the reply was recorded after the second message arrived.
        assert [(m["direction"], m["text"]) for m in messages] == [
            ("in", "Are we on for Friday?"),
            ("in", "<script>alert(1)</script>"),
            ("out", "Yes, Friday at 8!"),
        ]
        assert messages[2]["in_reply_to"] == "a1"
        assert messages[2]["latency_ms"] == 640.0

        async def healthy() -> dict[str, Any] | None:
            health = await (await client.get("/api/v1/health")).json()
            return health if health["status"] == "ok" else None

        health = await eventually(healthy, "health ok with every projection caught up")
        assert all(row["running"] and row["lag"] == 0 for row in health["projections"])

        analytics = await (
            await client.get("/api/v1/analytics?from=2025-03-01&to=2025-03-01", headers=bearer())
        ).json()
        assert analytics["summary"]["inbound"] == 3
        assert analytics["summary"]["replies_sent"] == 1
        metrics = await (await client.get("/metrics", headers=bearer())).text()
        assert 'parley_inbound_messages_total{account="default"} 3' in metrics

        # An operator's edit goes to the write side and comes back through the projector.
        edited = await client.patch(
            f"/api/v1/contacts/{ana.contact_id}",
            json={"name": "Ana Maria", "relationship": "friend"},
            headers=bearer(),
        )
        assert edited.status == 202

        async def renamed() -> dict[str, Any] | None:
            contact = await (
                await client.get(f"/api/v1/contacts/{ana.contact_id}", headers=bearer())
            ).json()
            return contact if contact.get("name") == "Ana Maria" else None

        contact = await eventually(renamed, "the edited contact projected")
        assert contact["relationship"] == "friend"
        thread = await (
            await client.get(f"/api/v1/threads/{ana.thread_id}", headers=bearer())
        ).json()
        assert thread["contact_name"] == "Ana Maria"

        reply = await client.post(
            f"/api/v1/threads/{ana.thread_id}/replies",
            json={"text": "Calling you now", "request_id": "op-1"},
            headers=bearer(),
        )
        assert reply.status == 202

        async def manual() -> list[dict[str, Any]]:
            page = await (
                await client.get(f"/api/v1/threads/{ana.thread_id}/messages", headers=bearer())
            ).json()
            return [m for m in page["items"] if m.get("manual")]

        (queued,) = await eventually(manual, "the manual reply in the timeline")
        assert queued["text"] == "Calling you now"
        assert queued["reply_status"] == "generated"

        audit = await (await client.get(f"/api/v1/audit?chat={ANA}@c.us", headers=bearer())).json()
        events = [entry["event"] for entry in audit["items"]]
        assert "Contact.ProfileEdited" in events
        assert "Thread.ReplySent" in events
    finally:
        running.stop()
        worker.join(timeout=30)
