"""The domain event classes the projections dispatch on.

The `@event` decorator creates these classes when each aggregate class is
defined, so type checkers cannot see them as attributes; they are looked up by
topic here, which also fails at import if one is renamed.
"""

from __future__ import annotations

from typing import Any

from eventsourcing.utils import resolve_topic


def _event_class(topic: str) -> type[Any]:
    found = resolve_topic(topic)
    if not isinstance(found, type):
        msg = f"{topic} is not an event class"
        raise TypeError(msg)
    return found


_THREAD = "parley.domain.thread:Thread"
_CONTACT = "parley.domain.contact:Contact"
_CONVERSATION = "parley.domain.conversation:Conversation"
_PERSONA = "parley.domain.persona:Persona"

ThreadOpened = _event_class(f"{_THREAD}.Opened")
MessageReceived = _event_class(f"{_THREAD}.MessageReceived")
TextCapped = _event_class(f"{_THREAD}.TextCapped")
SentimentAssessed = _event_class(f"{_THREAD}.SentimentAssessed")
TopicsDetected = _event_class(f"{_THREAD}.TopicsDetected")
ReplyWithheld = _event_class(f"{_THREAD}.ReplyWithheld")
ReplyGenerated = _event_class(f"{_THREAD}.ReplyGenerated")
ReplySent = _event_class(f"{_THREAD}.ReplySent")
ReplyFailed = _event_class(f"{_THREAD}.ReplyFailed")
DeliveryUpdated = _event_class(f"{_THREAD}.DeliveryUpdated")
BotPaused = _event_class(f"{_THREAD}.BotPaused")
BotResumed = _event_class(f"{_THREAD}.BotResumed")
ThreadIdled = _event_class(f"{_THREAD}.Idled")
ThreadResumed = _event_class(f"{_THREAD}.Resumed")
ThreadArchived = _event_class(f"{_THREAD}.Archived")

ContactRegistered = _event_class(f"{_CONTACT}.Registered")
PushNameChanged = _event_class(f"{_CONTACT}.PushNameChanged")
ProfileEdited = _event_class(f"{_CONTACT}.ProfileEdited")
StyleLearned = _event_class(f"{_CONTACT}.StyleLearned")

ConversationStarted = _event_class(f"{_CONVERSATION}.Started")
ConversationThreadOpened = _event_class(f"{_CONVERSATION}.ThreadOpened")
GroupRepliesSet = _event_class(f"{_CONVERSATION}.GroupRepliesSet")

PersonaDefined = _event_class(f"{_PERSONA}.Defined")
PersonaEdited = _event_class(f"{_PERSONA}.Edited")
