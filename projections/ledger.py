"""Which inbound messages of a thread wait for a reply, and since when.

Reply latency runs from an inbound message's `received_at` to its reply's
`ReplySent.sent_at`; neither event carries the other's time, so a projection
that measures it keeps a small ledger in a document: inbound messages awaiting
a reply, and generated replies awaiting their send, each with the inbound
message's `received_at`. Entries are `[id, time]` pairs (WhatsApp ids contain
dots, which do not belong in field names).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

KEPT = 100  # entries remembered per list; older ones are forgotten

Document = dict[str, Any]


@dataclass(frozen=True)
class Ledger:
    """A ledger kept in two list fields of a document."""

    awaiting_reply: str  # [[wa_message_id, received_at]]
    awaiting_send: str  # [[reply_id, received_at of the message it answers]]

    def empty(self) -> Document:
        return {self.awaiting_reply: [], self.awaiting_send: []}

    def received(self, document: Document, wa_message_id: str, at: datetime) -> None:
        entries = document[self.awaiting_reply]
        document[self.awaiting_reply] = [*entries, [wa_message_id, at]][-KEPT:]

    def withheld(self, document: Document, wa_message_id: str) -> None:
        _pop(document, self.awaiting_reply, wa_message_id)

    def answered(self, document: Document, wa_message_id: str, reply_id: str) -> None:
        """The reply `reply_id` was generated for `wa_message_id`."""
        at = _pop(document, self.awaiting_reply, wa_message_id)
        if at is not None:
            entries = document[self.awaiting_send]
            document[self.awaiting_send] = [*entries, [reply_id, at]][-KEPT:]

    def settled(self, document: Document, reply_id: str) -> datetime | None:
        """The reply was sent or failed; returns when its inbound message arrived."""
        return _pop(document, self.awaiting_send, reply_id)

    def received_at(self, document: Document, wa_message_id: str) -> datetime | None:
        """When a message still awaiting a reply arrived."""
        for entry_id, at in document[self.awaiting_reply]:
            if entry_id == wa_message_id:
                found: datetime = at
                return found
        return None


def latency_ms(received_at: datetime, sent_at: datetime) -> float:
    return round((sent_at - received_at).total_seconds() * 1000, 3)


def _pop(document: Document, key: str, item_id: str) -> datetime | None:
    entries: list[list[Any]] = document[key]
    for index, (entry_id, at) in enumerate(entries):
        if entry_id == item_id:
            document[key] = entries[:index] + entries[index + 1 :]
            found: datetime = at
            return found
    return None
