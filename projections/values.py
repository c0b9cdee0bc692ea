"""Turning event values into read-model values.

Two rules keep a rebuild identical to the live read model. Times are cut to
whole milliseconds in UTC before they are stored or computed with, because BSON
keeps milliseconds: a document reloaded from the database must compute exactly
what the same document kept in memory would. And only lists, plain dicts,
strings and numbers go into documents (no tuples, enums or UUIDs), so what is
written is what is read back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, is_dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID


def utc_ms(moment: datetime) -> datetime:
    """The same instant in UTC, to the millisecond (as BSON stores it)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000, tzinfo=UTC)


def stored(value: Any) -> Any:
    """An event value as a document stores it: UUIDs and enums as strings,
    tuples as lists, times in UTC to the millisecond."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Enum):
        return stored(value.value)
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime):
        return utc_ms(value)
    if isinstance(value, Mapping):
        return {str(key): stored(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [stored(item) for item in value]
    if is_dataclass(value) and not isinstance(value, type):
        return stored(asdict(value))
    return str(value)


def jsonable(value: Any) -> Any:
    """A value for JSON: times as ISO 8601 strings in UTC, ids and enums as strings."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Enum):
        return jsonable(value.value)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, UUID | Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, Mapping):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [jsonable(item) for item in value]
        return sorted(items, key=str) if isinstance(value, set | frozenset) else items
    if is_dataclass(value) and not isinstance(value, type):
        return jsonable(asdict(value))
    return str(value)
