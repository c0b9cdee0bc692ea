"""Outbound webhook subscribers: list, add, look at and remove them.

Subscribers live in MongoDB (`parley.bridge.outbound_webhooks`); the bridge's
dispatcher picks up changes on its own. The secret is taken on creation and never
shown again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from aiohttp import web
from parley.bridge.outbound_webhooks import (
    InvalidSubscriber,
    SubscriberExists,
    SubscriberIsConfigured,
    WebhookSubscriptionStore,
)
from parley.http import keys
from parley.http.errors import BadRequest, Conflict, NotFound
from parley.http.responses import json_response
from parley.http.routing import Args

T = TypeVar("T")


async def _with_store(request: web.Request, work: Callable[[WebhookSubscriptionStore], T]) -> T:
    # The write side's own (synchronous) client: the store is synchronous too.
    log = request.app[keys.PARLEY].event_log
    store = WebhookSubscriptionStore(log.datastore.db, head=log.max_notification_id)
    try:
        return await asyncio.to_thread(work, store)
    except (SubscriberExists, SubscriberIsConfigured) as exc:
        raise Conflict(str(exc)) from None
    except InvalidSubscriber as exc:
        raise BadRequest(str(exc)) from None


async def list_webhooks(request: web.Request, args: Args) -> web.StreamResponse:
    subscribers = await _with_store(request, lambda store: store.list())
    return json_response({"items": [subscriber.public() for subscriber in subscribers]})


async def add_webhook(request: web.Request, args: Args) -> web.StreamResponse:
    body: dict[str, Any] = args["body"]
    subscriber = await _with_store(
        request,
        lambda store: store.add(
            body["url"],
            list(body["events"]),
            body["secret"],
            subscriber_id=body.get("id"),
            replay=body.get("replay", False),
        ),
    )
    return json_response(subscriber.public(), status=201)


async def get_webhook(request: web.Request, args: Args) -> web.StreamResponse:
    subscriber_id = args["webhook_id"]

    def read(store: WebhookSubscriptionStore) -> dict[str, Any] | None:
        subscriber = store.get(subscriber_id)
        if subscriber is None:
            return None
        return {**subscriber.public(), "delivery": store.delivery_status(subscriber_id)}

    found = await _with_store(request, read)
    if found is None:
        raise NotFound(f"no webhook subscriber {subscriber_id!r}")
    return json_response(found)


async def remove_webhook(request: web.Request, args: Args) -> web.StreamResponse:
    subscriber_id = args["webhook_id"]
    removed = await _with_store(request, lambda store: store.remove(subscriber_id))
    if not removed:
        raise NotFound(f"no webhook subscriber {subscriber_id!r}")
    return json_response({"removed": subscriber_id})
