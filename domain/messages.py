"""What a WhatsApp message is to Parley, whichever transport brought it.

These are plain values: transports build them, the intake records them as
events, and nothing here touches the network or the clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class MessageKind(StrEnum):
    TEXT = "text"
    IMAGE = "image"
    AUDIO = "audio"
    VIDEO = "video"
    DOCUMENT = "document"
    STICKER = "sticker"
    LOCATION = "location"
    CONTACT_CARD = "contact_card"
    REACTION = "reaction"
    OTHER = "other"


@dataclass(frozen=True)
class MediaInfo:
    """Media metadata; Parley records no media bytes in events."""

    mime_type: str = ""
    size_bytes: int | None = None
    file_name: str = ""
    sha256: str = ""
    duration_seconds: float | None = None
    width: int | None = None
    height: int | None = None


@dataclass(frozen=True)
class InboundMessage:
    """One message as a transport received it. Text is kept exactly as written."""

    account: str  # the WhatsApp account (our own number) it arrived on
    wa_message_id: str  # WhatsApp's id: the idempotency key of the intake
    chat_id: str  # e.g. "15551234567@c.us", or "...@g.us" for a group
    sender: str  # the sender's number, digits only
    push_name: str  # the sender's display name, "" if unknown
    kind: MessageKind
    text: str  # text, or the media caption; "" when there is none
    sent_at: datetime  # zone-aware, as WhatsApp stamped it
    received_at: datetime  # zone-aware, when the transport got it
    is_group: bool = False
    from_me: bool = False  # sent by the account itself (from a phone, say)
    mentions_me: bool = False  # the account is @-mentioned (groups)
    is_status_broadcast: bool = False
    quoted_message_id: str = ""  # the message this one quotes or reacts to
    media: MediaInfo | None = None
    extra: dict[str, str] = field(default_factory=dict)  # location, vCard name, emoji...


class DeliveryStatus(StrEnum):
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"


@dataclass(frozen=True)
class DeliveryUpdate:
    """WhatsApp's acknowledgement of a message Parley sent."""

    account: str
    chat_id: str
    wa_message_id: str
    status: DeliveryStatus
    at: datetime
    error: str = ""
