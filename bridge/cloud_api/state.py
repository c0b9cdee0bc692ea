"""The Cloud API transport's own operational state in MongoDB.

Not domain facts (those are events): only what this adapter needs to keep its
promises across a restart.

* `cloud_api_windows`: per chat, when the contact last wrote, because WhatsApp
  accepts free text only within 24 hours of that.
* `cloud_api_sends`: per outbound id, how far a send got, because the Cloud API
  cannot be asked whether a message went out. A `pending` record is written
  before the request and replaced by `accepted` (with WhatsApp's id) before
  `send_text` returns; `refused` when WhatsApp said no or was never reached.

All methods are synchronous (pymongo); call them through `asyncio.to_thread`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pymongo import ReturnDocument
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

Document = dict[str, Any]

WINDOWS = "cloud_api_windows"
SENDS = "cloud_api_sends"


class SendState(StrEnum):
    PENDING = "pending"  # the request may have reached WhatsApp; outcome unknown
    ACCEPTED = "accepted"  # WhatsApp answered with its message id
    REFUSED = "refused"  # WhatsApp said no, or was never reached


@dataclass(frozen=True)
class SendRecord:
    outbound_id: str
    chat_id: str
    state: SendState
    wa_message_id: str
    sent_at: datetime | None
    reason: str


class CloudApiState:
    def __init__(self, db: Database[Document], account: str) -> None:
        self.account = account
        self.windows: Collection[Document] = db[WINDOWS]
        self.sends: Collection[Document] = db[SENDS]

    def _window_key(self, chat_id: str) -> str:
        return f"{self.account}|{chat_id}"

    def record_inbound(self, chat_id: str, at: datetime) -> None:
        # $max: webhooks may arrive out of order; the window follows the newest.
        self.windows.update_one(
            {"_id": self._window_key(chat_id)},
            {
                "$max": {"last_inbound_at": at},
                "$setOnInsert": {"account": self.account, "chat_id": chat_id},
            },
            upsert=True,
        )

    def last_inbound(self, chat_id: str) -> datetime | None:
        document = self.windows.find_one({"_id": self._window_key(chat_id)})
        return _aware(document.get("last_inbound_at")) if document else None

    def begin_send(self, outbound_id: str, chat_id: str, at: datetime) -> SendRecord | None:
        """Marks a send as started. Returns the earlier record instead when the
        message was already accepted (so it is never sent twice)."""
        try:
            self.sends.insert_one(
                {
                    "_id": outbound_id,
                    "account": self.account,
                    "chat_id": chat_id,
                    "state": SendState.PENDING.value,
                    "started_at": at,
                }
            )
            return None
        except DuplicateKeyError:
            pass
        # A retry: start again unless it already went out.
        document = self.sends.find_one_and_update(
            {"_id": outbound_id, "state": {"$ne": SendState.ACCEPTED.value}},
            {"$set": {"state": SendState.PENDING.value, "started_at": at, "reason": ""}},
            return_document=ReturnDocument.AFTER,
        )
        if document is not None:
            return None
        return self.find_send(outbound_id)

    def record_accepted(self, outbound_id: str, wa_message_id: str, sent_at: datetime) -> None:
        self.sends.update_one(
            {"_id": outbound_id},
            {
                "$set": {
                    "state": SendState.ACCEPTED.value,
                    "wa_message_id": wa_message_id,
                    "sent_at": sent_at,
                }
            },
        )

    def record_refused(self, outbound_id: str, reason: str) -> None:
        self.sends.update_one(
            {"_id": outbound_id, "state": SendState.PENDING.value},
            {"$set": {"state": SendState.REFUSED.value, "reason": reason[:500]}},
        )

    def record_status(self, outbound_id: str, wa_message_id: str, at: datetime) -> None:
        """A status webhook echoed our outbound id: the message did reach WhatsApp,
        whatever became of the request that sent it."""
        self.sends.update_one(
            {"_id": outbound_id, "account": self.account, "state": {"$ne": "accepted"}},
            {
                "$set": {
                    "state": SendState.ACCEPTED.value,
                    "wa_message_id": wa_message_id,
                    "sent_at": at,
                    "reason": "confirmed by a status webhook",
                }
            },
        )

    def find_send(self, outbound_id: str) -> SendRecord | None:
        document = self.sends.find_one({"_id": outbound_id, "account": self.account})
        if document is None:
            return None
        return SendRecord(
            outbound_id=outbound_id,
            chat_id=str(document.get("chat_id", "")),
            state=SendState(document["state"]),
            wa_message_id=str(document.get("wa_message_id", "")),
            sent_at=_aware(document.get("sent_at")),
            reason=str(document.get("reason", "")),
        )


def _aware(value: Any) -> datetime | None:
    """Datetimes come back naive from a client without `tz_aware`; they are UTC."""
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
