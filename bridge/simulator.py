"""The simulator: a person on the dashboard chats as any contact.

The page is served by the API process and the transport runs in the bridge;
they meet in MongoDB. The API inserts what the person typed into
`simulator_inbox`; `SimulatorTransport` follows that collection (a change
stream wakes it, a poll timer catches any wake-up it misses) and hands each
message to the sink; `send_text` writes replies to `simulator_outbox`, keyed by
outbound id, which the API streams back to the page.

Delivery from the inbox is at least once: a message is marked delivered after
the sink took it, so a crash in between hands it over again, and the intake
drops the duplicate by its message id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bson import ObjectId
from parley.bridge.ports import (
    InboundSink,
    LookupResult,
    OutboundMessage,
    SendReceipt,
    SendRejected,
    SentLookup,
    TransportState,
    TransportStatus,
    TransportUnavailable,
)
from parley.domain.messages import InboundMessage, MessageKind
from parley.domain.profiles import Relationship
from pymongo import ASCENDING
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError, PyMongoError

log = logging.getLogger(__name__)

Document = dict[str, Any]
Clock = Callable[[], datetime]

INBOX = "simulator_inbox"
OUTBOX = "simulator_outbox"
MAX_TEXT = 4096
MAX_NAME = 100
_NUMBER_NOISE = re.compile(r"[\s().-]")
_NUMBER = re.compile(r"^\d{5,15}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def utc_now() -> datetime:
    return stored_time(datetime.now(UTC))


def stored_time(at: datetime) -> datetime:
    """`at` as MongoDB keeps it (milliseconds), so what is returned equals what is read back."""
    return at.replace(microsecond=at.microsecond // 1000 * 1000)


class InvalidSimulatedMessage(ValueError):
    """Raised when what the person typed cannot be sent; the message is one line
    naming the field."""


@dataclass(frozen=True)
class SimulatedMessage:
    """What the page sends: who is writing, and what."""

    number: str  # digits only
    name: str
    relationship: str  # a Relationship value, or "" for none chosen
    text: str  # exactly as typed

    @property
    def chat_id(self) -> str:
        return chat_id_for(self.number)


def chat_id_for(number: str) -> str:
    return f"{number}@c.us"


def parse_number(raw: Any) -> str:
    """A phone number as digits; spaces, dashes, brackets and a leading + allowed."""
    if not isinstance(raw, str):
        raise InvalidSimulatedMessage("number must be a string of 5 to 15 digits")
    digits = _NUMBER_NOISE.sub("", raw).removeprefix("+")
    if not _NUMBER.match(digits):
        raise InvalidSimulatedMessage("number must be 5 to 15 digits, like +44 7700 900123")
    return digits


def parse_simulated(document: Any) -> SimulatedMessage:
    """Validates the page's JSON; raises InvalidSimulatedMessage."""
    if not isinstance(document, dict):
        raise InvalidSimulatedMessage("body must be a JSON object")
    unknown = set(document) - {"number", "name", "relationship", "text"}
    if unknown:
        raise InvalidSimulatedMessage(f"unknown fields: {', '.join(sorted(unknown))}")
    number = parse_number(document.get("number"))
    name = document.get("name", "")
    if not isinstance(name, str) or len(name) > MAX_NAME or _CONTROL.search(name):
        raise InvalidSimulatedMessage(f"name must be text of at most {MAX_NAME} characters")
    relationship = document.get("relationship", "")
    if relationship not in ("", *(item.value for item in Relationship)):
        choices = ", ".join(item.value for item in Relationship)
        raise InvalidSimulatedMessage(f"relationship must be one of {choices}")
    text = document.get("text")
    if not isinstance(text, str) or not text.strip():
        raise InvalidSimulatedMessage("text must not be empty")
    if len(text) > MAX_TEXT:
        raise InvalidSimulatedMessage(f"text must be at most {MAX_TEXT} characters")
    return SimulatedMessage(number=number, name=name, relationship=relationship, text=text)


@dataclass(frozen=True)
class ChatLine:
    """One line of a simulated conversation, as the page shows it."""

    id: str
    direction: str  # "in" (the person) or "out" (Parley)
    text: str
    at: datetime
    name: str = ""
    quoted: str = ""

    def as_json(self) -> dict[str, str]:
        return {
            "id": self.id,
            "direction": self.direction,
            "text": self.text,
            "at": self.at.isoformat(),
            "name": self.name,
            "quoted": self.quoted,
        }


