"""The reply process's `ContextSource`, over the context read model.

One read of `rm_context` gives who the contact is, the relationship, what the
operator said of them, their learned style, the persona and the recent turns of
all their threads. The thread the reply process has just loaded is exact where
the read model may trail the log by a moment, so this thread's own turns come
from the aggregate, and the read model adds only what came before them.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from parley.bridge.ports import ContextSource, ConversationTurn, ReplyContext
from parley.domain.application import ParleyApp
from parley.domain.errors import UnknownMessage
from parley.domain.messages import MessageKind
from parley.domain.profiles import (
    DEFAULT_PROFILES,
    CustomContext,
    LearnedStyle,
    PersonaProfile,
    Relationship,
)
from parley.domain.thread import Thread, Turn
from parley.eventstore.datastore import Document
from parley.projections.context import CONTEXT
from parley.projections.values import utc_ms
from pymongo.database import Database

log = logging.getLogger(__name__)

HISTORY_TURNS = 30
_URGENT = re.compile(
    r"\b(urgent|urgently|asap|emergency|immediately|right now|dringend|urgente|urgência)\b|!!!",
    re.IGNORECASE,
)


def looks_urgent(text: str) -> bool:
    return bool(_URGENT.search(text))


class ReadModelContextSource:
    """`ContextSource` reading `rm_context`.

    `persona_fallback` is used while no persona was ever defined for the
    account. With `app`, a contact the read model has not caught up with yet is
    read from its aggregate instead (the first message of a new contact).
    """

    def __init__(
        self,
        database: Database[Document],
        persona_fallback: PersonaProfile,
        *,
        timezone: str = "UTC",
        app: ParleyApp | None = None,
        history_turns: int = HISTORY_TURNS,
        max_chars: int = 4_000,
    ) -> None:
        self.contexts = database[CONTEXT]
        self.persona_fallback = persona_fallback
        self.zone = ZoneInfo(timezone)
        self.app = app
        self.history_turns = history_turns
        self.max_chars = max_chars  # of the message answered, as the intake analyses it

    def context_for(self, thread: Thread, wa_message_id: str, now: datetime) -> ReplyContext:
        inbound = thread.inbound.get(wa_message_id)
        if inbound is None:
            raise UnknownMessage(wa_message_id)
        document = self.contexts.find_one({"_id": str(thread.contact_id)})
        if document is None:
            document = self._from_aggregates(thread)
        own = _turns_before(thread.turns, inbound["text"], inbound["received_at"])
        # The read model keeps milliseconds: compare at that precision, so the
        # thread's own first turn is not taken twice.
        cut = utc_ms(own[0]["at"] if own else inbound["received_at"])
        earlier = [turn for turn in document.get("recent", []) if turn["at"] < cut]
        history = [*earlier, *own][-self.history_turns :]
        relationship = _relationship(document.get("relationship", ""))
        persona = document.get("persona")
        return ReplyContext(
            account=thread.account,
            chat_id=thread.chat_id,
            contact_name=document.get("name", ""),
            preferred_name=document.get("preferred_name", ""),
            first_contact_at=document.get("first_seen_at"),
            interaction_count=int(document.get("interaction_count", 0)),
            language=document.get("language", ""),
            relationship=relationship,
            relationship_profile=DEFAULT_PROFILES[relationship],
            custom=_custom(document.get("custom")),
            style=_style(document.get("style")),
            history=tuple(
                ConversationTurn(role=turn["role"], text=turn["text"], at=turn["at"])
                for turn in history
            ),
            recent_topics=tuple(document.get("recent_topics", ())),
            sentiment_trend=document.get("sentiment_trend"),
            local_time=now.astimezone(self.zone),
            urgent=looks_urgent(inbound["text"]),
            persona=_persona(persona) if persona else self.persona_fallback,
            inbound_text=inbound["text"][: self.max_chars],
            inbound_kind=MessageKind(inbound["kind"]),
        )

    def _from_aggregates(self, thread: Thread) -> Document:
        """What the read model would say, from the aggregates (or very little
        without an app): used only while the read model has not caught up."""
        if self.app is None:
            return {}
        log.info(
            "context read model trails; reading aggregates", extra={"thread_id": str(thread.id)}
        )
        contact = self.app.get_contact(thread.contact_id)
        persona = self.app.get_persona(thread.account)
        return {
            "name": contact.name,
            "preferred_name": contact.preferred_name,
            "first_seen_at": contact.first_seen_at,
            "interaction_count": sum(1 for turn in thread.turns if turn["role"] == "user"),
            "language": contact.language,
            "relationship": str(contact.relationship),
            "custom": contact.custom,
            "style": contact.style,
            "persona": persona.values if persona else None,
        }


def _turns_before(turns: list[Turn], text: str, received_at: datetime) -> list[Turn]:
    """The thread's turns before the message being answered."""
    for index in range(len(turns) - 1, -1, -1):
        turn = turns[index]
        if turn["role"] == "user" and turn["at"] == received_at and turn["text"] == text:
            return turns[:index]
    return [turn for turn in turns if turn["at"] < received_at]


def _relationship(value: str) -> Relationship:
    try:
        return Relationship(value)
    except ValueError:
        return Relationship.UNKNOWN


def _custom(values: dict[str, Any] | None) -> CustomContext:
    if not values:
        return CustomContext()
    known = {key: values[key] for key in CustomContext.__dataclass_fields__ if key in values}
    known["topics"] = tuple(known.get("topics", ()))
    return CustomContext(**known)


def _style(values: dict[str, Any] | None) -> LearnedStyle:
    if not values:
        return LearnedStyle()
    return LearnedStyle(
        **{key: values[key] for key in LearnedStyle.__dataclass_fields__ if key in values}
    )


def _persona(values: dict[str, Any]) -> PersonaProfile:
    known = {key: values[key] for key in PersonaProfile.__dataclass_fields__ if key in values}
    known["services"] = tuple(known.get("services", ()))
    return PersonaProfile(**known)


if TYPE_CHECKING:  # the type checker confirms the class fits the port

    def _fits_the_port(source: ReadModelContextSource) -> ContextSource:
        return source
