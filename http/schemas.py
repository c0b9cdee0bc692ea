"""JSON Schemas of what the API answers (OpenAPI 3.0 dialect), after SCHEMA.md."""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]

STRING: Schema = {"type": "string"}
INTEGER: Schema = {"type": "integer"}
NUMBER: Schema = {"type": "number"}
BOOLEAN: Schema = {"type": "boolean"}
DATETIME: Schema = {"type": "string", "format": "date-time"}


def nullable(schema: Schema) -> Schema:
    return {**schema, "nullable": True}


def array(items: Schema) -> Schema:
    return {"type": "array", "items": items}


def obj(properties: dict[str, Schema], required: tuple[str, ...] = ()) -> Schema:
    schema: Schema = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    return schema


ERROR = obj(
    {"error": obj({"status": INTEGER, "message": STRING}, ("status", "message"))}, ("error",)
)

SENTIMENT_COUNTS = obj({"positive": INTEGER, "neutral": INTEGER, "negative": INTEGER})

THREAD = obj(
    {
        "id": STRING,
        "account": STRING,
        "chat_id": STRING,
        "conversation_id": STRING,
        "contact_id": STRING,
        "number": INTEGER,
        "previous_thread_id": nullable(STRING),
        "is_group": BOOLEAN,
        "contact_name": STRING,
        "relationship": STRING,
        "state": {"type": "string", "enum": ["active", "idle", "archived"]},
        "bot_paused": BOOLEAN,
        "opened_at": DATETIME,
        "last_message_at": DATETIME,
        "last_message": nullable(
            obj(
                {
                    "direction": {"type": "string", "enum": ["in", "out"]},
                    "text": STRING,
                    "kind": STRING,
                    "at": DATETIME,
                }
            )
        ),
        "counts": {"type": "object", "additionalProperties": INTEGER},
        "unanswered": INTEGER,
        "sentiment": obj(
            {"last": nullable(NUMBER), "mean": nullable(NUMBER), "trend": array(NUMBER)}
        ),
        "topics": array(STRING),
        "last_reply_latency_ms": nullable(NUMBER),
        "position": INTEGER,
    },
    ("id", "state", "last_message_at"),
)

MESSAGE = obj(
    {
        "id": STRING,
        "thread_id": STRING,
        "conversation_id": STRING,
        "contact_id": STRING,
        "account": STRING,
        "chat_id": STRING,
        "seq": INTEGER,
        "direction": {"type": "string", "enum": ["in", "out"]},
        "at": DATETIME,
        "kind": STRING,
        "text": STRING,
        "sender": STRING,
        "push_name": STRING,
        "media": nullable({"type": "object"}),
        "quoted_message_id": STRING,
        "from_me": BOOLEAN,
        "sentiment": nullable(obj({"compound": NUMBER, "label": STRING})),
        "topics": array(STRING),
        "withheld": STRING,
        "text_capped": nullable(obj({"length": INTEGER, "cap": INTEGER})),
        "reply_id": STRING,
        "in_reply_to": STRING,
        "manual": BOOLEAN,
        "reply_status": {"type": "string", "enum": ["generated", "sent", "failed"]},
        "is_fallback": BOOLEAN,
        "fallback_reason": STRING,
        "failure_reason": STRING,
        "attempts": INTEGER,
        "model": STRING,
        "latency_ms": nullable(NUMBER),
        "prompt_tokens": nullable(INTEGER),
        "response_tokens": nullable(INTEGER),
        "finish_reason": STRING,
        "context_digest": STRING,
        "wa_message_id": STRING,
        "sent_at": nullable(DATETIME),
        "delivery": STRING,
    },
    ("id", "seq", "direction", "at"),
)

CUSTOM = obj(
    {
        "personality": STRING,
        "communication_style": STRING,
        "topics": array(STRING),
        "emoji_preference": STRING,
    }
)

CONTACT = obj(
    {
        "id": STRING,
        "account": STRING,
        "number": STRING,
        "push_name": STRING,
        "name": STRING,
        "preferred_name": STRING,
        "relationship": STRING,
        "priority": INTEGER,
        "language": STRING,
        "custom": CUSTOM,
        "style": obj(
            {
                "emoji_rate": NUMBER,
                "typical_length": INTEGER,
                "formality": NUMBER,
                "samples": INTEGER,
            }
        ),
        "first_seen_at": DATETIME,
        "last_message_at": DATETIME,
        "stats": obj(
            {
                "inbound": INTEGER,
                "replies_sent": INTEGER,
                "threads": INTEGER,
                "sentiment_mean": nullable(NUMBER),
            }
        ),
        "position": INTEGER,
    },
    ("id",),
)

