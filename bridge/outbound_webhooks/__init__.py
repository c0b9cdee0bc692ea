"""Outbound webhooks: every event of the log, signed, to the integrations that
subscribe, in order per conversation, resuming after a restart."""

from parley.bridge.outbound_webhooks.delivery import verify
from parley.bridge.outbound_webhooks.dispatcher import DeliverySettings, OutboundWebhookDispatcher
from parley.bridge.outbound_webhooks.store import (
    SubscriberExists,
    SubscriberIsConfigured,
    WebhookSubscriptionStore,
)
from parley.bridge.outbound_webhooks.subscribers import InvalidSubscriber, Subscriber, from_env

__all__ = [
    "DeliverySettings",
    "InvalidSubscriber",
    "OutboundWebhookDispatcher",
    "Subscriber",
    "SubscriberExists",
    "SubscriberIsConfigured",
    "WebhookSubscriptionStore",
    "from_env",
    "verify",
]
