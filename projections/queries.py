"""The read models' hot queries, each answered by an index.

Readers (the API, the dashboard, the sweeper) should query through these, or
copy their shape: the embedded server's planner falls back to a collection scan
for some shapes MongoDB would index (a `$regex` beside an indexed equality, an
`$or` for keyset paging), so those carry an explicit `hint`. The tests check
every one with `explain()`. Each returns a cursor, ready to iterate or explain.
"""

from __future__ import annotations

import re
from datetime import datetime

from parley.eventstore.datastore import Document
from parley.projections.analytics import ANALYTICS
from parley.projections.contacts import CONTACTS
from parley.projections.context import CONTEXT
from parley.projections.messages import MESSAGES
from parley.projections.threads import THREADS
from pymongo import ASCENDING, DESCENDING
from pymongo.cursor import Cursor
from pymongo.database import Database

Db = Database[Document]
RECENT_FIRST = [("last_message_at", DESCENDING), ("_id", DESCENDING)]


def _keyset_before(before: tuple[datetime, str] | None) -> Document:
    """Documents after (older than) the last one of the previous page."""
    if before is None:
        return {}
    at, doc_id = before
    return {
        "$or": [{"last_message_at": {"$lt": at}}, {"last_message_at": at, "_id": {"$lt": doc_id}}]
    }


def recent_threads(
    db: Db,
    account: str,
    *,
    before: tuple[datetime, str] | None = None,
    limit: int = 50,
) -> Cursor[Document]:
    """An account's threads, most recent message first; page with `before` =
    (last_message_at, _id) of the previous page's last thread."""
    query = {"account": account, **_keyset_before(before)}
    return db[THREADS].find(query).sort(RECENT_FIRST).limit(limit).hint("account_recent")


def threads_by_relationship(
    db: Db,
    relationship: str,
    *,
    before: tuple[datetime, str] | None = None,
    limit: int = 50,
) -> Cursor[Document]:
    query = {"relationship": relationship, **_keyset_before(before)}
    return db[THREADS].find(query).sort(RECENT_FIRST).limit(limit).hint("relationship_recent")


def threads_due(db: Db, state: str, last_message_before: datetime) -> Cursor[Document]:
    """Threads in `state` whose last message is older than the given time (the sweeper)."""
    return (
        db[THREADS]
        .find({"state": state, "last_message_at": {"$lt": last_message_before}})
        .sort("last_message_at", ASCENDING)
        .hint("state_due")
    )


def contact_threads(db: Db, contact_id: str) -> Cursor[Document]:
    return (
        db[THREADS]
        .find({"contact_id": contact_id})
        .sort("number", ASCENDING)
        .hint("contact_threads")
    )


def thread_messages(
    db: Db, thread_id: str, *, after_seq: int = 0, limit: int = 50
) -> Cursor[Document]:
    """A thread's timeline in log order; page with `after_seq` = the last `seq` seen."""
    return (
        db[MESSAGES]
        .find({"thread_id": thread_id, "seq": {"$gt": after_seq}})
        .sort("seq", ASCENDING)
        .limit(limit)
        .hint("thread_timeline")
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
        .hint("conversation_timeline")
    )


def search_thread(db: Db, thread_id: str, text: str, *, limit: int = 50) -> Cursor[Document]:
    """Messages of one thread containing `text`, case-insensitively, as written
    (the text is matched literally: no pattern syntax)."""
    pattern = {"$regex": re.escape(text), "$options": "i"}
    return (
        db[MESSAGES]
        .find({"thread_id": thread_id, "text": pattern})
        .sort("seq", ASCENDING)
        .limit(limit)
        .hint("thread_timeline")
    )


def recent_contacts(
    db: Db,
    account: str,
    *,
    before: tuple[datetime, str] | None = None,
    limit: int = 50,
) -> Cursor[Document]:
    query = {"account": account, **_keyset_before(before)}
    return db[CONTACTS].find(query).sort(RECENT_FIRST).limit(limit).hint("account_recent")


def contact_by_number(db: Db, account: str, number: str) -> Cursor[Document]:
    return db[CONTACTS].find({"account": account, "number": number}).limit(1).hint("account_number")


def contact_context(db: Db, contact_id: str) -> Cursor[Document]:
    return db[CONTEXT].find({"_id": contact_id}).limit(1)


def analytics_buckets(
    db: Db, account: str, granularity: str, start: datetime, end: datetime
) -> Cursor[Document]:
    """An account's hour or day buckets from `start` (inclusive) to `end` (exclusive)."""
    return (
        db[ANALYTICS]
        .find(
            {"account": account, "granularity": granularity, "bucket": {"$gte": start, "$lt": end}}
        )
        .sort("bucket", ASCENDING)
        .hint("account_buckets")
    )


def analytics_total(db: Db, account: str) -> Cursor[Document]:
    return db[ANALYTICS].find({"_id": f"{account}/total"}).limit(1)
