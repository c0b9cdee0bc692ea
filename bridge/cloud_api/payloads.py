"""Meta's webhook JSON, read into the values every transport produces.

Pure functions: no network, no clock (the receive time is an argument). One
POST may carry several entries, each with several changes, each with several
messages and statuses. A malformed item is reported as a problem and the rest
is still read, so one bad item never loses its neighbours.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from parley.domain.messages import (
    DeliveryStatus,
    DeliveryUpdate,
    InboundMessage,
    MediaInfo,
    MessageKind,
)

MEDIA_KINDS = {
    "image": MessageKind.IMAGE,
    "video": MessageKind.VIDEO,
    "audio": MessageKind.AUDIO,
    "document": MessageKind.DOCUMENT,
    "sticker": MessageKind.STICKER,
}
_PHONE = re.compile(r"^\d{5,20}$")
_MAX_ID = 512


class PayloadError(Exception):
    """Raised when a webhook body is not a WhatsApp Business Account notification at
    all; its message is one line for the sender."""


class ItemProblem(Exception):
    """Raised when one message or status in a notification cannot be read."""


@dataclass(frozen=True)
class StatusNotice:
    update: DeliveryUpdate
    outbound_id: str  # Parley's id, echoed from `biz_opaque_callback_data`; "" if absent


@dataclass
class WebhookBatch:
    messages: list[InboundMessage] = field(default_factory=list)
    statuses: list[StatusNotice] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # one line per unreadable item
    skipped: list[str] = field(default_factory=list)  # readable but not ours to handle


def chat_id_for(wa_id: str) -> str:
    """The chat id WhatsApp Web uses for a one-to-one chat, so both transports
    name a conversation the same way."""
    return f"{wa_id}@c.us"


def parse_notification(
    document: Any, *, account: str, phone_number_id: str, received_at: datetime
) -> WebhookBatch:
    """Reads one webhook body; raises PayloadError if it is not one at all."""
    if not isinstance(document, dict):
        raise PayloadError("body must be a JSON object")
    if document.get("object") != "whatsapp_business_account":
        raise PayloadError("'object' must be 'whatsapp_business_account'")
    entries = document.get("entry")
    if not isinstance(entries, list):
        raise PayloadError("'entry' must be a list")
    batch = WebhookBatch()
    for entry_index, entry in enumerate(entries):
        where = f"entry[{entry_index}]"
        changes = entry.get("changes") if isinstance(entry, dict) else None
        if not isinstance(changes, list):
            batch.problems.append(f"{where}: 'changes' must be a list")
            continue
        for change_index, change in enumerate(changes):
            _read_change(
                change,
                f"{where}.changes[{change_index}]",
                batch,
                account=account,
                phone_number_id=phone_number_id,
                received_at=received_at,
            )
    return batch


def _read_change(
    change: Any,
    where: str,
    batch: WebhookBatch,
    *,
    account: str,
    phone_number_id: str,
    received_at: datetime,
) -> None:
    if not isinstance(change, dict) or not isinstance(change.get("value"), dict):
        batch.problems.append(f"{where}: 'value' must be an object")
        return
    if change.get("field") != "messages":
        # Template reviews, quality ratings, account updates: not conversation.
        batch.skipped.append(f"{where}: field {str(change.get('field'))[:40]!r}")
        return
    value: dict[str, Any] = change["value"]
    metadata = value.get("metadata")
    if not isinstance(metadata, dict) or not isinstance(metadata.get("phone_number_id"), str):
        batch.problems.append(f"{where}: 'value.metadata.phone_number_id' is missing")
        return
    if metadata["phone_number_id"] != phone_number_id:
        batch.skipped.append(f"{where}: for another phone number id")
        return
    names = _profile_names(value.get("contacts"))
    _read_items(
        value.get("messages"),
        f"{where}.value.messages",
        batch,
        names,
        account=account,
        received_at=received_at,
    )
    _read_items(
        value.get("statuses"),
        f"{where}.value.statuses",
        batch,
        names,
        account=account,
        received_at=received_at,
    )


def _read_items(
    items: Any,
    where: str,
    batch: WebhookBatch,
    names: dict[str, str],
    *,
    account: str,
    received_at: datetime,
) -> None:
    if items is None:
        return
    if not isinstance(items, list):
        batch.problems.append(f"{where}: must be a list")
        return
    statuses = where.endswith("statuses")
    for index, item in enumerate(items):
        try:
            if not statuses:
                batch.messages.append(_message(item, names, account, received_at))
            elif (notice := _status(item, account)) is not None:
                batch.statuses.append(notice)
            else:
                batch.skipped.append(f"{where}[{index}]: status {str(item.get('status'))[:40]!r}")
        except ItemProblem as exc:
            batch.problems.append(f"{where}[{index}]: {exc}")


def _profile_names(contacts: Any) -> dict[str, str]:
    names: dict[str, str] = {}
    if isinstance(contacts, list):
        for contact in contacts:
            if not isinstance(contact, dict):
                continue
            profile = contact.get("profile")
            name = profile.get("name") if isinstance(profile, dict) else None
            if isinstance(contact.get("wa_id"), str) and isinstance(name, str):
                names[contact["wa_id"]] = name
    return names


# ------------------------------------------------------------------ messages


def _message(
    raw: Any, names: dict[str, str], account: str, received_at: datetime
) -> InboundMessage:
    if not isinstance(raw, dict):
        raise ItemProblem("must be an object")
    message_id = _identifier(raw, "id")
    sender = _string(raw, "from")
    if not _PHONE.match(sender):
        raise ItemProblem("'from' must be the sender's number, digits only")
    sent_at = _timestamp(raw)
    message_type = _string(raw, "type")
    extra: dict[str, str] = {}
    quoted = ""
    context = raw.get("context")
    if isinstance(context, dict):
        quoted = context["id"] if isinstance(context.get("id"), str) else ""
        if context.get("forwarded") or context.get("frequently_forwarded"):
            extra["forwarded"] = "true"
    content = _CONTENT.get(message_type, _other)(raw, message_type)
    extra.update(content.extra)
    return InboundMessage(
        account=account,
        wa_message_id=message_id,
        chat_id=chat_id_for(sender),
        sender=sender,
        push_name=names.get(sender, ""),
        kind=content.kind,
        text=content.text,
        sent_at=sent_at,
        received_at=received_at,
        quoted_message_id=content.quoted or quoted,
        media=content.media,
        extra=extra,
    )


@dataclass
class _Content:
    kind: MessageKind
    text: str = ""
    media: MediaInfo | None = None
    quoted: str = ""  # a reaction names the message it reacts to
    extra: dict[str, str] = field(default_factory=dict)


def _text(raw: dict[str, Any], _: str) -> _Content:
    return _Content(MessageKind.TEXT, _string(_object(raw, "text"), "body", allow_empty=True))


def _media(raw: dict[str, Any], message_type: str) -> _Content:
    body = _object(raw, message_type)
    content = _Content(
        MEDIA_KINDS[message_type],
        text=_optional(body, "caption"),
        media=MediaInfo(
            mime_type=_optional(body, "mime_type"),
            sha256=_optional(body, "sha256"),
            file_name=_optional(body, "filename"),
        ),
        extra={"media_id": _identifier(body, "id")},
    )
    for flag in ("voice", "animated"):
        if body.get(flag) is True:
            content.extra[flag] = "true"
    return content


def _location(raw: dict[str, Any], _: str) -> _Content:
    body = _object(raw, "location")
    content = _Content(MessageKind.LOCATION)
    content.extra["latitude"] = _coordinate(body, "latitude", 90)
    content.extra["longitude"] = _coordinate(body, "longitude", 180)
    for key, target in (("name", "location_name"), ("address", "address"), ("url", "url")):
        if found := _optional(body, key):
            content.extra[target] = found
    return content


def _contacts(raw: dict[str, Any], _: str) -> _Content:
    return _Content(MessageKind.CONTACT_CARD, extra=_contact_cards(raw.get("contacts")))


def _reaction(raw: dict[str, Any], _: str) -> _Content:
    body = _object(raw, "reaction")
    # No emoji means the person took their reaction back.
    return _Content(
        MessageKind.REACTION,
        quoted=_identifier(body, "message_id"),
        extra={"emoji": _optional(body, "emoji")},
    )


def _button(raw: dict[str, Any], _: str) -> _Content:
    body = _object(raw, "button")
    return _Content(
        MessageKind.TEXT,
        text=_string(body, "text", allow_empty=True),
        extra={"button_payload": _optional(body, "payload")},
    )


def _interactive_content(raw: dict[str, Any], _: str) -> _Content:
    extra: dict[str, str] = {}
    text = _interactive(_object(raw, "interactive"), extra)
    chosen = extra.get("interactive_type") in ("button_reply", "list_reply")
    return _Content(MessageKind.TEXT if chosen else MessageKind.OTHER, text=text, extra=extra)


def _other(raw: dict[str, Any], message_type: str) -> _Content:
    # "unsupported", "unknown", "system", "order", and types newer than this code.
    content = _Content(MessageKind.OTHER, extra={"type": message_type[:40]})
    errors = raw.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        content.extra["error"] = _error_line(errors[0])
    return content


_CONTENT: dict[str, Callable[[dict[str, Any], str], _Content]] = {
    "text": _text,
    **dict.fromkeys(MEDIA_KINDS, _media),
    "location": _location,
    "contacts": _contacts,
    "reaction": _reaction,
    "interactive": _interactive_content,
    "button": _button,
}


def _interactive(body: dict[str, Any], extra: dict[str, str]) -> str:
    interactive_type = _string(body, "type")
    extra["interactive_type"] = interactive_type[:40]
    if interactive_type in ("button_reply", "list_reply"):
        reply = _object(body, interactive_type)
        extra["reply_id"] = _optional(reply, "id")
        if description := _optional(reply, "description"):
            extra["reply_description"] = description
        return _string(reply, "title", allow_empty=True)
    if interactive_type == "nfm_reply":
        reply = _object(body, "nfm_reply")
        extra["flow_response"] = _optional(reply, "response_json")
        return _optional(reply, "body")
    return ""


def _contact_cards(cards: Any) -> dict[str, str]:
    if not isinstance(cards, list) or not cards or not isinstance(cards[0], dict):
        raise ItemProblem("'contacts' must be a non-empty list of cards")
    first = cards[0]
    name = first.get("name")
    found: dict[str, str] = {"vcard_count": str(len(cards))}
    if isinstance(name, dict) and isinstance(name.get("formatted_name"), str):
        found["vcard_name"] = name["formatted_name"]
    phones = first.get("phones")
    if isinstance(phones, list) and phones and isinstance(phones[0], dict):
        phone = phones[0].get("phone") or phones[0].get("wa_id")
        if isinstance(phone, str):
            found["vcard_phone"] = phone
    return found


# ------------------------------------------------------------------ statuses

_STATUSES = {status.value: status for status in DeliveryStatus}


def _status(raw: Any, account: str) -> StatusNotice | None:
    if not isinstance(raw, dict):
        raise ItemProblem("must be an object")
    status = _string(raw, "status")
    if status not in _STATUSES:
        return None  # "deleted", "warning", ...: nothing Parley records
    recipient = _string(raw, "recipient_id")
    errors = raw.get("errors")
    error = ""
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        error = _error_line(errors[0])
    opaque = raw.get("biz_opaque_callback_data")
    return StatusNotice(
        update=DeliveryUpdate(
            account=account,
            chat_id=chat_id_for(recipient),
            wa_message_id=_identifier(raw, "id"),
            status=_STATUSES[status],
            at=_timestamp(raw),
            error=error,
        ),
        outbound_id=opaque if isinstance(opaque, str) else "",
    )


def _error_line(error: dict[str, Any]) -> str:
    parts = [str(error.get("code", "")), str(error.get("title") or error.get("message") or "")]
    data = error.get("error_data")
    if isinstance(data, dict) and isinstance(data.get("details"), str):
        parts.append(data["details"])
    return " ".join(part for part in parts if part)[:500]


# ------------------------------------------------------------------ fields


def _object(raw: dict[str, Any], key: str) -> dict[str, Any]:
    value = raw.get(key)
    if not isinstance(value, dict):
        raise ItemProblem(f"{key!r} must be an object")
    return value


def _string(raw: dict[str, Any], key: str, *, allow_empty: bool = False) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or (not value and not allow_empty):
        raise ItemProblem(f"{key!r} must be a non-empty string")
    return value


def _identifier(raw: dict[str, Any], key: str) -> str:
    value = _string(raw, key)
    if len(value) > _MAX_ID:
        raise ItemProblem(f"{key!r} is too long")
    return value


def _optional(raw: dict[str, Any], key: str) -> str:
    value = raw.get(key)
    return value if isinstance(value, str) else ""


def _timestamp(raw: dict[str, Any]) -> datetime:
    value = raw.get("timestamp")
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value < 2**34:
        raise ItemProblem("'timestamp' must be Unix seconds")
    return datetime.fromtimestamp(value, UTC)


def _coordinate(raw: dict[str, Any], key: str, limit: int) -> str:
    value = raw.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or abs(value) > limit:
        raise ItemProblem(f"{key!r} must be a number within ±{limit}")
    return repr(float(value))
