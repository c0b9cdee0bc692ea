"""The route table: every route the API serves, with what it takes and answers.

The router (`routing.register`) and the OpenAPI document (`openapi.document`) are
both made from `ROUTES`.
"""

from __future__ import annotations

from parley.domain.profiles import Relationship
from parley.http import (
    analytics,
    contacts,
    dashboard,
    history,
    persona,
    schemas,
    system,
    threads,
    webhooks,
)
from parley.http.routing import Answer, Route
from parley.http.validation import UUID_PATTERN, Body, Spec

API = "/api/v1"

RELATIONSHIPS = tuple(r.value for r in Relationship)
LIMIT = Spec("limit", "integer", "how many items a page holds", minimum=1, maximum=200, default=50)
CURSOR = Spec(
    "cursor",
    "string",
    "`next_cursor` of the previous page, to read on; made for the same filters",
    min_length=1,
    max_length=200,
    pattern=r"^[A-Za-z0-9_-]+$",
)
ACCOUNT = Spec(
    "account",
    "string",
    "the WhatsApp account; default: the one this deployment serves",
    min_length=1,
    max_length=64,
    pattern=r"^[A-Za-z0-9_-]+$",
)
RELATIONSHIP = Spec("relationship", "enum", "only this relationship", enum=RELATIONSHIPS)


def _id(name: str, what: str) -> Spec:
    return Spec(
        name,
        "string",
        f"the {what}'s id (a UUID)",
        required=True,
        min_length=36,
        max_length=36,
        pattern=UUID_PATTERN,
        location="path",
    )


THREAD_ID = _id("thread_id", "thread")
CONTACT_ID = _id("contact_id", "contact")

CUSTOM_FIELDS = (
    Spec("personality", "string", max_length=500),
    Spec("communication_style", "string", max_length=500),
    Spec("topics", "strings", max_items=50, max_length=100),
    Spec("emoji_preference", "enum", enum=("", "none", "some", "lots")),
)
EDIT_CONTACT = Body(
    (
        Spec("name", "string", max_length=500),
        Spec("preferred_name", "string", max_length=500),
        Spec("relationship", "enum", enum=RELATIONSHIPS),
        Spec("priority", "integer", minimum=0, maximum=10),
        Spec(
            "language",
            "string",
            "a language tag such as en or pt-BR; empty to unset",
            max_length=35,
            pattern=r"^([A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*)?$",
        ),
        Spec(
            "custom",
            "object",
            "what the operator says of this contact; replaces it whole",
            fields=CUSTOM_FIELDS,
        ),
    ),
    "the fields to change; fields left out stay as they are",
)
PERSONA = Body(
    (
        Spec("name", "string", "the assistant's name", required=True, min_length=1, max_length=200),
        Spec("owner_name", "string", max_length=200),
        Spec("organisation", "string", max_length=200),
        Spec("services", "strings", max_items=50, max_length=200),
        Spec("instructions", "string", max_length=4_000),
        Spec("tone", "string", max_length=200),
    ),
    "the whole persona; fields left out take their defaults",
)
PAUSE = Body((Spec("reason", "string", max_length=200),), "why the bot is paused (optional)")
RESUME = Body((), "an empty object")
MANUAL_REPLY = Body(
    (
        Spec(
            "text",
            "string",
            "the reply, as it will be sent",
            required=True,
            min_length=1,
            max_length=4_096,
        ),
        Spec(
            "request_id",
            "string",
            "a key the client chooses: sending the same one again queues nothing new",
            required=True,
            min_length=1,
            max_length=64,
            pattern=r"^[A-Za-z0-9_-]+$",
        ),
    ),
)

WEBHOOK_ID = Spec(
    "webhook_id",
    "string",
    "the subscriber's id",
    required=True,
    min_length=1,
    max_length=64,
    pattern=r"^[A-Za-z0-9_-]+$",
    location="path",
)
NEW_WEBHOOK = Body(
    (
        Spec(
            "url",
            "string",
            "where events are POSTed (http or https)",
            required=True,
            min_length=8,
            max_length=2_000,
        ),
        Spec(
            "events",
            "strings",
            "topic filters such as '*', 'Thread.*' or '*.ReplySent'",
            required=True,
            max_items=50,
            max_length=200,
        ),
        Spec(
            "secret",
            "string",
            "the HMAC-SHA256 signing secret; never shown again",
            required=True,
            min_length=16,
            max_length=256,
        ),
        Spec(
            "id",
            "string",
            "an id to choose (default: one is made)",
            min_length=1,
            max_length=64,
            pattern=r"^[A-Za-z0-9_-]+$",
        ),
        Spec("replay", "boolean", "deliver from the first event, not from now"),
    ),
    "a new subscriber",
)

