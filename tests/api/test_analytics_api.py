"""Analytics per day or hour over a date range."""

from __future__ import annotations

from datetime import timedelta

from testkit.api import bearer
from testkit.seeding import EPOCH, analytics_document

DAY0 = EPOCH.replace(hour=0)


async def test_daily_buckets_in_a_range_come_oldest_first_with_a_summary(client, db):
    days = [DAY0 + timedelta(days=n) for n in range(10)]
    db["rm_analytics"].insert_many(
        [
            analytics_document(bucket=day, inbound=n + 1, replies_sent=n)
            for n, day in enumerate(days)
        ]
        + [analytics_document(granularity="hour", bucket=DAY0 + timedelta(hours=3))]
        + [analytics_document(granularity="total", bucket=None, inbound=999)]
        + [analytics_document(account="other", bucket=days[2], inbound=500)]
    )
    response = await client.get("/api/v1/analytics?from=2025-03-03&to=2025-03-06", headers=bearer())
    assert response.status == 200
    data = await response.json()
    assert [b["bucket"] for b in data["buckets"]] == [
        f"2025-03-0{d}T00:00:00Z" for d in (3, 4, 5, 6)
    ]
    assert [b["inbound"] for b in data["buckets"]] == [3, 4, 5, 6]
    assert data["summary"]["inbound"] == 18
    assert data["summary"]["replies_sent"] == 14
    assert data["summary"]["sentiment"] == {"positive": 20, "neutral": 16, "negative": 4}
    # Four buckets of (300, 800, 1,500) ms: twelve replies, percentiles of the sum.
    assert data["summary"]["latency_ms"] == {
        "p50": 1000.0,
        "p95": 2000.0,
        "p99": 2000.0,
        "count": 12,
    }
    bucket = data["buckets"][0]
    assert bucket["latency_ms"]["count"] == 3
    assert bucket["id"] == "default/day/2025-03-03"


async def test_hourly_buckets_cover_whole_days(client, db):
    hours = [DAY0 + timedelta(hours=n) for n in range(0, 72, 5)]
    db["rm_analytics"].insert_many(
        [analytics_document(granularity="hour", bucket=hour, inbound=1) for hour in hours]
    )
    data = await (
        await client.get(
            "/api/v1/analytics?granularity=hour&from=2025-03-02&to=2025-03-02", headers=bearer()
        )
    ).json()
    assert [b["bucket"][11:13] for b in data["buckets"]] == ["01", "06", "11", "16", "21"]


async def test_the_default_range_is_the_last_30_days(client, db, clock):
    clock.now = DAY0 + timedelta(days=40, hours=5)
    db["rm_analytics"].insert_many(
        [analytics_document(bucket=DAY0 + timedelta(days=n)) for n in range(41)]
    )
    data = await (await client.get("/api/v1/analytics", headers=bearer())).json()
    assert len(data["buckets"]) == 30
    assert data["to"] == (DAY0 + timedelta(days=40)).date().isoformat()
    assert data["from"] == (DAY0 + timedelta(days=11)).date().isoformat()
