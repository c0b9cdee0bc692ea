"""Who Parley is talking to and who it is: relationships, learned style, persona.

Plain values shared by the aggregates, the context projection and the prompt.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Relationship(StrEnum):
    FAMILY = "family"
    FRIEND = "friend"
    CLIENT = "client"
    COLLEAGUE = "colleague"
    UNKNOWN = "unknown"  # until someone says otherwise: polite and neutral


@dataclass(frozen=True)
class RelationshipProfile:
    """How to speak to one kind of relationship."""

    tone: str
    formality: str  # "casual", "neutral" or "formal"
    keep_topics: tuple[str, ...] = ()
    avoid_topics: tuple[str, ...] = ()


DEFAULT_PROFILES: dict[Relationship, RelationshipProfile] = {
    Relationship.FAMILY: RelationshipProfile(
        tone="warm, affectionate and relaxed",
        formality="casual",
        keep_topics=("family news", "plans together", "health and wellbeing"),
        avoid_topics=("work details", "money"),
    ),
    Relationship.FRIEND: RelationshipProfile(
        tone="friendly, upbeat and easy-going",
        formality="casual",
        keep_topics=("shared plans", "hobbies", "catching up"),
        avoid_topics=("confidential work matters",),
    ),
    Relationship.CLIENT: RelationshipProfile(
        tone="courteous, clear and helpful",
        formality="formal",
        keep_topics=("their request", "services offered", "next steps"),
        avoid_topics=("personal life", "politics", "other clients", "prices not confirmed"),
    ),
    Relationship.COLLEAGUE: RelationshipProfile(
        tone="professional, direct and collegial",
        formality="neutral",
        keep_topics=("work tasks", "schedules", "project status"),
        avoid_topics=("gossip", "personal finances"),
    ),
    Relationship.UNKNOWN: RelationshipProfile(
        tone="polite and neutral",
        formality="neutral",
        keep_topics=("what they need",),
        avoid_topics=("personal details", "commitments on the owner's behalf"),
    ),
}


@dataclass(frozen=True)
class LearnedStyle:
    """A contact's writing style, learned from their own messages."""

    emoji_rate: float = 0.0  # emoji per message
    typical_length: int = 0  # median characters per message
    formality: float = 0.5  # 0 casual .. 1 formal
    samples: int = 0  # messages the figures were read from, up to a window


@dataclass(frozen=True)
class CustomContext:
    """What an operator told Parley about a contact; overrides what it learned."""

    personality: str = ""
    communication_style: str = ""
    topics: tuple[str, ...] = ()
    emoji_preference: str = ""  # "", "none", "some" or "lots"


@dataclass(frozen=True)
class PersonaProfile:
    """The assistant's identity and the business it speaks for."""

    name: str = "Parley"
    owner_name: str = ""
    organisation: str = ""
    services: tuple[str, ...] = ()
    instructions: str = ""
    tone: str = "helpful and concise"
