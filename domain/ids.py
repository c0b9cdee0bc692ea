"""Deterministic aggregate ids: the same chat, number or message always maps to the
same id, so finding an aggregate needs no lookup table and a redelivered message
lands on the same key."""

from __future__ import annotations

from uuid import UUID, uuid5

NAMESPACE = UUID("5b0f9e0e-6a43-5c3e-9d1a-7a7c0b1f7e11")


def conversation_id(account: str, chat_id: str) -> UUID:
    return uuid5(NAMESPACE, f"conversation/{account}/{chat_id}")


def thread_id(conversation: UUID, number: int) -> UUID:
    return uuid5(conversation, f"thread/{number}")


def contact_id(account: str, number: str) -> UUID:
    return uuid5(NAMESPACE, f"contact/{account}/{number}")


def persona_id(account: str) -> UUID:
    return uuid5(NAMESPACE, f"persona/{account}")


def reply_id(thread: UUID, in_reply_to: str) -> str:
    """The outbound id of the reply to one inbound message, chosen before sending."""
    return str(uuid5(thread, f"reply/{in_reply_to}"))


def manual_reply_id(thread: UUID, request_id: str) -> str:
    return str(uuid5(thread, f"manual/{request_id}"))


def intake_key(account: str, wa_message_id: str) -> str:
    """The idempotency key of an inbound message."""
    return f"inbound/{account}/{wa_message_id}"
