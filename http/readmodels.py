"""Queries over the read models (projections/SCHEMA.md), one function per question.

Every query names its fields (so nothing a projection adds later leaks out), uses
only values already parsed to scalars, and keeps to an index: see `paging` for
why lists read in time windows, and why filters outside an index run here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from parley.http import paging
from parley.projections import histogram
from pymongo.asynchronous.database import AsyncDatabase

Document = dict[str, Any]
Database = AsyncDatabase[Document]

THREAD_FIELDS = [
    "account",
    "chat_id",
    "conversation_id",
    "contact_id",
    "number",
    "previous_thread_id",
    "is_group",
    "contact_name",
    "relationship",
    "state",
    "bot_paused",
    "opened_at",
    "last_message_at",
    "last_message",
    "counts",
    "unanswered",
    "sentiment",
    "topics",
    "last_reply_latency_ms",
    "position",
]
MESSAGE_FIELDS = [
    "thread_id",
    "conversation_id",
    "contact_id",
    "account",
    "chat_id",
    "seq",
    "direction",
    "at",
    "kind",
    "text",
    "sender",
    "push_name",
    "media",
    "quoted_message_id",
    "from_me",
    "sentiment",
    "topics",
    "withheld",
    "text_capped",
    "reply_id",
    "in_reply_to",
    "manual",
    "reply_status",
    "is_fallback",
    "fallback_reason",
    "failure_reason",
    "attempts",
    "model",
    "latency_ms",
    "prompt_tokens",
    "response_tokens",
    "finish_reason",
    "context_digest",
    "wa_message_id",
    "sent_at",
    "delivery",
]
CONTACT_FIELDS = [
    "account",
    "number",
    "push_name",
    "name",
    "preferred_name",
    "relationship",
    "priority",
    "language",
    "custom",
    "style",
    "first_seen_at",
    "last_message_at",
    "stats",
    "position",
]
ANALYTICS_FIELDS = [
    "granularity",
    "bucket",
    "inbound",
    "replies_generated",
    "replies_sent",
    "failures",
    "fallbacks",
    "withheld",
    "manual",
    "latency_hist",
    "latency_ms",
    "sentiment",
    "active_contacts",
    "by_relationship",
]
COUNTERS = [
    "inbound",
    "replies_generated",
    "replies_sent",
    "failures",
    "fallbacks",
    "withheld",
    "manual",
    "active_contacts",
]
BRIDGE_STALE_AFTER = timedelta(seconds=30)


def projection(fields: list[str]) -> dict[str, int]:
    return dict.fromkeys(fields, 1)


def public(document: Document) -> Document:
    """A read-model document as the API shows it: `_id` named `id`."""
    shown = {"id": document["_id"]}
    shown.update((key, value) for key, value in document.items() if key != "_id")
    return shown


@dataclass(frozen=True)
class ThreadFilters:
    account: str
    state: str | None = None
    relationship: str | None = None
    updated_since: datetime | None = None

    def scope(self) -> str:
        return paging.scope_of(
            {
                "account": self.account,
                "state": self.state,
                "relationship": self.relationship,
                "since": self.updated_since,
            }
        )


async def list_threads(
    db: Database, filters: ThreadFilters, cursor: str | None, limit: int, now: datetime
) -> paging.Page:
    """Threads, most recent message first. The most selective index leads: the
    relationship's, else the state's, else the account's; the rest filter here."""
    scope = filters.scope()
    after = paging.decode_cursor(cursor, scope) if cursor else None
    equality: dict[str, str]
    if filters.relationship is not None:
        equality = {"relationship": filters.relationship}
    elif filters.state is not None:
        equality = {"state": filters.state}
    else:
        equality = {"account": filters.account}

    def keep(document: Document) -> bool:
        return (
            document.get("account") == filters.account
            and (filters.state is None or document.get("state") == filters.state)
            and (
                filters.relationship is None or document.get("relationship") == filters.relationship
            )
        )

    return await paging.newest_first(
        db["rm_threads"],
        equality=equality,
        time_field="last_message_at",
        limit=limit,
        after=after,
        since=filters.updated_since,
        keep=keep,
        projection=projection(THREAD_FIELDS),
        now=now,
        scope=scope,
    )


