"""Webhook bodies shaped as Meta sends them for the WhatsApp Cloud API."""

from __future__ import annotations

from typing import Any

WABA_ID = "102290129340398"
PHONE_NUMBER_ID = "106540352242922"
DISPLAY_NUMBER = "15550783881"


def notification(*changes: dict[str, Any], entries: int = 1) -> dict[str, Any]:
    """`changes` spread over `entries` entries, round robin."""
    buckets: list[list[dict[str, Any]]] = [[] for _ in range(entries)]
    for index, change in enumerate(changes):
        buckets[index % entries].append(change)
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": WABA_ID, "changes": bucket} for bucket in buckets],
    }


def messages_change(
    *messages: dict[str, Any],
    contacts: tuple[tuple[str, str], ...] = (),
    phone_number_id: str = PHONE_NUMBER_ID,
) -> dict[str, Any]:
    return {
        "value": {
            "messaging_product": "whatsapp",
            "metadata": {
                "display_phone_number": DISPLAY_NUMBER,
                "phone_number_id": phone_number_id,
            },
            "contacts": [{"profile": {"name": name}, "wa_id": wa_id} for wa_id, name in contacts],
            "messages": list(messages),
        },
        "field": "messages",
    }


def statuses_change(*statuses: dict[str, Any]) -> dict[str, Any]:
    return {
        "value": {
            "messaging_product": "whatsapp",
            "metadata": {
                "display_phone_number": DISPLAY_NUMBER,
                "phone_number_id": PHONE_NUMBER_ID,
            },
            "statuses": list(statuses),
        },
        "field": "messages",
    }


def text(sender: str, wamid: str, body: str, timestamp: int, **more: Any) -> dict[str, Any]:
    return {
        "from": sender,
        "id": wamid,
        "timestamp": str(timestamp),
        "type": "text",
        "text": {"body": body},
        **more,
    }


def image(sender: str, wamid: str, caption: str, timestamp: int) -> dict[str, Any]:
    return {
        "from": sender,
        "id": wamid,
        "timestamp": str(timestamp),
        "type": "image",
        "image": {
            "caption": caption,
            "mime_type": "image/jpeg",
            "sha256": "HgsyZ6RxKzVNrBfpXwVwqdnOzBGKFN7DwgNMr8d5aP0=",
            "id": "1093219345238839",
        },
    }


def reaction(sender: str, wamid: str, to_wamid: str, emoji: str, timestamp: int) -> dict[str, Any]:
    return {
        "from": sender,
        "id": wamid,
        "timestamp": str(timestamp),
        "type": "reaction",
        "reaction": {"message_id": to_wamid, "emoji": emoji},
    }


def status(
    wamid: str,
    state: str,
    recipient: str,
    timestamp: int,
    *,
    opaque: str = "",
    errors: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    found: dict[str, Any] = {
        "id": wamid,
        "status": state,
        "timestamp": str(timestamp),
        "recipient_id": recipient,
    }
    if state != "failed":
        found["conversation"] = {
            "id": "4d2b7a1e5f3c9b8a",
            "origin": {"type": "service"},
        }
        found["pricing"] = {"billable": True, "pricing_model": "PMP", "category": "service"}
    if opaque:
        found["biz_opaque_callback_data"] = opaque
    if errors:
        found["errors"] = errors
    return found
