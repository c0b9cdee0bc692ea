"""The ports the reply process talks through.

WhatsApp Web, the Cloud API and the simulator stand side by side behind
`Transport`; Gemini and the offline responder behind `ReplyModel`; the context
projection (or, without it, the aggregates) behind `ContextSource`. Every call
that crosses one of these ports has a timeout on the adapter's side.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol

import orjson
from parley.domain.messages import DeliveryUpdate, InboundMessage, MessageKind
from parley.domain.profiles import (
    CustomContext,
    LearnedStyle,
    PersonaProfile,
    Relationship,
    RelationshipProfile,
)
from parley.domain.thread import Thread

# ---------------------------------------------------------------- transports


class TransportState(StrEnum):
    STARTING = "starting"
    WAITING_FOR_QR_SCAN = "waiting_for_qr_scan"
    AUTHENTICATED = "authenticated"
    READY = "ready"
    DISCONNECTED = "disconnected"
    STOPPED = "stopped"


@dataclass(frozen=True)
class TransportStatus:
    state: TransportState
    detail: str = ""
    qr_code: str = ""  # the login QR payload while waiting for a scan


@dataclass(frozen=True)
class OutboundMessage:
    """A reply to send. Parley chooses and records `outbound_id` before sending, so
    after a crash it can ask the transport whether this message already went out."""

    outbound_id: str
    chat_id: str
    text: str
    quoted_message_id: str = ""
    # When Parley recorded it, before the first attempt. A transport that can only
    # find a sent message by looking in the chat (WhatsApp Web) looks from here.
    recorded_at: datetime | None = None


@dataclass(frozen=True)
class SendReceipt:
    wa_message_id: str  # WhatsApp's id of the message as sent
    sent_at: datetime


class LookupResult(StrEnum):
    SENT = "sent"
    NOT_SENT = "not_sent"
    UNKNOWN = "unknown"  # the transport cannot tell; its adapter documents which way to err


@dataclass(frozen=True)
class SentLookup:
    result: LookupResult
    receipt: SendReceipt | None = None


class TransportError(Exception):
    """Raised when a transport cannot do what was asked."""


class TransportUnavailable(TransportError):
    """Raised when the transport is not connected now; the send may be retried."""


class SendRejected(TransportError):
    """Raised when WhatsApp refuses this message for good (bad recipient, outside the
    customer-service window...); retrying will not help."""


class InboundSink(Protocol):
    """Where a transport delivers what arrives."""

    async def on_message(self, message: InboundMessage) -> None: ...

    async def on_delivery(self, update: DeliveryUpdate) -> None: ...

    async def on_status(self, status: TransportStatus) -> None: ...


class Transport(Protocol):
    """One WhatsApp connection for one account."""

    name: str
    account: str

    @property
    def status(self) -> TransportStatus: ...

    async def start(self, sink: InboundSink) -> None:
        """Connects and begins delivering to `sink`; returns once started."""

    async def stop(self) -> None: ...

    async def send_text(self, message: OutboundMessage) -> SendReceipt:
        """Sends a text; raises TransportUnavailable or SendRejected."""

    async def lookup_sent(self, message: OutboundMessage) -> SentLookup:
        """Whether `message` (by its outbound id) already went out."""


# ------------------------------------------------------------- reply model


@dataclass(frozen=True)
class ConversationTurn:
    role: str  # "user" (the contact) or "model" (Parley's replies)
    text: str
    at: datetime


@dataclass(frozen=True)
class ReplyContext:
    """Everything a reply needs, in DESIGN.md's six layers, from one read."""

    account: str
    chat_id: str
    # identity
    contact_name: str
    preferred_name: str
    first_contact_at: datetime | None
    interaction_count: int
    language: str  # BCP 47 tag, "" when unknown
    # relationship
    relationship: Relationship
    relationship_profile: RelationshipProfile
    custom: CustomContext
    # communication style
    style: LearnedStyle
    # history (oldest first, without the message being answered)
    history: tuple[ConversationTurn, ...]
    recent_topics: tuple[str, ...]
    sentiment_trend: float | None  # mean compound sentiment of recent messages
    # situation
    local_time: datetime
    urgent: bool
    # business rules
    persona: PersonaProfile
    # the message being answered, exactly as written
    inbound_text: str
    inbound_kind: MessageKind = MessageKind.TEXT
    extra: dict[str, str] = field(default_factory=dict)

    def digest(self) -> str:
        """A stable fingerprint of this context, recorded with the reply."""
        payload = orjson.dumps(asdict(self), option=orjson.OPT_SORT_KEYS)
        return hashlib.sha256(payload).hexdigest()


@dataclass(frozen=True)
class GeneratedReply:
    text: str
    model: str  # model name and version that produced it, or the fallback's name
    latency_ms: float
    prompt_tokens: int | None = None
    response_tokens: int | None = None
    finish_reason: str = ""
    is_fallback: bool = False
    fallback_reason: str = ""  # why no model answer could be had


class ReplyModel(Protocol):
    """Writes a reply. Never raises for model trouble: it answers with a fallback
    reply marked as such, and says why."""

    name: str

    async def generate(self, context: ReplyContext) -> GeneratedReply: ...


class ContextSource(Protocol):
    """Builds the context for answering one recorded inbound message.

    It gets the thread aggregate the reply process has just loaded: its recent
    turns are exact, where a read model may trail the log by a moment.
    """

    def context_for(self, thread: Thread, wa_message_id: str, now: datetime) -> ReplyContext: ...
