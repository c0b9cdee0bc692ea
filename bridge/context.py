"""Context for a reply, built from the aggregates themselves.

The context projection serves the same port with one read per reply; this one
needs no projector running (tests, a bridge started alone), at the cost of
loading the contact and the persona. History is the thread's own recent turns.
"""

from __future__ import annotations

import re
import time
from datetime import datetime
from zoneinfo import ZoneInfo

from parley.bridge.ports import ConversationTurn, ReplyContext
from parley.domain.application import ParleyApp
from parley.domain.profiles import DEFAULT_PROFILES, PersonaProfile, Relationship
from parley.domain.thread import Thread

URGENT = re.compile(r"\b(urgent|asap|emergency|immediately|right now)\b|!!!", re.IGNORECASE)


def is_urgent(text: str) -> bool:
    return bool(URGENT.search(text[:2_000]))


def history_before(thread: Thread, wa_message_id: str) -> tuple[ConversationTurn, ...]:
    """The thread's turns before the message being answered, oldest first."""
    received_at = thread.inbound[wa_message_id]["received_at"]
    text = thread.inbound[wa_message_id]["text"]
    turns = [
        ConversationTurn(role=turn["role"], text=turn["text"], at=turn["at"])
        for turn in thread.turns
    ]
    # Drop the answered message itself (the newest user turn with its text and time).
    for index in range(len(turns) - 1, -1, -1):
        turn = turns[index]
        if turn.role == "user" and turn.at == received_at and turn.text == text:
            del turns[index]
            break
    return tuple(turn for turn in turns if turn.at <= received_at)


class AggregateContextSource:
    """A `ContextSource` that reads the write side's aggregates."""

    def __init__(
        self,
        app: ParleyApp,
        timezone: str = "UTC",
        max_chars: int = 4_000,
        persona_ttl: float = 2.0,
    ) -> None:
        self.app = app
        self.zone = ZoneInfo(timezone)
        self.max_chars = max_chars
        # The persona changes rarely and every reply needs it: keep it a moment.
        self.persona_ttl = persona_ttl
        self._personas: dict[str, tuple[float, PersonaProfile]] = {}

    def persona(self, account: str) -> PersonaProfile:
        cached = self._personas.get(account)
        if cached is not None and time.monotonic() - cached[0] < self.persona_ttl:
            return cached[1]
        persona = self.app.get_persona(account)
        profile = persona.profile if persona is not None else PersonaProfile()
        self._personas[account] = (time.monotonic(), profile)
        return profile

    def context_for(self, thread: Thread, wa_message_id: str, now: datetime) -> ReplyContext:
        inbound = thread.inbound[wa_message_id]
        contact = self.app.get_contact(thread.contact_id)
        relationship = Relationship(contact.relationship)
        return ReplyContext(
            account=thread.account,
            chat_id=thread.chat_id,
            contact_name=contact.name,
            preferred_name=contact.preferred_name,
            first_contact_at=contact.first_seen_at,
            interaction_count=len(thread.inbound),
            language=contact.language,
            relationship=relationship,
            relationship_profile=DEFAULT_PROFILES[relationship],
            custom=contact.custom_context,
            style=contact.learned_style,
            history=history_before(thread, wa_message_id),
            recent_topics=(),
            sentiment_trend=None,
            local_time=now.astimezone(self.zone),
            urgent=is_urgent(inbound["text"]),
            persona=self.persona(thread.account),
            inbound_text=inbound["text"][: self.max_chars],
            inbound_kind=inbound["kind"],
        )