LATENCY = obj(
    {
        "p50": nullable(NUMBER),
        "p95": nullable(NUMBER),
        "p99": nullable(NUMBER),
        "count": INTEGER,
    }
)

ANALYTICS_BUCKET = obj(
    {
        "id": STRING,
        "granularity": {"type": "string", "enum": ["day", "hour", "total"]},
        "bucket": nullable(DATETIME),
        "inbound": INTEGER,
        "replies_generated": INTEGER,
        "replies_sent": INTEGER,
        "failures": INTEGER,
        "fallbacks": INTEGER,
        "withheld": INTEGER,
        "manual": INTEGER,
        "latency_hist": {"type": "array", "items": INTEGER},
        "latency_ms": LATENCY,
        "sentiment": SENTIMENT_COUNTS,
        "active_contacts": INTEGER,
        "by_relationship": {"type": "object", "additionalProperties": {"type": "object"}},
    },
    ("id", "bucket"),
)

ANALYTICS = obj(
    {
        "account": STRING,
        "granularity": STRING,
        "from": {"type": "string", "format": "date"},
        "to": {"type": "string", "format": "date"},
        "buckets": array(ANALYTICS_BUCKET),
        "summary": obj(
            {
                "inbound": INTEGER,
                "replies_generated": INTEGER,
                "replies_sent": INTEGER,
                "failures": INTEGER,
                "fallbacks": INTEGER,
                "withheld": INTEGER,
                "manual": INTEGER,
                "sentiment": SENTIMENT_COUNTS,
                "latency_ms": LATENCY,
            }
        ),
    },
    ("buckets", "summary"),
)

BRIDGE = obj(
    {
        "account": STRING,
        "transport": STRING,
        "state": STRING,
        "detail": STRING,
        "needs_qr_scan": BOOLEAN,
        "breaker": STRING,
        "updated_at": nullable(DATETIME),
        "stale": BOOLEAN,
    },
    ("state", "stale"),
)

HEALTH = obj(
    {
        "status": {"type": "string", "enum": ["ok", "degraded", "down"]},
        "database": obj({"ok": BOOLEAN, "latency_ms": nullable(NUMBER), "error": STRING}, ("ok",)),
        "bridge": nullable(BRIDGE),
        "projections": array(
            obj(
                {"name": STRING, "position": INTEGER, "lag": INTEGER, "running": BOOLEAN},
                ("name", "position", "lag", "running"),
            )
        ),
        "pages": {"type": "object", "additionalProperties": STRING},
    },
    ("status", "database", "bridge", "pages"),
)

PERSONA = obj(
    {
        "account": STRING,
        "defined": BOOLEAN,
        "name": STRING,
        "owner_name": STRING,
        "organisation": STRING,
        "services": array(STRING),
        "instructions": STRING,
        "tone": STRING,
    },
    ("account", "defined"),
)

ACCEPTED = obj(
    {"accepted": BOOLEAN, "by": STRING, "reply_id": STRING, "version": INTEGER},
    ("accepted", "by"),
)


AUDIT_ENTRY = obj(
    {
        "position": INTEGER,
        "recorded_at": nullable(DATETIME),
        "aggregate": STRING,
        "originator_id": STRING,
        "version": INTEGER,
        "event": STRING,
        "data": {"type": "object"},
    },
    ("position", "aggregate", "originator_id", "version", "event", "data"),
)

AUDIT = obj(
    {
        "account": STRING,
        "chat_id": STRING,
        "as_of": nullable(DATETIME),
        "items": array(AUDIT_ENTRY),
        "next_after": nullable(INTEGER),
    },
    ("account", "chat_id", "items", "next_after"),
)

AS_OF = obj(
    {
        "id": STRING,
        "version": INTEGER,
        "as_of": obj({"at": nullable(DATETIME), "position": nullable(INTEGER)}),
        "last_event": obj(
            {"position": nullable(INTEGER), "recorded_at": nullable(DATETIME), "event": STRING}
        ),
        "state": {"type": "object"},
    },
    ("id", "version", "as_of", "last_event", "state"),
)


def page(items: Schema, cursor: str = "next_cursor", cursor_type: Schema = STRING) -> Schema:
    return obj({"items": array(items), cursor: nullable(cursor_type)}, ("items", cursor))


WEBHOOK = obj(
    {
        "id": STRING,
        "url": STRING,
        "events": array(STRING),
        "source": {"type": "string", "enum": ["api", "config"]},
        "replay": BOOLEAN,
    },
    ("id", "url", "events", "source", "replay"),
)
WEBHOOK_STATUS = {
    **WEBHOOK,
    "properties": {
        **WEBHOOK["properties"],
        "delivery": array({"type": "object"}),
    },
}
