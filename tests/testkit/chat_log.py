"""A tiny event-sourced application on the MongoDB event store, to fill a log
with events of several aggregates (conversations) for followers to read."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from parley.eventstore.factory import factory_settings
from parley.eventstore.recorders import MongoApplicationRecorder


class Chat(Aggregate):
    @event("Started")
    def __init__(self, name: str) -> None:
        self.name = name
        self.lines: list[str] = []

    @event("Said")
    def say(self, text: str, at: datetime) -> None:
        self.lines.append(text)


class Chats(Application):  # type: ignore[type-arg]
    """Events land in `chats_events`, log `main`."""

    def start(self, name: str) -> UUID:
        chat = Chat(name)
        self.save(chat)
        return cast(UUID, chat.id)

    def say(self, chat_id: UUID, text: str, at: datetime) -> None:
        chat = cast(Chat, self.repository.get(chat_id))
        chat.say(text, at)
        self.save(chat)

    @property
    def mongo_recorder(self) -> MongoApplicationRecorder:
        return cast(MongoApplicationRecorder, self.recorder)


def open_chats(uri: str, database: str, **extra: Any) -> Chats:
    return Chats(env=factory_settings(uri, database, MONGODB_POLL_INTERVAL=0.2, **extra))
