"""Read-model documents shaped as projections/SCHEMA.md says, for tests and benchmarks.

One place for the shapes, so an API test and a benchmark seed the same documents the
projections write. Every builder takes the fields that matter to a caller as keywords
and fills the rest with plausible values; `seed_threads` writes many at once.

The indexes and the latency histogram are the projections' own
(`parley.projections.registry`, `parley.projections.histogram`), so seeded
collections are queried exactly as projected ones are.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from parley.projections import histogram
from parley.projections.registry import PROJECTIONS
from pymongo import IndexModel
from pymongo.database import Database

Document = dict[str, Any]

READ_MODEL_INDEXES: Mapping[str, tuple[IndexModel, ...]] = {
    spec.name: tuple(
        IndexModel(list(index.keys), name=index.name, unique=index.unique) for index in spec.indexes
    )
    for projection in PROJECTIONS.values()
    for spec in projection.collections
}

EPOCH = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
COUNT_FIELDS = (
    "inbound",
    "replies_generated",
    "replies_sent",
    "replies_failed",
    "fallbacks",
    "withheld",
    "manual",
)


def ensure_indexes(db: Database[Document]) -> None:
    for collection, indexes in READ_MODEL_INDEXES.items():
        db[collection].create_indexes(list(indexes))


def new_id() -> str:
    return str(uuid.uuid4())


def thread_document(
    *,
    thread_id: str | None = None,
    account: str = "default",
    chat_id: str = "15551230000@c.us",
    contact_id: str | None = None,
    contact_name: str = "Ana Souza",
    relationship: str = "friend",
    state: str = "active",
    bot_paused: bool = False,
    last_message_at: datetime = EPOCH,
    last_text: str = "See you on Friday!",
    number: int = 1,
    topics: Iterable[str] = ("friday", "dinner"),
    sentiment: float | None = 0.45,
    position: int = 1,
    **overrides: Any,
) -> Document:
    """An `rm_threads` document."""
    trend = [] if sentiment is None else [sentiment]
    document: Document = {
        "_id": thread_id or new_id(),
        "account": account,
        "chat_id": chat_id,
        "conversation_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{account}/{chat_id}")),
        "contact_id": contact_id or new_id(),
        "number": number,
        "previous_thread_id": None,
        "is_group": chat_id.endswith("@g.us"),
        "contact_name": contact_name,
        "relationship": relationship,
        "state": state,
        "bot_paused": bot_paused,
        "opened_at": last_message_at - timedelta(minutes=5),
        "last_message_at": last_message_at,
        "last_message": {
            "direction": "in",
            "text": last_text[:200],
            "kind": "text",
            "at": last_message_at,
        },
        "counts": dict.fromkeys(COUNT_FIELDS, 0) | {"inbound": 1},
        "unanswered": 0,
        "sentiment": {"last": sentiment, "mean": sentiment, "trend": trend},
        "topics": list(topics)[:10],
        "last_reply_latency_ms": None,
        "position": position,
    }
    document.update(overrides)
    return document


def inbound_message_document(
    thread: Document,
    *,
    wa_message_id: str,
    text: str,
    at: datetime,
    seq: int,
    sentiment: tuple[float, str] | None = (0.3, "positive"),
    topics: Iterable[str] = (),
    withheld: str = "",
    **overrides: Any,
) -> Document:
    """An inbound `rm_messages` document in `thread`'s timeline."""
    document: Document = {
        "_id": f"{thread['_id']}/in/{wa_message_id}",
        **_timeline_keys(thread),
        "seq": seq,
        "direction": "in",
        "at": at,
        "kind": "text",
        "text": text,
        "sender": thread["chat_id"].split("@", 1)[0],
        "push_name": thread.get("contact_name", ""),
        "media": None,
        "quoted_message_id": "",
        "from_me": False,
        "sentiment": None
        if sentiment is None
        else {"compound": sentiment[0], "label": sentiment[1]},
        "topics": list(topics),
        "withheld": withheld,
        "text_capped": None,
        "wa_message_id": wa_message_id,
    }
    document.update(overrides)
    return document


def reply_document(
    thread: Document,
    *,
    reply_id: str,
    in_reply_to: str,
    text: str,
    at: datetime,
    seq: int,
    status: str = "sent",
    latency_ms: float = 850.0,
    manual: bool = False,
    **overrides: Any,
) -> Document:
    """An outbound `rm_messages` document (a generated or manual reply)."""
    document: Document = {
        "_id": f"{thread['_id']}/out/{reply_id}",
        **_timeline_keys(thread),
        "seq": seq,
        "direction": "out",
        "at": at,
        "kind": "text",
        "text": text,
        "reply_id": reply_id,
        "in_reply_to": in_reply_to,
        "manual": manual,
        "reply_status": status,
        "is_fallback": False,
        "fallback_reason": "",
        "failure_reason": "",
        "attempts": 1 if status != "generated" else 0,
        "model": "manual:operator" if manual else "gemini-2.5-flash",
        "latency_ms": latency_ms,
        "prompt_tokens": 420,
        "response_tokens": 38,
        "finish_reason": "STOP",
        "context_digest": "sha256:" + "0" * 16,
        "wa_message_id": f"wamid.out.{reply_id[:8]}" if status == "sent" else "",
        "sent_at": at + timedelta(milliseconds=200) if status == "sent" else None,
        "delivery": "delivered" if status == "sent" else "",
    }
    document.update(overrides)
    return document


