"""What one delivery looks like on the wire.

Body: `{"position", "topic", "originator_id", "originator_version", "state"}`
as JSON, `state` being the event's own fields (UUIDs and datetimes as strings).

Headers:

* `X-Parley-Delivery`: the delivery id, the same on every retry and after a
  restart of the sender, so a receiver can drop duplicates (delivery is at least
  once).
* `X-Parley-Timestamp`: Unix seconds when this attempt was signed.
* `X-Parley-Signature-256`: `sha256=<hex>`, the HMAC-SHA256, keyed with the
  subscriber's secret, of `<timestamp>.<body>`. Signing the timestamp with the
  body lets a receiver refuse old replays (say, more than five minutes old).
* `X-Parley-Event`: the event's topic, for routing without parsing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from decimal import Decimal
from typing import Any

import orjson
from eventsourcing.persistence import Notification, Transcoder

SIGNATURE_HEADER = "X-Parley-Signature-256"
DELIVERY_HEADER = "X-Parley-Delivery"
TIMESTAMP_HEADER = "X-Parley-Timestamp"
EVENT_HEADER = "X-Parley-Event"
_NAMESPACE = uuid.UUID("0b5bd1a4-4c1e-4c55-9d55-1f7d2c0e6a11")


def delivery_id(subscriber_id: str, stream: str, position: int) -> str:
    """Stable for one event and one subscriber: retries and restarts reuse it."""
    return str(uuid.uuid5(_NAMESPACE, f"{subscriber_id}|{stream}|{position}"))


def event_body(notification: Notification, transcoder: Transcoder) -> bytes:
    state: Any
    try:
        state = transcoder.decode(notification.state)
    except Exception as exc:
        # An event this process cannot decode still goes out, plainly marked,
        # rather than stopping every later event of its conversation.
        state = {"_undecodable": f"{type(exc).__name__}: {exc}"[:300]}
    return orjson.dumps(
        {
            "position": notification.id,
            "topic": notification.topic,
            "originator_id": str(notification.originator_id),
            "originator_version": notification.originator_version,
            "state": state,
        },
        default=_plain,
    )


def _plain(value: Any) -> Any:
    """What orjson does not write by itself."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    return str(value)


def signature(secret: str, timestamp: str, body: bytes) -> str:
    signed = timestamp.encode("ascii") + b"." + body
    return "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def headers_for(
    secret: str, body: bytes, *, delivery: str, timestamp: int, topic: str
) -> dict[str, str]:
    stamp = str(timestamp)
    return {
        "Content-Type": "application/json",
        "User-Agent": "Parley-Webhooks/1",
        DELIVERY_HEADER: delivery,
        TIMESTAMP_HEADER: stamp,
        EVENT_HEADER: topic,
        SIGNATURE_HEADER: signature(secret, stamp, body),
    }


def verify(secret: str, timestamp: str, body: bytes, header: str) -> bool:
    """For receivers written in Python: checks a delivery's signature in constant time."""
    return hmac.compare_digest(signature(secret, timestamp, body), header)
