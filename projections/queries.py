"""The read models' hot queries, each answered by an index.

Readers (the API, the dashboard, the sweeper) should query through these, or
copy their shapes. The embedded server's planner has quirks that these shapes
avoid, measured on a read model of 100,000 events:

* an `$or` (keyset paging) is a collection scan: paging uses two plain range
  queries instead;
* a `$regex` beside an indexed equality in `find` reads as a collection scan
  in `explain()`: search runs as an aggregation whose first `$match` is the
  indexed equality;
* a `hint` makes the server walk the whole index, whatever the bounds (one
  thread's timeline went from under 1 ms to 545 ms): nothing here hints;
* a sort with a limit reads the whole index range (about 170 ms for an
  account's 5,000 threads): pages stay cheap only while ranges stay modest.

`*_plan` functions return the cursors (or pipeline) a query runs, so tests can
check each with `explain()`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from parley.eventstore.datastore import Document
from parley.projections.analytics import ANALYTICS
from parley.projections.contacts import CONTACTS
from parley.projections.context import CONTEXT
from parley.projections.messages import MESSAGES
from parley.projections.threads import THREADS
from pymongo import ASCENDING, DESCENDING
from pymongo.collection import Collection
from pymongo.cursor import Cursor
from pymongo.database import Database

Db = Database[Document]
Before = tuple[datetime, str] | None  # (last_message_at, _id) of the previous page's last
RECENT_FIRST = [("last_message_at", DESCENDING), ("_id", DESCENDING)]


def recent_plan(
    collection: Collection[Document], match: Mapping[str, Any], before: Before, limit: int
) -> list[Cursor[Document]]:
    """The queries of one page, most recent message first: the rest of the
    previous page's last instant, then everything older."""
    if before is None:
        return [collection.find(dict(match)).sort(RECENT_FIRST).limit(limit)]
    at, doc_id = before
    same_instant = {**match, "last_message_at": at, "_id": {"$lt": doc_id}}
    older = {**match, "last_message_at": {"$lt": at}}
    return [
        collection.find(same_instant).sort(RECENT_FIRST).limit(limit),
        collection.find(older).sort(RECENT_FIRST).limit(limit),
    ]


def _page(cursors: list[Cursor[Document]], limit: int) -> list[Document]:
    found: list[Document] = []
    for cursor in cursors:
        found.extend(cursor)
        if len(found) >= limit:
            break
    return found[:limit]


def recent_threads(
    db: Db, account: str, *, before: Before = None, limit: int = 50
) -> list[Document]:
    """An account's threads, most recent message first; for the next page pass
    `before` = (last_message_at, _id) of this page's last thread."""
    return _page(recent_plan(db[THREADS], {"account": account}, before, limit), limit)


def threads_by_relationship(
    db: Db, relationship: str, *, before: Before = None, limit: int = 50
) -> list[Document]:
    return _page(recent_plan(db[THREADS], {"relationship": relationship}, before, limit), limit)


def recent_contacts(
    db: Db, account: str, *, before: Before = None, limit: int = 50
) -> list[Document]:
    return _page(recent_plan(db[CONTACTS], {"account": account}, before, limit), limit)


def threads_due(db: Db, state: str, last_message_before: datetime) -> Cursor[Document]:
    """Threads in `state` whose last message is older than the given time (the sweeper)."""
    return (
        db[THREADS]
        .find({"state": state, "last_message_at": {"$lt": last_message_before}})
        .sort("last_message_at", ASCENDING)
    )


def contact_threads(db: Db, contact_id: str) -> Cursor[Document]:
    return db[THREADS].find({"contact_id": contact_id}).sort("number", ASCENDING)


def thread_messages(
    db: Db, thread_id: str, *, after_seq: int = 0, limit: int = 50
) -> Cursor[Document]:
    """A thread's timeline in log order; page with `after_seq` = the last `seq` seen."""
    return (
        db[MESSAGES]
        .find({"thread_id": thread_id, "seq": {"$gt": after_seq}})
        .sort("seq", ASCENDING)
        .limit(limit)
    )


def conversation_messages(
    db: Db, conversation_id: str, *, after_seq: int = 0, limit: int = 50
) -> Cursor[Document]:
    """Every thread of a chat, as one timeline."""
    return (
        db[MESSAGES]
        .find({"conversation_id": conversation_id, "seq": {"$gt": after_seq}})
        .sort("seq", ASCENDING)
        .limit(limit)
    )


def search_plan(thread_id: str, text: str, limit: int) -> list[Document]:
    """The aggregation `search_thread` runs."""
    pattern = {"$regex": re.escape(text), "$options": "i"}
    return [
        {"$match": {"thread_id": thread_id}},
        {"$match": {"text": pattern}},
        {"$sort": {"seq": ASCENDING}},
        {"$limit": limit},
    ]


def search_thread(db: Db, thread_id: str, text: str, *, limit: int = 50) -> list[Document]:
    """Messages of one thread containing `text`, case-insensitively, as written
    (matched literally: no pattern syntax), in timeline order."""
    return list(db[MESSAGES].aggregate(search_plan(thread_id, text, limit)))


def contact_by_number(db: Db, account: str, number: str) -> Cursor[Document]:
    return db[CONTACTS].find({"account": account, "number": number}).limit(1)


def contact_context(db: Db, contact_id: str) -> Cursor[Document]:
    return db[CONTEXT].find({"_id": contact_id}).limit(1)


def analytics_buckets(
    db: Db, account: str, granularity: str, start: datetime, end: datetime
) -> Cursor[Document]:
    """An account's hour or day buckets from `start` (inclusive) to `end` (exclusive)."""
    query = {"account": account, "granularity": granularity, "bucket": {"$gte": start, "$lt": end}}
    return db[ANALYTICS].find(query).sort("bucket", ASCENDING)


def analytics_total(db: Db, account: str) -> Cursor[Document]:
    return db[ANALYTICS].find({"_id": f"{account}/total"}).limit(1)
