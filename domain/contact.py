"""A contact: a person who wrote to the account, what the operator says of them,
and the style Parley learned from their own messages."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event
from parley.domain import ids
from parley.domain.analysis import same_style
from parley.domain.errors import InvalidEdit
from parley.domain.profiles import CustomContext, LearnedStyle, Relationship

MAX_FIELD = 500  # characters in one profile field
EMOJI_PREFERENCES = ("", "none", "some", "lots")


class Contact(Aggregate):
    @staticmethod
    def create_id(account: str, number: str, **_: Any) -> UUID:
        return ids.contact_id(account, number)

    @event("Registered")
    def __init__(self, *, account: str, number: str, push_name: str, at: datetime) -> None:
        self.account = account
        self.number = number
        self.push_name = push_name
        self.first_seen_at = at
        self.name = push_name
        self.preferred_name = ""
        self.relationship = Relationship.UNKNOWN
        self.priority = 0
        self.language = ""
        self.custom: dict[str, Any] = asdict(CustomContext())
        self.style: dict[str, Any] = asdict(LearnedStyle())

    @property
    def custom_context(self) -> CustomContext:
        values = dict(self.custom)
        values["topics"] = tuple(values.get("topics", ()))
        return CustomContext(**values)

    @property
    def learned_style(self) -> LearnedStyle:
        return LearnedStyle(**self.style)

    def note_push_name(self, *, push_name: str, at: datetime) -> None:
        if push_name and push_name != self.push_name:
            self._push_name(push_name=push_name, at=at)

    @event("PushNameChanged")
    def _push_name(self, *, push_name: str, at: datetime) -> None:
        if self.name == self.push_name:
            self.name = push_name  # nobody chose a name yet: follow WhatsApp's
        self.push_name = push_name

    def edit(
        self,
        *,
        by: str,
        at: datetime,
        name: str | None = None,
        preferred_name: str | None = None,
        relationship: Relationship | None = None,
        priority: int | None = None,
        language: str | None = None,
        custom: CustomContext | None = None,
    ) -> None:
        """Applies an operator's edit; fields left as None stay as they are."""
        for label, value in (("name", name), ("preferred_name", preferred_name)):
            if value is not None and len(value) > MAX_FIELD:
                raise InvalidEdit(f"{label} is longer than {MAX_FIELD} characters")
        if priority is not None and not 0 <= priority <= 10:
            raise InvalidEdit("priority must be between 0 and 10")
        if language is not None and len(language) > 35:
            raise InvalidEdit("language must be a language tag such as en or pt-BR")
        if custom is not None:
            if custom.emoji_preference not in EMOJI_PREFERENCES:
                raise InvalidEdit("emoji_preference must be one of none, some, lots")
            long_text = max(len(custom.personality), len(custom.communication_style))
            if long_text > MAX_FIELD or len(custom.topics) > 50:
                raise InvalidEdit(f"custom context fields are limited to {MAX_FIELD} characters")
        changes: dict[str, Any] = {
            key: value
            for key, value in (
                ("name", name),
                ("preferred_name", preferred_name),
                ("relationship", relationship),
                ("priority", priority),
                ("language", language),
                ("custom", asdict(custom) if custom is not None else None),
            )
            if value is not None and value != getattr(self, key)
        }
        if changes:
            self._edited(changes=changes, by=by, at=at)

    @event("ProfileEdited")
    def _edited(self, *, changes: dict[str, Any], by: str, at: datetime) -> None:
        for key, value in changes.items():
            setattr(self, key, value)

    def learn_style(self, *, style: LearnedStyle, at: datetime) -> None:
        if not same_style(style, self.learned_style):
            self._style_learned(style=asdict(style), at=at)

    @event("StyleLearned")
    def _style_learned(self, *, style: dict[str, Any], at: datetime) -> None:
        self.style = dict(style)
