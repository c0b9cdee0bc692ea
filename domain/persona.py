"""The persona: who the assistant is and whom it speaks for, per account."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event
from parley.domain import ids
from parley.domain.errors import InvalidEdit
from parley.domain.profiles import PersonaProfile

MAX_INSTRUCTIONS = 4_000
MAX_FIELD = 200


def check_profile(profile: PersonaProfile) -> None:
    """Raises InvalidEdit when a persona field cannot be stored."""
    for label in ("name", "owner_name", "organisation", "tone"):
        if len(getattr(profile, label)) > MAX_FIELD:
            raise InvalidEdit(f"persona {label} is longer than {MAX_FIELD} characters")
    if not profile.name.strip():
        raise InvalidEdit("persona name must not be empty")
    if len(profile.instructions) > MAX_INSTRUCTIONS:
        raise InvalidEdit(f"persona instructions are longer than {MAX_INSTRUCTIONS} characters")
    if len(profile.services) > 50 or any(len(s) > MAX_FIELD for s in profile.services):
        raise InvalidEdit("persona services: at most 50, each up to 200 characters")


def profile_values(profile: PersonaProfile) -> dict[str, Any]:
    values = asdict(profile)
    values["services"] = list(profile.services)
    return values


class Persona(Aggregate):
    @staticmethod
    def create_id(account: str, **_: Any) -> UUID:
        return ids.persona_id(account)

    @event("Defined")
    def __init__(self, *, account: str, profile: dict[str, Any], by: str, at: datetime) -> None:
        self.account = account
        self.values: dict[str, Any] = dict(profile)

    @property
    def profile(self) -> PersonaProfile:
        values = dict(self.values)
        values["services"] = tuple(values.get("services", ()))
        return PersonaProfile(**values)

    def edit(self, *, profile: PersonaProfile, by: str, at: datetime) -> None:
        check_profile(profile)
        new_values = profile_values(profile)
        changes = {k: v for k, v in new_values.items() if self.values.get(k) != v}
        if changes:
            self._edited(changes=changes, by=by, at=at)

    @event("Edited")
    def _edited(self, *, changes: dict[str, Any], by: str, at: datetime) -> None:
        self.values.update(changes)
