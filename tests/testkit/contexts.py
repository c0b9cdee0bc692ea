"""ReplyContexts for tests: a plausible one, with any field overridden."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from parley.bridge.ports import ConversationTurn, ReplyContext
from parley.domain.profiles import (
    DEFAULT_PROFILES,
    CustomContext,
    LearnedStyle,
    PersonaProfile,
    Relationship,
)

NOON = datetime(2025, 3, 4, 12, 30, tzinfo=UTC)


def turn(role: str, text: str, minute: int = 0) -> ConversationTurn:
    return ConversationTurn(role=role, text=text, at=NOON.replace(minute=minute))


def make_context(**overrides: Any) -> ReplyContext:
    """A context for a known friend; `relationship=` also picks its default profile."""
    relationship = overrides.get("relationship", Relationship.FRIEND)
    fields: dict[str, Any] = {
        "account": "default",
        "chat_id": "15551234567@c.us",
        "contact_name": "Ana Souza",
        "preferred_name": "Ana",
        "first_contact_at": datetime(2024, 1, 2, tzinfo=UTC),
        "interaction_count": 42,
        "language": "en",
        "relationship": relationship,
        "relationship_profile": DEFAULT_PROFILES[relationship],
        "custom": CustomContext(),
        "style": LearnedStyle(),
        "history": (),
        "recent_topics": (),
        "sentiment_trend": None,
        "local_time": NOON,
        "urgent": False,
        "persona": PersonaProfile(name="Parley", owner_name="Sam", organisation="Sam's Studio"),
        "inbound_text": "Are we still on for Friday?",
    }
    fields.update(overrides)
    return ReplyContext(**fields)