POSITION = Spec(
    "position", "integer", "as it was after this log position", minimum=1, maximum=2**53
)
AT = Spec("at", "datetime", "as it was at this time (recorded by then)")

WEBHOOK_ROUTES: tuple[Route, ...] = (
    Route(
        "GET",
        f"{API}/webhooks",
        "list_webhooks",
        "Outbound webhook subscribers (secrets are never shown)",
        "webhooks",
        webhooks.list_webhooks,
        Answer(200, "the subscribers", schemas.obj({"items": schemas.array(schemas.WEBHOOK)})),
    ),
    Route(
        "POST",
        f"{API}/webhooks",
        "add_webhook",
        "Add a subscriber; it receives each event of the log written from now on, signed",
        "webhooks",
        webhooks.add_webhook,
        Answer(201, "the subscriber", schemas.WEBHOOK),
        body=NEW_WEBHOOK,
        errors=(409,),
    ),
    Route(
        "GET",
        f"{API}/webhooks/{{webhook_id}}",
        "get_webhook",
        "One subscriber and how far delivery to it got",
        "webhooks",
        webhooks.get_webhook,
        Answer(200, "the subscriber", schemas.WEBHOOK_STATUS),
        path_params=(WEBHOOK_ID,),
    ),
    Route(
        "DELETE",
        f"{API}/webhooks/{{webhook_id}}",
        "remove_webhook",
        "Remove a subscriber added through the API",
        "webhooks",
        webhooks.remove_webhook,
        Answer(200, "removed", schemas.obj({"removed": schemas.STRING}, ("removed",))),
        path_params=(WEBHOOK_ID,),
        errors=(409,),
    ),
)

