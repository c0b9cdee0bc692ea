"""Every hot query path is answered by an index: explain() shows an IXSCAN and
no COLLSCAN, on the read models of the live history."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from parley.domain import ids
from parley.projections import queries
from parley.projections.audit import events_of, events_query
from parley.projections.lease import LEASES
from parley.projections.tail import page_query
from pymongo.cursor import Cursor
from pymongo.database import Database
from testkit.live import UPSTREAM, LiveHistory

Document = dict[str, Any]


def stages(plan: Any) -> list[str]:
    """Every stage name in an explain() plan tree."""
    if isinstance(plan, dict):
        found = [plan["stage"]] if isinstance(plan.get("stage"), str) else []
        for key, value in plan.items():
            if key != "stage":
                found.extend(stages(value))
        return found
    if isinstance(plan, list):
        return [stage for item in plan for stage in stages(item)]
    return []


def assert_indexed(plan: Any) -> None:
    found = stages(plan)
    assert "COLLSCAN" not in found, plan
    assert "IXSCAN" in found, plan


def explained(cursor: Cursor[Document]) -> Any:
    return cursor.explain()["queryPlanner"]["winningPlan"]


def sample(db: Database[Document], collection: str) -> Document:
    document = db[collection].find_one({}, sort=[("_id", 1)])
    assert document is not None, f"{collection} is empty"
    return document


Plan = Callable[[Database[Document]], list[Cursor[Document]]]
LATER = datetime(2030, 1, 1, tzinfo=UTC)
PAGE = (LATER, "~")

READ_MODEL_QUERIES: dict[str, Plan] = {
    "recent threads": lambda db: queries.recent_plan(
        db.rm_threads, {"account": "default"}, None, 50
    ),
    "recent threads, next page": lambda db: queries.recent_plan(
        db.rm_threads, {"account": "default"}, PAGE, 50
    ),
    "threads by relationship": lambda db: queries.recent_plan(
        db.rm_threads, {"relationship": "friend"}, PAGE, 50
    ),
    "recent contacts": lambda db: queries.recent_plan(
        db.rm_contacts, {"account": "default"}, PAGE, 50
    ),
    "threads due for idle": lambda db: [queries.threads_due(db, "active", LATER)],
    "threads of a contact": lambda db: [
        queries.contact_threads(db, sample(db, "rm_threads")["contact_id"])
    ],
    "thread timeline": lambda db: [
        queries.thread_messages(db, sample(db, "rm_messages")["thread_id"], after_seq=10)
    ],
    "conversation timeline": lambda db: [
        queries.conversation_messages(db, sample(db, "rm_messages")["conversation_id"])
    ],
    "contact by number": lambda db: [queries.contact_by_number(db, "default", "491511100001")],
    "context of a contact": lambda db: [
        queries.contact_context(db, sample(db, "rm_context")["_id"])
    ],
    "analytics per hour": lambda db: [
        queries.analytics_buckets(db, "default", "hour", LATER - timedelta(days=3650), LATER)
    ],
    "analytics total": lambda db: [queries.analytics_total(db, "default")],
    # What the projections themselves look up while applying events:
    "projection: threads of a contact": lambda db: [
        db.rm_threads.find({"contact_id": sample(db, "rm_threads")["contact_id"]})
    ],
    "projection: contexts of an account": lambda db: [db.rm_context.find({"account": "default"})],
    "projection: bookkeeping by id": lambda db: [db.rmx_threads.find({"_id": "contact/x"})],
    "projection: checkpoint": lambda db: [db.threads_tracking.find({"_id": UPSTREAM})],
    "projection: lease": lambda db: [db[LEASES].find({"_id": "threads/main"})],
}


@pytest.mark.parametrize("name", READ_MODEL_QUERIES)
def test_read_model_query_uses_an_index(live_history: LiveHistory, name: str) -> None:
    db = live_history.app.recorder.datastore.db
    for cursor in READ_MODEL_QUERIES[name](db):
        assert_indexed(explained(cursor))


def test_search_runs_on_the_thread_index(live_history: LiveHistory) -> None:
    db = live_history.app.recorder.datastore.db
    thread_id = sample(db, "rm_messages")["thread_id"]
    plan = db.command(
        "aggregate",
        "rm_messages",
        pipeline=queries.search_plan(thread_id, "Friday", 50),
        explain=True,
    )
    assert_indexed(plan)


def test_the_queries_return_what_they_promise(live_history: LiveHistory) -> None:
    db = live_history.app.recorder.datastore.db
    first_page = list(queries.recent_threads(db, "default", limit=7))
    assert len(first_page) == 7
    last = first_page[-1]
    second_page = list(
        queries.recent_threads(
            db, "default", before=(last["last_message_at"], last["_id"]), limit=7
        )
    )
    keys = [(t["last_message_at"], t["_id"]) for t in first_page + second_page]
    assert keys == sorted(keys, reverse=True)
    assert len(set(keys)) == 14
    thread_id = sample(db, "rm_messages")["thread_id"]
    seqs = [m["seq"] for m in queries.thread_messages(db, thread_id, limit=500)]
    assert seqs == sorted(seqs)
    assert seqs


def test_event_queries_of_audit_and_time_travel_use_the_aggregate_index(
    live_history: LiveHistory,
) -> None:
    recorder = live_history.app.recorder
    thread_id = ids.thread_id(ids.conversation_id("default", live_history.report.chats[0]), 1)
    assert_indexed(explained(events_query(recorder, thread_id)))
    everything = list(events_of(recorder, thread_id))
    cut = everything[len(everything) // 2]
    by_position = list(events_of(recorder, thread_id, position=cut["notification_id"]))
    by_time = list(events_of(recorder, thread_id, at=cut["recorded_at"]))
    assert by_position == everything[: len(by_position)]
    assert by_position[-1] == cut
    assert by_time == everything[: len(by_time)]
    assert cut in by_time


def test_the_tail_reads_pages_by_the_log_index(live_history: LiveHistory) -> None:
    recorder = live_history.app.recorder
    assert_indexed(explained(recorder.events.find(page_query("main", {"$gte": 100, "$lte": 300}))))
