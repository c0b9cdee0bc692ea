"""Which inbound messages of a thread wait for a reply, and since when.

Reply latency runs from an inbound message's `received_at` to its reply's
`ReplySent.sent_at`; neither event carries the other's time, so a projection
that measures it keeps this small ledger in a bookkeeping document of its own
(one per thread), as lists of `[id, time]` pairs (WhatsApp ids contain dots,
which do not belong in field names).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

KEPT = 100  # unanswered messages remembered per thread; older ones are forgotten

Document = dict[str, Any]


def new_ledger() -> Document:
    return {"inbound": [], "replies": []}


def received(ledger: Document, wa_message_id: str, at: datetime) -> None:
    ledger["inbound"] = [*ledger["inbound"], [wa_message_id, at]][-KEPT:]


def withheld(ledger: Document, wa_message_id: str) -> None:
    _pop(ledger, "inbound", wa_message_id)


def answered(ledger: Document, wa_message_id: str, reply_id: str) -> None:
    """The reply `reply_id` was generated for `wa_message_id`."""
    at = _pop(ledger, "inbound", wa_message_id)
    if at is not None:
        ledger["replies"] = [*ledger["replies"], [reply_id, at]][-KEPT:]


def settled(ledger: Document, reply_id: str) -> datetime | None:
    """The reply was sent or failed; returns when its inbound message arrived."""
    return _pop(ledger, "replies", reply_id)


def latency_ms(received_at: datetime, sent_at: datetime) -> float:
    return round((sent_at - received_at).total_seconds() * 1000, 3)


def _pop(ledger: Document, key: str, item_id: str) -> datetime | None:
    entries: list[list[Any]] = ledger[key]
    for index, (entry_id, at) in enumerate(entries):
        if entry_id == item_id:
            ledger[key] = entries[:index] + entries[index + 1 :]
            found: datetime = at
            return found
    return None