ROUTES: tuple[Route, ...] = (
    Route(
        "GET",
        "/",
        "dashboard",
        "The operator dashboard (HTML; it signs in with a token)",
        "dashboard",
        dashboard.index,
        Answer(200, "the page", content_type="text/html"),
        public=True,
    ),
    Route(
        "GET",
        f"{API}/health",
        "health",
        "Database, bridge and projections: whether Parley works",
        "system",
        system.health,
        Answer(200, "the database answers (503: it does not)", schemas.HEALTH, also=(503,)),
        public=True,
    ),
    Route(
        "GET",
        "/metrics",
        "metrics",
        "Prometheus metrics (text exposition format)",
        "system",
        system.metrics,
        Answer(200, "metrics", content_type="text/plain"),
    ),
    Route(
        "GET",
        f"{API}/openapi.json",
        "openapi",
        "This document",
        "system",
        system.openapi_document,
        Answer(200, "an OpenAPI 3 document", {"type": "object"}),
    ),
    Route(
        "GET",
        f"{API}/threads",
        "list_threads",
        "Threads, most recent message first, in pages",
        "threads",
        threads.list_threads,
        Answer(200, "a page of threads", schemas.page(schemas.THREAD)),
        query=(
            Spec(
                "state", "enum", "only threads in this state", enum=("active", "idle", "archived")
            ),
            RELATIONSHIP,
            Spec("updated_since", "datetime", "only threads with a message at or after this"),
            ACCOUNT,
            CURSOR,
            LIMIT,
        ),
    ),
    Route(
        "GET",
        f"{API}/threads/{{thread_id}}",
        "get_thread",
        "One thread",
        "threads",
        threads.get_thread,
        Answer(200, "the thread", schemas.THREAD),
        path_params=(THREAD_ID,),
    ),
    Route(
        "GET",
        f"{API}/threads/{{thread_id}}/messages",
        "list_messages",
        "A thread's timeline in log order, in pages; `q` searches its text",
        "threads",
        threads.list_messages,
        Answer(
            200, "a page of messages", schemas.page(schemas.MESSAGE, "next_after", schemas.INTEGER)
        ),
        path_params=(THREAD_ID,),
        query=(
            Spec(
                "after",
                "integer",
                "`next_after` of the previous page",
                minimum=0,
                maximum=2**53,
                default=0,
            ),
            Spec(
                "q",
                "string",
                "only messages containing this text (any case)",
                min_length=1,
                max_length=100,
            ),
            LIMIT,
        ),
    ),
    Route(
        "POST",
        f"{API}/threads/{{thread_id}}/pause",
        "pause_bot",
        "Stop the bot replying in this thread",
        "operator",
        threads.pause,
        Answer(202, "recorded", schemas.ACCEPTED),
        path_params=(THREAD_ID,),
        body=PAUSE,
        errors=(409,),
    ),
    Route(
        "POST",
        f"{API}/threads/{{thread_id}}/resume",
        "resume_bot",
        "Let the bot reply in this thread again",
        "operator",
        threads.resume,
        Answer(202, "recorded", schemas.ACCEPTED),
        path_params=(THREAD_ID,),
        body=RESUME,
        errors=(409,),
    ),
    Route(
        "POST",
        f"{API}/threads/{{thread_id}}/replies",
        "send_manual_reply",
        "Queue the operator's own reply; the bridge sends it",
        "operator",
        threads.manual_reply,
        Answer(202, "queued", schemas.ACCEPTED),
        path_params=(THREAD_ID,),
        body=MANUAL_REPLY,
        errors=(409,),
    ),
    Route(
        "GET",
        f"{API}/threads/{{thread_id}}/as-of",
        "thread_as_of",
        "A thread as it was at a past time or log position, rebuilt from its events",
        "history",
        history.thread_then,
        Answer(200, "the thread then", schemas.AS_OF),
        path_params=(THREAD_ID,),
        query=(AT, POSITION),
    ),
    Route(
        "GET",
        f"{API}/audit",
        "conversation_history",
        "A conversation's events (its threads' and contact's too), oldest first",
        "history",
        history.audit,
        Answer(200, "a page of events", schemas.AUDIT),
        query=(
            Spec(
                "chat",
                "string",
                "a chat id (15551234567@c.us) or a phone number (+1 555 123 4567)",
                required=True,
                min_length=1,
                max_length=64,
            ),
            Spec("as_of", "datetime", "only events recorded by then"),
            Spec(
                "after",
                "integer",
                "`next_after` of the previous page",
                minimum=0,
                maximum=2**53,
                default=0,
            ),
            Spec(
                "limit",
                "integer",
                "how many events a page holds",
                minimum=1,
                maximum=1_000,
                default=200,
            ),
            ACCOUNT,
        ),
    ),
    Route(
        "GET",
        f"{API}/contacts",
        "list_contacts",
        "Contacts, most recent message first, in pages",
        "contacts",
        contacts.list_contacts,
        Answer(200, "a page of contacts", schemas.page(schemas.CONTACT)),
        query=(RELATIONSHIP, ACCOUNT, CURSOR, LIMIT),
    ),
    Route(
        "GET",
        f"{API}/contacts/{{contact_id}}",
        "get_contact",
        "One contact",
        "contacts",
        contacts.get_contact,
        Answer(200, "the contact", schemas.CONTACT),
        path_params=(CONTACT_ID,),
    ),
    Route(
        "GET",
        f"{API}/contacts/{{contact_id}}/as-of",
        "contact_as_of",
        "A contact as it was at a past time or log position, rebuilt from its events",
        "history",
        history.contact_then,
        Answer(200, "the contact then", schemas.AS_OF),
        path_params=(CONTACT_ID,),
        query=(AT, POSITION),
    ),
    Route(
        "PATCH",
        f"{API}/contacts/{{contact_id}}",
        "edit_contact",
        "Edit a contact's profile",
        "operator",
        contacts.edit_contact,
        Answer(202, "recorded", schemas.ACCEPTED),
        path_params=(CONTACT_ID,),
        body=EDIT_CONTACT,
    ),
    Route(
        "GET",
        f"{API}/persona",
        "get_persona",
        "The assistant's persona",
        "operator",
        persona.get_persona,
        Answer(200, "the persona", schemas.PERSONA),
    ),
    Route(
        "PUT",
        f"{API}/persona",
        "set_persona",
        "Define or edit the assistant's persona",
        "operator",
        persona.put_persona,
        Answer(202, "recorded", schemas.ACCEPTED),
        body=PERSONA,
    ),
    Route(
        "GET",
        f"{API}/analytics",
        "get_analytics",
        "Volumes, latency and sentiment per UTC day or hour, over a date range",
        "analytics",
        analytics.get_analytics,
        Answer(200, "the buckets, oldest first", schemas.ANALYTICS),
        query=(
            Spec("granularity", "enum", "bucket size", enum=("day", "hour"), default="day"),
            Spec("from", "date", "first day (UTC); default: 30 days before `to`"),
            Spec("to", "date", "last day (UTC), included; default: today"),
            ACCOUNT,
        ),
    ),
    Route(
        "GET",
        f"{API}/bridge",
        "get_bridge",
        "The WhatsApp bridge's state",
        "system",
        system.bridge,
        Answer(200, "its last report", schemas.BRIDGE),
        errors=(404,),
    ),
    Route(
        "GET",
        f"{API}/bridge/qr.svg",
        "get_bridge_qr",
        "The WhatsApp Web login QR code, while the bridge waits for a scan",
        "system",
        system.bridge_qr,
        Answer(200, "the QR code", content_type="image/svg+xml"),
        errors=(404,),
    ),
    *WEBHOOK_ROUTES,
)
