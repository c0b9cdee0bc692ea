"""A conversation: one chat of one account, and which thread is its current one."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event
from parley.domain import ids


class Conversation(Aggregate):
    """Points at a chat's current thread; a chat's threads follow one another."""

    @staticmethod
    def create_id(account: str, chat_id: str, **_: Any) -> UUID:
        return ids.conversation_id(account, chat_id)

    @event("Started")
    def __init__(
        self, *, account: str, chat_id: str, is_group: bool, contact_id: UUID, at: datetime
    ) -> None:
        self.account = account
        self.chat_id = chat_id
        self.is_group = is_group
        self.contact_id = contact_id
        self.current_thread_id: UUID | None = None
        self.thread_count = 0
        self.group_replies_enabled = False

    def next_thread_id(self) -> UUID:
        return ids.thread_id(self.id, self.thread_count + 1)

    @event("ThreadOpened")
    def open_thread(self, *, thread_id: UUID, number: int, at: datetime) -> None:
        self.current_thread_id = thread_id
        self.thread_count = number

    def set_group_replies(self, *, enabled: bool, by: str, at: datetime) -> None:
        if enabled != self.group_replies_enabled:
            self._group_replies(enabled=enabled, by=by, at=at)

    @event("GroupRepliesSet")
    def _group_replies(self, *, enabled: bool, by: str, at: datetime) -> None:
        self.group_replies_enabled = enabled