async def get_thread(db: Database, thread_id: str) -> Document | None:
    return await db["rm_threads"].find_one({"_id": thread_id}, projection(THREAD_FIELDS))


@dataclass(frozen=True)
class MessagePage:
    items: list[Document]
    next_after: int | None  # the `after` that fetches the next page


async def list_messages(
    db: Database, thread_id: str, after: int, limit: int, text: str | None
) -> MessagePage:
    """A thread's timeline in log order from `after`; with `text`, only messages that
    contain it (case-insensitive). Reads stay inside the thread's `(thread_id, seq)`
    index range; a search reads the thread's range past `after`, filtering here."""
    query = {"thread_id": thread_id, "seq": {"$gt": after}}
    found = db["rm_messages"].find(query, projection(MESSAGE_FIELDS)).sort("seq", 1)
    if text is None:
        found = found.limit(limit + 1)
    needle = text.casefold() if text is not None else None
    items: list[Document] = []
    async for document in found:
        if needle is not None and needle not in str(document.get("text", "")).casefold():
            continue
        items.append(document)
        if len(items) > limit:
            break
    await found.close()
    more = len(items) > limit
    items = items[:limit]
    return MessagePage(items=items, next_after=int(items[-1]["seq"]) if more else None)


async def list_contacts(
    db: Database,
    *,
    account: str,
    relationship: str | None,
    cursor: str | None,
    limit: int,
    now: datetime,
) -> paging.Page:
    scope = paging.scope_of({"account": account, "relationship": relationship})
    after = paging.decode_cursor(cursor, scope) if cursor else None
    return await paging.newest_first(
        db["rm_contacts"],
        equality={"account": account},
        time_field="last_message_at",
        limit=limit,
        after=after,
        since=None,
        keep=lambda d: relationship is None or d.get("relationship") == relationship,
        projection=projection(CONTACT_FIELDS),
        now=now,
        scope=scope,
    )


async def get_contact(db: Database, contact_id: str) -> Document | None:
    return await db["rm_contacts"].find_one({"_id": contact_id}, projection(CONTACT_FIELDS))


async def analytics(
    db: Database, account: str, granularity: str, first: date, last: date
) -> list[Document]:
    """The buckets from the start of `first` to the end of `last` (UTC), oldest first."""
    start = datetime.combine(first, time(), tzinfo=UTC)
    end = datetime.combine(last + timedelta(days=1), time(), tzinfo=UTC)
    query = {"account": account, "granularity": granularity, "bucket": {"$gte": start, "$lt": end}}
    found = db["rm_analytics"].find(query, projection(ANALYTICS_FIELDS))
    buckets = [document async for document in found]
    buckets.sort(key=lambda d: d["bucket"])
    return buckets


async def analytics_total(db: Database, account: str) -> Document | None:
    return await db["rm_analytics"].find_one(
        {"_id": f"{account}/total"}, projection(ANALYTICS_FIELDS)
    )


def summarise(buckets: list[Document]) -> Document:
    """Totals of the counters over some buckets, their sentiment counts, and latency
    percentiles of the summed histograms (fixed buckets add up exactly)."""
    totals: Document = {name: 0 for name in COUNTERS if name != "active_contacts"}
    sentiment = {"positive": 0, "neutral": 0, "negative": 0}
    latency = histogram.empty()
    for bucket in buckets:
        counts = bucket.get("latency_hist")
        if isinstance(counts, list) and len(counts) == len(latency):
            pairs = zip(latency, counts, strict=True)
            latency = [a + b if isinstance(b, int) else a for a, b in pairs]
        for name in totals:
            value = bucket.get(name)
            if isinstance(value, int):
                totals[name] += value
        mood = bucket.get("sentiment")
        if isinstance(mood, Mapping):
            for label in sentiment:
                count = mood.get(label)
                if isinstance(count, int):
                    sentiment[label] += count
    totals["sentiment"] = sentiment
    totals["latency_ms"] = histogram.summary(latency)
    return totals


async def bridge_status(db: Database, account: str, now: datetime) -> Document | None:
    """The bridge's status, with `stale` set when it has not written for 30 seconds."""
    status = await db["bridge_status"].find_one({"_id": account})
    if status is None:
        return None
    updated = status.get("updated_at")
    status["stale"] = not isinstance(updated, datetime) or now - updated > BRIDGE_STALE_AFTER
    return status