def _timeline_keys(thread: Document) -> Document:
    return {
        "thread_id": thread["_id"],
        "conversation_id": thread["conversation_id"],
        "contact_id": thread["contact_id"],
        "account": thread["account"],
        "chat_id": thread["chat_id"],
    }


def contact_document(
    *,
    contact_id: str | None = None,
    account: str = "default",
    number: str = "15551230000",
    name: str = "Ana Souza",
    relationship: str = "friend",
    last_message_at: datetime = EPOCH,
    **overrides: Any,
) -> Document:
    """An `rm_contacts` document."""
    document: Document = {
        "_id": contact_id or new_id(),
        "account": account,
        "number": number,
        "push_name": name,
        "name": name,
        "preferred_name": "",
        "relationship": relationship,
        "priority": 0,
        "language": "en",
        "custom": {
            "personality": "",
            "communication_style": "",
            "topics": [],
            "emoji_preference": "",
        },
        "style": {"emoji_rate": 0.2, "typical_length": 40, "formality": 0.3, "samples": 5},
        "first_seen_at": last_message_at - timedelta(days=30),
        "last_message_at": last_message_at,
        "stats": {"inbound": 12, "replies_sent": 11, "threads": 2, "sentiment_mean": 0.2},
        "position": 1,
    }
    document.update(overrides)
    return document


def latency_histogram(latencies_ms: Iterable[float]) -> list[int]:
    """Counts per bucket of the projections' latency histogram."""
    counts = histogram.empty()
    for latency in latencies_ms:
        counts[histogram.bucket_of(latency)] += 1
    return counts


def analytics_document(
    *,
    account: str = "default",
    granularity: str = "day",
    bucket: datetime | None = EPOCH,
    inbound: int = 10,
    replies_sent: int = 9,
    failures: int = 1,
    latencies_ms: Iterable[float] = (300.0, 800.0, 1_500.0),
    sentiment: tuple[int, int, int] = (5, 4, 1),
    **overrides: Any,
) -> Document:
    """An `rm_analytics` document for one bucket (or the account's total)."""
    if granularity == "total" or bucket is None:
        _id, bucket = f"{account}/total", None
    elif granularity == "day":
        _id = f"{account}/day/{bucket:%Y-%m-%d}"
    else:
        _id = f"{account}/hour/{bucket:%Y-%m-%dT%H}"
    counts = latency_histogram(latencies_ms)
    document: Document = {
        "_id": _id,
        "account": account,
        "granularity": granularity,
        "bucket": bucket,
        "inbound": inbound,
        "replies_generated": replies_sent + failures,
        "replies_sent": replies_sent,
        "failures": failures,
        "fallbacks": 0,
        "withheld": 0,
        "manual": 0,
        "latency_hist": counts,
        "latency_ms": histogram.summary(counts),
        "sentiment": dict(zip(("positive", "neutral", "negative"), sentiment, strict=True)),
        "active_contacts": 3,
        "by_relationship": {"friend": {"inbound": inbound, "replies_sent": replies_sent}},
    }
    document.update(overrides)
    return document


def bridge_status_document(
    *,
    account: str = "default",
    transport: str = "simulator",
    state: str = "ready",
    qr_code: str = "",
    breaker: str = "closed",
    updated_at: datetime = EPOCH,
    detail: str = "",
) -> Document:
    """A `bridge_status` document (written by the bridge, not a projection)."""
    return {
        "_id": account,
        "transport": transport,
        "state": state,
        "detail": detail,
        "qr_code": qr_code,
        "breaker": breaker,
        "updated_at": updated_at,
    }


def seed_threads(
    db: Database[Document],
    count: int,
    *,
    account: str = "default",
    newest: datetime = EPOCH,
    spacing: timedelta = timedelta(minutes=1),
    same_time_every: int = 1,
    batch: int = 1_000,
    **fields: Any,
) -> list[Document]:
    """Writes `count` threads, newest first, `spacing` apart.

    With `same_time_every=k`, runs of k threads share one `last_message_at`, for
    checking that pagination neither skips nor repeats ties.
    """
    states = ("active", "idle", "archived")
    relationships = ("friend", "family", "client", "colleague", "unknown")
    documents = [
        thread_document(
            account=account,
            chat_id=f"1555{index:07d}@c.us",
            contact_name=f"Contact {index}",
            state=states[index % 3],
            relationship=relationships[index % 5],
            last_message_at=newest - spacing * (index // same_time_every),
            last_text=f"message number {index}",
            position=index + 1,
            **fields,
        )
        for index in range(count)
    ]
    for start in range(0, count, batch):
        db["rm_threads"].insert_many(documents[start : start + batch], ordered=False)
    return documents
