"""Helpers for the read-side tests: an app over a test database, projecting a
log in-process, copying a log, and reading a read model whole for comparison."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from parley.domain.application import ParleyApp
from parley.domain.messages import InboundMessage, MessageKind
from parley.eventstore.factory import factory_settings
from parley.projections.base import ReadModelProjection
from parley.projections.registry import PROJECTION_NAMES, build_projections, build_view
from parley.projections.replay import build
from pymongo import MongoClient
from pymongo.database import Database

Document = dict[str, Any]
T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
LOG_COLLECTIONS = ("parley_events", "parley_events_counters", "parley_events_keys")


def make_app(uri: str, database: str, **extra: object) -> ParleyApp:
    return ParleyApp(env=factory_settings(uri, database, **extra))


def project(
    app: ParleyApp,
    names: Sequence[str] = PROJECTION_NAMES,
    *,
    suffix: str = "",
    batch_size: int = 500,
) -> list[ReadModelProjection]:
    """Brings the named read models (optionally suffixed) up to the head of the log."""
    projections = build_projections(app.recorder.datastore, names, suffix=suffix)
    for projection in projections:
        projection.view.create_indexes()
    build(app, projections, batch_size=batch_size)
    return projections


def read_model(app: ParleyApp, name: str, *, suffix: str = "") -> dict[str, dict[str, Document]]:
    """Every document of every collection of one read model, by collection and
    id, plus its checkpoint (under the key "checkpoint")."""
    view = build_view(app.recorder.datastore, name, suffix=suffix)
    found: dict[str, dict[str, Document]] = {
        spec.name: {doc["_id"]: doc for doc in view.documents(spec.name)} for spec in view.specs
    }
    found["checkpoint"] = {doc["_id"]: doc for doc in view.tracking.find()}
    return found


def copy_log(client: MongoClient[Document], source: str, target: str) -> None:
    """Copies an event log (events, counter, keys) into another database."""
    for name in LOG_COLLECTIONS:
        documents = list(client[source][name].find())
        if documents:
            client[target][name].insert_many(documents)


def database(uri: str, name: str) -> tuple[MongoClient[Document], Database[Document]]:
    client: MongoClient[Document] = MongoClient(uri, uuidRepresentation="standard", tz_aware=True)
    return client, client[name]


def wait_for(check: Callable[[], bool], timeout: float = 60.0, what: str = "condition") -> None:
    """Waits for `check()` to hold; a generous timeout only stops a hang."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.05)


def inbound(
    chat: str,
    wa_id: str,
    text: str,
    at: datetime,
    *,
    account: str = "default",
    **fields: Any,
) -> InboundMessage:
    """A text message from the chat's own number (or as `fields` say)."""
    values: dict[str, Any] = {
        "account": account,
        "wa_message_id": wa_id,
        "chat_id": chat,
        "sender": chat.split("@", 1)[0],
        "push_name": fields.pop("push_name", "Ana"),
        "kind": MessageKind.TEXT,
        "text": text,
        "sent_at": at - timedelta(seconds=1),
        "received_at": at,
    }
    values.update(fields)
    return InboundMessage(**values)