class SimulatorMailbox:
    """The two collections, as both processes use them (synchronous pymongo;
    from async code call it through `asyncio.to_thread`)."""

    def __init__(self, db: Database[Document], account: str) -> None:
        self.account = account
        self.inbox: Collection[Document] = db[INBOX]
        self.outbox: Collection[Document] = db[OUTBOX]

    def create_indexes(self) -> None:
        self.inbox.create_index(
            [("account", ASCENDING), ("delivered", ASCENDING), ("_id", ASCENDING)],
            name="pending",
        )
        for collection in (self.inbox, self.outbox):
            collection.create_index(
                [("account", ASCENDING), ("chat_id", ASCENDING), ("at", ASCENDING)],
                name="conversation",
            )

    def post(self, message: SimulatedMessage, at: datetime) -> str:
        """Stores what the person typed; returns its WhatsApp-style message id."""
        object_id = ObjectId()  # increasing within the API process: the inbox's order
        wa_message_id = f"sim-{object_id}"
        self.inbox.insert_one(
            {
                "_id": object_id,
                "wa_message_id": wa_message_id,
                "account": self.account,
                "chat_id": message.chat_id,
                "sender": message.number,
                "name": message.name,
                "relationship": message.relationship,
                "text": message.text,
                "at": at,
                "delivered": False,
            }
        )
        return wa_message_id

    def pending(self, limit: int) -> list[Document]:
        return list(
            self.inbox.find({"account": self.account, "delivered": False})
            .sort("_id", ASCENDING)
            .limit(limit)
        )

    def mark_delivered(self, object_id: ObjectId) -> None:
        self.inbox.update_one({"_id": object_id}, {"$set": {"delivered": True}})

    def record_reply(self, message: OutboundMessage, at: datetime) -> SendReceipt:
        """Writes a reply once per outbound id; a repeat returns the first receipt."""
        wa_message_id = f"sim-out-{ObjectId()}"
        try:
            self.outbox.insert_one(
                {
                    "_id": message.outbound_id,
                    "wa_message_id": wa_message_id,
                    "account": self.account,
                    "chat_id": message.chat_id,
                    "text": message.text,
                    "quoted_message_id": message.quoted_message_id,
                    "at": at,
                }
            )
        except DuplicateKeyError:
            earlier = self.find_reply(message.outbound_id)
            if earlier is None:
                raise
            return earlier
        return SendReceipt(wa_message_id=wa_message_id, sent_at=at)

    def find_reply(self, outbound_id: str) -> SendReceipt | None:
        document = self.outbox.find_one({"_id": outbound_id, "account": self.account})
        if document is None:
            return None
        return SendReceipt(document["wa_message_id"], _aware(document["at"]))

    def conversation(
        self, chat_id: str, since: datetime | None, limit: int = 200
    ) -> list[ChatLine]:
        """The chat's lines at or after `since` (the last `limit` when None), oldest first."""
        query: Document = {"account": self.account, "chat_id": chat_id}
        if since is not None:
            query["at"] = {"$gte": since}
        lines: list[ChatLine] = []
        for document in self.inbox.find(query).sort("at", -1).limit(limit):
            lines.append(
                ChatLine(
                    id=document["wa_message_id"],
                    direction="in",
                    text=document["text"],
                    at=_aware(document["at"]),
                    name=document.get("name", ""),
                )
            )
        for document in self.outbox.find(query).sort("at", -1).limit(limit):
            lines.append(
                ChatLine(
                    id=document["wa_message_id"],
                    direction="out",
                    text=document["text"],
                    at=_aware(document["at"]),
                    quoted=document.get("quoted_message_id", ""),
                )
            )
        lines.sort(key=lambda line: (line.at, line.direction == "out"))
        return lines[-limit:]


