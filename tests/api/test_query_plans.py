"""The hot queries, exactly as the API sends them, each use an index and read about
what they return, not the collection (checked with explain() on the real server)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, timedelta
from typing import Any

import pytest
from parley.http import readmodels
from parley.http.readmodels import ThreadFilters
from pymongo import AsyncMongoClient, monitoring
from testkit.seeding import (
    EPOCH,
    analytics_document,
    contact_document,
    inbound_message_document,
    seed_threads,
)

THREADS = 3_000
PAGE = 50


class FindRecorder(monitoring.CommandListener):
    """Keeps every find command the client sends."""

    def __init__(self) -> None:
        self.finds: list[dict[str, Any]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name == "find":
            self.finds.append(dict(event.command))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@pytest.fixture
async def recorded(mongo_uri: str, database_name: str) -> AsyncIterator[tuple[Any, FindRecorder]]:
    recorder = FindRecorder()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        mongo_uri, tz_aware=True, tzinfo=UTC, event_listeners=[recorder]
    )
    yield client[database_name], recorder
    await client.close()


def explain(db: Any, find: dict[str, Any]) -> dict[str, Any]:
    command = {key: find[key] for key in ("find", "filter", "sort", "limit") if key in find}
    return db.command({"explain": command, "verbosity": "executionStats"})


def stages(plan: dict[str, Any]) -> list[str]:
    found = [plan["stage"]]
    while "inputStage" in plan:
        plan = plan["inputStage"]
        found.append(plan["stage"])
    return found


def check_plans(db: Any, finds: list[dict[str, Any]], most_examined: int) -> int:
    """Every find uses an index scan; returns the documents they examined in all."""
    assert finds
    examined = 0
    for find in finds:
        report = explain(db, find)
        plan = stages(report["queryPlanner"]["winningPlan"])
        assert "IXSCAN" in plan, (find["filter"], plan)
        assert "COLLSCAN" not in plan, (find["filter"], plan)
        examined += report["executionStats"]["totalDocsExamined"]
    assert examined <= most_examined, examined
    print(f"{len(finds)} queries examined {examined} documents")
    return examined


@pytest.mark.parametrize(
    "filters",
    [
        ThreadFilters(account="default"),
        ThreadFilters(account="default", state="idle"),
        ThreadFilters(account="default", relationship="friend"),
        ThreadFilters(account="default", updated_since=EPOCH - timedelta(hours=10)),
    ],
    ids=["all", "state", "relationship", "since"],
)
async def test_thread_pages_read_about_a_page_not_the_collection(db, recorded, clock, filters):
    seed_threads(db, THREADS, spacing=timedelta(minutes=2))
    adb, recorder = recorded
    page = await readmodels.list_threads(adb, filters, None, PAGE, clock.now)
    assert page.items
    # A filter the index does not hold (state under the relationship index) reads
    # more, but still far from the 3,000 threads.
    check_plans(db, recorder.finds, most_examined=6 * (PAGE + 1))
    recorder.finds.clear()
    if page.next_cursor is not None:
        await readmodels.list_threads(adb, filters, page.next_cursor, PAGE, clock.now)
        check_plans(db, recorder.finds, most_examined=6 * (PAGE + 1))


async def test_a_thread_by_id_uses_the_id_index(db, recorded):
    documents = seed_threads(db, 200)
    adb, recorder = recorded
    assert await readmodels.get_thread(adb, documents[100]["_id"]) is not None
    check_plans(db, recorder.finds, most_examined=1)


async def test_a_timeline_page_reads_one_thread_not_all_messages(db, recorded):
    threads = seed_threads(db, 20)
    messages = [
        inbound_message_document(
            thread, wa_message_id=f"{t}-{n}", text=f"message {n}", at=EPOCH, seq=t * 1_000 + n
        )
        for t, thread in enumerate(threads)
        for n in range(100)
    ]
    db["rm_messages"].insert_many(messages)
    adb, recorder = recorded
    page = await readmodels.list_messages(adb, threads[3]["_id"], 0, 20, None)
    assert len(page.items) == 20
    check_plans(db, recorder.finds, most_examined=100)
    recorder.finds.clear()
    await readmodels.list_messages(adb, threads[3]["_id"], 0, 20, "message 9")
    check_plans(db, recorder.finds, most_examined=100)


async def test_contact_pages_and_analytics_ranges_use_their_indexes(db, recorded, clock):
    db["rm_contacts"].insert_many(
        [
            contact_document(number=f"1555{n:07d}", last_message_at=EPOCH - timedelta(hours=n))
            for n in range(1_000)
        ]
    )
    db["rm_analytics"].insert_many(
        [analytics_document(bucket=EPOCH.replace(hour=0) - timedelta(days=n)) for n in range(400)]
        + [
            analytics_document(granularity="hour", bucket=EPOCH - timedelta(hours=n))
            for n in range(2_000)
        ]
    )
    adb, recorder = recorded
    page = await readmodels.list_contacts(
        adb, account="default", relationship=None, cursor=None, limit=PAGE, now=clock.now
    )
    assert len(page.items) == PAGE
    check_plans(db, recorder.finds, most_examined=6 * (PAGE + 1))
    recorder.finds.clear()
    buckets = await readmodels.analytics(adb, "default", "day", date(2025, 2, 1), date(2025, 2, 28))
    assert len(buckets) == 28
    check_plans(db, recorder.finds, most_examined=28)
