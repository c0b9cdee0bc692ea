"""Outbound webhook subscribers through the API: added, listed without their
secret, looked at, removed; bad ones refused with one line."""

from __future__ import annotations

from typing import Any

from parley.bridge.outbound_webhooks import Subscriber, WebhookSubscriptionStore
from pymongo.database import Database
from testkit.api import bearer

GOOD = {"url": "https://hooks.example.com/parley", "events": ["Thread.*"], "secret": "s" * 20}


async def test_a_subscriber_is_added_listed_shown_and_removed(client: Any) -> None:
    added = await client.post("/api/v1/webhooks", json={**GOOD, "id": "crm"}, headers=bearer())
    assert added.status == 201
    assert await added.json() == {
        "id": "crm",
        "url": GOOD["url"],
        "events": ["Thread.*"],
        "source": "api",
        "replay": False,
    }
    listed = await (await client.get("/api/v1/webhooks", headers=bearer())).json()
    assert [item["id"] for item in listed["items"]] == ["crm"]
    assert "secret" not in str(listed)
    shown = await client.get("/api/v1/webhooks/crm", headers=bearer())
    assert shown.status == 200
    assert (await shown.json())["delivery"] == []
    removed = await client.delete("/api/v1/webhooks/crm", headers=bearer())
    assert removed.status == 200
    gone = await client.get("/api/v1/webhooks/crm", headers=bearer())
    assert gone.status == 404


async def test_bad_subscribers_are_refused_with_one_line(client: Any) -> None:
    for body, fragment in (
        ({**GOOD, "url": "ftp://example.com/x"}, "http"),
        ({**GOOD, "secret": "short"}, "secret"),
        ({**GOOD, "events": []}, "events"),
        ({**GOOD, "url": {"$gt": ""}}, ""),
    ):
        response = await client.post("/api/v1/webhooks", json=body, headers=bearer())
        assert response.status == 400, body
        assert fragment in (await response.json())["error"]["message"]


async def test_a_duplicate_id_and_a_configured_subscriber_are_conflicts(
    client: Any, db: Database[dict[str, Any]]
) -> None:
    assert (
        await client.post("/api/v1/webhooks", json={**GOOD, "id": "a"}, headers=bearer())
    ).status == 201
    again = await client.post("/api/v1/webhooks", json={**GOOD, "id": "a"}, headers=bearer())
    assert again.status == 409
    configured = Subscriber("from-env", GOOD["url"], ("*",), "s" * 20, source="config")
    WebhookSubscriptionStore(db).sync_configured([configured])
    refused = await client.delete("/api/v1/webhooks/from-env", headers=bearer())
    assert refused.status == 409
    assert "PARLEY_WEBHOOKS" in (await refused.json())["error"]["message"]


async def test_webhook_routes_need_a_token(client: Any) -> None:
    assert (await client.get("/api/v1/webhooks")).status == 401
    assert (await client.post("/api/v1/webhooks", json=GOOD)).status == 401