class SimulatorTransport:
    """The `Transport` for the simulator page."""

    name = "simulator"

    def __init__(
        self,
        db: Database[Document],
        *,
        account: str,
        poll_interval: float = 1.0,
        use_change_stream: bool = True,
        clock: Clock = utc_now,
        batch_size: int = 100,
        stop_timeout: float = 10.0,
    ) -> None:
        self.account = account
        self.stop_timeout = stop_timeout
        self.mailbox = SimulatorMailbox(db, account)
        self.poll_interval = poll_interval
        self.use_change_stream = use_change_stream
        self.clock = clock
        self.batch_size = batch_size
        self._status = TransportStatus(TransportState.STOPPED)
        self._sink: InboundSink | None = None
        self._wake = asyncio.Event()
        self._stopping = threading.Event()
        self._follower: asyncio.Task[None] | None = None
        self._watcher: threading.Thread | None = None

    @property
    def status(self) -> TransportStatus:
        return self._status

    async def start(self, sink: InboundSink) -> None:
        await asyncio.to_thread(self.mailbox.create_indexes)
        self._sink = sink
        self._stopping.clear()
        if self.use_change_stream:
            self._watcher = threading.Thread(
                target=self._watch,
                args=(asyncio.get_running_loop(),),
                name="simulator-inbox-watch",
                daemon=True,
            )
            self._watcher.start()
        self._follower = asyncio.create_task(self._follow(sink), name="simulator-follow")
        await self._set_status(TransportStatus(TransportState.READY, "simulator page"))

    async def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._follower is not None:
            # Let a message being handed over be marked delivered, so a graceful
            # restart hands nothing over twice; cancel only a follower stuck in its sink.
            try:
                await asyncio.wait_for(asyncio.shield(self._follower), self.stop_timeout)
            except TimeoutError:
                self._follower.cancel()
                await asyncio.gather(self._follower, return_exceptions=True)
            self._follower = None
        if self._watcher is not None:
            await asyncio.to_thread(self._watcher.join, 5)
            self._watcher = None
        await self._set_status(TransportStatus(TransportState.STOPPED))
        self._sink = None

    async def _set_status(self, status: TransportStatus) -> None:
        self._status = status
        if self._sink is not None:
            await self._sink.on_status(status)

    # ------------------------------------------------------------- inbound

    async def _follow(self, sink: InboundSink) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                handed = await self._hand_over_pending(sink)
            except PyMongoError as exc:
                log.warning("simulator inbox unreadable; retrying", extra={"error": str(exc)})
                handed = 0
            if handed == self.batch_size:
                continue  # more may be waiting
            # The timer is the safety net for a wake-up the change stream missed.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_interval)

    async def _hand_over_pending(self, sink: InboundSink) -> int:
        documents = await asyncio.to_thread(self.mailbox.pending, self.batch_size)
        for handed, document in enumerate(documents):
            if self._stopping.is_set():
                return handed
            message = self._inbound(document)
            try:
                await sink.on_message(message)
            except Exception:
                # Stop here so the chat's order holds; the next round retries it.
                log.exception(
                    "sink refused a simulator message",
                    extra={"chat_id": message.chat_id, "wa_message_id": message.wa_message_id},
                )
                return 0
            await asyncio.to_thread(self.mailbox.mark_delivered, document["_id"])
        return len(documents)

    def _inbound(self, document: Document) -> InboundMessage:
        relationship = document.get("relationship", "")
        return InboundMessage(
            account=self.account,
            wa_message_id=document["wa_message_id"],
            chat_id=document["chat_id"],
            sender=document["sender"],
            push_name=document.get("name", ""),
            kind=MessageKind.TEXT,
            text=document["text"],
            sent_at=_aware(document["at"]),
            received_at=self.clock(),
            extra={"relationship": relationship} if relationship else {},
        )

    def _watch(self, loop: asyncio.AbstractEventLoop) -> None:
        """Wakes the follower whenever the inbox gets a message for this account."""
        pipeline = [{"$match": {"operationType": "insert", "fullDocument.account": self.account}}]
        backoff = 0.5
        while not self._stopping.is_set():
            try:
                with self.mailbox.inbox.watch(pipeline, max_await_time_ms=500) as stream:
                    backoff = 0.5
                    # Whatever arrived while no stream was open is picked up now.
                    loop.call_soon_threadsafe(self._wake.set)
                    while not self._stopping.is_set() and stream.alive:
                        if stream.try_next() is not None:
                            loop.call_soon_threadsafe(self._wake.set)
            except PyMongoError as exc:
                log.info("simulator change stream closed; polling", extra={"error": str(exc)})
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, 10.0)
            except RuntimeError:
                return  # the event loop is closed

    # ------------------------------------------------------------- outbound

    async def send_text(self, message: OutboundMessage) -> SendReceipt:
        if self._sink is None:
            raise TransportUnavailable("the simulator transport is not started")
        if not message.text.strip():
            raise SendRejected("an empty message cannot be sent")
        try:
            receipt = await asyncio.to_thread(
                self.mailbox.record_reply, message, stored_time(self.clock())
            )
        except PyMongoError as exc:
            raise TransportUnavailable(f"the simulator outbox is unreachable: {exc}") from exc
        log.info(
            "simulator reply sent",
            extra={"chat_id": message.chat_id, "outbound_id": message.outbound_id},
        )
        return receipt

    async def lookup_sent(self, message: OutboundMessage) -> SentLookup:
        """Exact: a reply is sent exactly when its outbox document exists."""
        receipt = await asyncio.to_thread(self.mailbox.find_reply, message.outbound_id)
        if receipt is None:
            return SentLookup(LookupResult.NOT_SENT)
        return SentLookup(LookupResult.SENT, receipt)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


__all__ = [
    "INBOX",
    "OUTBOX",
    "ChatLine",
    "InvalidSimulatedMessage",
    "SimulatedMessage",
    "SimulatorMailbox",
    "SimulatorTransport",
    "parse_number",
    "parse_simulated",
]
