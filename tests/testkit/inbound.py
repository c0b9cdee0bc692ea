"""Inbound messages for tests, with every field a transport would fill."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

from parley.domain.messages import InboundMessage, MessageKind

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # a Wednesday, noon UTC
_ids = itertools.count(1)


def inbound(
    text: str = "Hello there, how are you?",
    *,
    number: str = "491511234567",
    at: datetime = T0,
    **fields: Any,
) -> InboundMessage:
    values: dict[str, Any] = {
        "account": "acct",
        "wa_message_id": f"wamid-{next(_ids)}",
        "chat_id": f"{number}@c.us",
        "sender": number,
        "push_name": f"Person {number[-3:]}",
        "kind": MessageKind.TEXT,
        "text": text,
        "sent_at": at,
        "received_at": at,
    }
    values.update(fields)
    return InboundMessage(**values)
