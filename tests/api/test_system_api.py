"""Health, the bridge's state and QR code, and Prometheus metrics."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

import pytest
from aiohttp.test_utils import TestClient, TestServer
from parley.eventstore.embedded import EmbeddedServer
from parley.http.app import create_app
from testkit.api import api_config, bearer
from testkit.seeding import EPOCH, analytics_document, bridge_status_document

SAMPLE = re.compile(
    r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? '
    r"(-?[0-9.e+-]+|\+Inf|-Inf|NaN)$"
)


async def test_health_reports_the_database_the_bridge_and_idle_projections(client, db, clock):
    db["bridge_status"].insert_one(bridge_status_document(updated_at=clock.now))
    response = await client.get("/api/v1/health")
    assert response.status == 200
    health = await response.json()
    assert health["database"]["ok"] is True
    assert health["bridge"]["state"] == "ready"
    assert health["bridge"]["stale"] is False
    # No projector runs here (the end-to-end test runs one and sees "ok").
    names = [row["name"] for row in health["projections"]]
    assert names == ["threads", "messages", "contacts", "context", "analytics"]
    assert not any(row["running"] for row in health["projections"])
    assert health["status"] == "degraded"


async def test_a_silent_bridge_makes_health_degraded(client, db, clock):
    db["bridge_status"].insert_one(
        bridge_status_document(updated_at=clock.now - timedelta(seconds=31))
    )
    health = await (await client.get("/api/v1/health")).json()
    assert health["status"] == "degraded"
    assert health["bridge"]["stale"] is True


async def test_no_bridge_report_makes_health_degraded(client):
    health = await (await client.get("/api/v1/health")).json()
    assert health["status"] == "degraded"
    assert health["bridge"] is None


async def test_the_qr_code_is_served_to_operators_only_while_a_scan_is_awaited(client, db, clock):
    payload = "2@secret-login-payload,AbCd,EfGh=="
    db["bridge_status"].insert_one(
        bridge_status_document(state="waiting_for_qr_scan", qr_code=payload, updated_at=clock.now)
    )
    health_text = await (await client.get("/api/v1/health")).text()
    assert payload not in health_text  # the login secret is not public
    bridge = await (await client.get("/api/v1/bridge", headers=bearer())).json()
    assert bridge["needs_qr_scan"] is True
    assert "qr_code" not in bridge
    assert (await client.get("/api/v1/bridge/qr.svg")).status == 401
    image = await client.get("/api/v1/bridge/qr.svg", headers=bearer())
    assert image.status == 200
    assert image.content_type == "image/svg+xml"
    svg = await image.text()
    assert svg.startswith("<svg")
    assert "<path" in svg
    assert payload not in svg

    db["bridge_status"].update_one({"_id": "default"}, {"$set": {"qr_code": "", "state": "ready"}})
    assert (await client.get("/api/v1/bridge/qr.svg", headers=bearer())).status == 404


async def test_no_bridge_report_is_404(client):
    assert (await client.get("/api/v1/bridge", headers=bearer())).status == 404


async def test_metrics_are_prometheus_text_with_counts_from_the_read_models(client, db, clock):
    db["rm_analytics"].insert_one(
        analytics_document(
            granularity="total", bucket=None, inbound=42, replies_sent=40, failures=2
        )
    )
    db["bridge_status"].insert_one(bridge_status_document(breaker="open", updated_at=clock.now))
    await client.get("/api/v1/threads", headers=bearer())
    response = await client.get("/metrics", headers=bearer())
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    text = await response.text()
    for line in text.splitlines():
        assert line.startswith("# HELP ") or line.startswith("# TYPE ") or SAMPLE.match(line), line
    assert 'parley_inbound_messages_total{account="default"} 42' in text
    assert 'parley_replies_total{account="default",outcome="sent"} 40' in text
    assert 'parley_reply_failures_total{account="default"} 2' in text
    assert 'parley_reply_breaker_state{account="default",state="open"} 1' in text
    assert 'parley_reply_breaker_state{account="default",state="closed"} 0' in text
    assert 'parley_api_responses_total{route="/api/v1/threads",method="GET",status="200"} 1' in text
    assert (
        'parley_api_request_duration_seconds_count{route="/api/v1/threads",method="GET"} 1' in text
    )


async def test_metrics_need_a_token(client):
    assert (await client.get("/metrics")).status == 401


async def test_the_bridge_time_is_compared_with_the_clock(client, db, clock):
    db["bridge_status"].insert_one(bridge_status_document(updated_at=EPOCH))
    clock.now = EPOCH + timedelta(seconds=29)
    assert (await (await client.get("/api/v1/health")).json())["bridge"]["stale"] is False


@pytest.mark.slow
async def test_health_answers_503_when_the_database_stops(tmp_path, clock):
    server = EmbeddedServer(tmp_path)
    uri = await asyncio.to_thread(server.ensure_running)
    try:
        config = api_config(uri, "health_down")
        async with TestClient(TestServer(create_app(config, clock=clock))) as client:
            assert (await client.get("/api/v1/health")).status == 200
            await asyncio.to_thread(server.stop, timeout=30)
            response = await client.get("/api/v1/health")
            assert response.status == 503
            health = await response.json()
            assert health["status"] == "down"
            assert health["database"]["ok"] is False
    finally:
        await asyncio.to_thread(server.stop, timeout=30)
