"""What the hook hands over, turned into Parley's values.

The page is not trusted to be well formed (WhatsApp Web changes; the hook may
meet a shape it did not expect), so every field is checked and a payload that
does not fit raises `BadPayload` naming the field, instead of recording junk.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from parley.bridge.whatsapp_web.contract import ACKS, GROUP_SUFFIX, KINDS, STATUS_CHAT
from parley.domain.messages import (
    DeliveryStatus,
    DeliveryUpdate,
    InboundMessage,
    MediaInfo,
    MessageKind,
)

_MEDIA = frozenset(
    {
        MessageKind.IMAGE,
        MessageKind.AUDIO,
        MessageKind.VIDEO,
        MessageKind.DOCUMENT,
        MessageKind.STICKER,
    }
)
_MAX_TEXT = 65_536  # WhatsApp's own limit is lower; anything longer is not a message


class BadPayload(ValueError):
    """Raised when the page hands over something that is not the expected shape."""


def inbound_message(
    payload: Mapping[str, Any], *, account: str, received_at: datetime
) -> InboundMessage:
    """An `InboundMessage` from the hook's flat message."""
    wa_id = _text(payload, "id", required=True)
    chat = _text(payload, "chat", required=True)
    wa_type = _text(payload, "type", required=True)
    kind = KINDS.get(wa_type, MessageKind.OTHER)
    text = _text(payload, "body") if kind is MessageKind.TEXT else _text(payload, "caption")
    if len(text) > _MAX_TEXT:
        raise BadPayload(f"text of {wa_id} is {len(text)} characters long")
    extra = {"wa_type": wa_type}
    sender_jid = _text(payload, "sender")
    if sender_jid:
        extra["sender_jid"] = sender_jid
    if kind is MessageKind.LOCATION:
        for key in ("lat", "lng"):
            value = _number(payload, key)
            if value is not None:
                extra[key] = repr(value)
        if place := _text(payload, "place"):
            extra["place"] = place
    if kind is MessageKind.CONTACT_CARD and (name := _text(payload, "vcardName")):
        extra["vcard_name"] = name
    if kind is MessageKind.REACTION:
        extra["emoji"] = _text(payload, "reaction")
    return InboundMessage(
        account=account,
        wa_message_id=wa_id,
        chat_id=chat,
        sender=digits_of(sender_jid),
        push_name=_text(payload, "pushName"),
        kind=kind,
        text=text,
        sent_at=_timestamp(payload, "t"),
        received_at=received_at,
        is_group=chat.endswith(GROUP_SUFFIX),
        from_me=_flag(payload, "fromMe"),
        mentions_me=_flag(payload, "mentionsMe"),
        is_status_broadcast=chat == STATUS_CHAT,
        quoted_message_id=_text(payload, "quotedId"),
        media=_media(payload) if kind in _MEDIA else None,
        extra=extra,
    )


def delivery_update(
    payload: Mapping[str, Any], *, account: str, at: datetime
) -> DeliveryUpdate | None:
    """A `DeliveryUpdate` from the hook's ack event; None for acks Parley does not
    report (0, pending: the message has not reached the server yet)."""
    ack = payload.get("ack")
    if not isinstance(ack, int | float) or isinstance(ack, bool) or not math.isfinite(ack):
        raise BadPayload(f"ack must be a number, not {ack!r}")
    status = ACKS.get(int(ack))
    if status is None:
        return None
    return DeliveryUpdate(
        account=account,
        chat_id=_text(payload, "chat", required=True),
        wa_message_id=_text(payload, "id", required=True),
        status=status,
        at=at,
        error="WhatsApp reported the message failed" if status is DeliveryStatus.FAILED else "",
    )


def digits_of(jid: str) -> str:
    """ "15551234567:3@c.us" -> "15551234567"."""
    user = jid.partition("@")[0].partition(":")[0]
    return "".join(ch for ch in user if ch.isdigit())


def _media(payload: Mapping[str, Any]) -> MediaInfo:
    size = _number(payload, "size")
    width = _number(payload, "width")
    height = _number(payload, "height")
    return MediaInfo(
        mime_type=_text(payload, "mime"),
        size_bytes=int(size) if size is not None and size >= 0 else None,
        file_name=_text(payload, "fileName"),
        sha256=_sha256_hex(_text(payload, "fileHash")),
        duration_seconds=_number(payload, "duration"),
        width=int(width) if width is not None else None,
        height=int(height) if height is not None else None,
    )


def _sha256_hex(file_hash: str) -> str:
    """WhatsApp's base64 file hash as hex; "" when it is not a SHA-256."""
    try:
        raw = base64.b64decode(file_hash, validate=True)
    except (binascii.Error, ValueError):
        return ""
    return raw.hex() if len(raw) == 32 else ""


def _text(payload: Mapping[str, Any], key: str, *, required: bool = False) -> str:
    value = payload.get(key, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise BadPayload(f"{key} must be text, not {type(value).__name__}")
    if required and not value:
        raise BadPayload(f"{key} is missing")
    return value


def _number(payload: Mapping[str, Any], key: str) -> float | None:
    value = payload.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise BadPayload(f"{key} must be a number, not {value!r}")
    return float(value)


def _flag(payload: Mapping[str, Any], key: str) -> bool:
    value = payload.get(key, False)
    if not isinstance(value, bool):
        raise BadPayload(f"{key} must be true or false, not {value!r}")
    return value


def _timestamp(payload: Mapping[str, Any], key: str) -> datetime:
    seconds = _number(payload, key)
    if seconds is None or seconds <= 0:
        raise BadPayload(f"{key} must be a positive timestamp")
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError) as error:
        raise BadPayload(f"{key} {seconds!r} is not a time") from error
