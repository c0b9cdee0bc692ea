"""Event state as JSON through orjson, keeping the types the domain uses.

orjson writes UUIDs, datetimes and enums as plain strings, which would come back
as strings. So values are first tagged the way `eventsourcing`'s JSONTranscoder
tags them (`{"_type_": name, "_data_": value}`), which also keeps the stored
bytes readable by that transcoder given the same transcodings. Built in: UUID,
datetime (with its zone), date, Decimal, bytes, tuple and any Enum.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import date
from enum import Enum
from typing import Any

import orjson
from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    Transcoding,
    TranscodingNotRegisteredError,
    UUIDAsHex,
)
from eventsourcing.utils import get_topic, resolve_topic

_NATIVE = (str, int, float, bool, type(None))


class BytesAsBase64(Transcoding):
    type = bytes
    name = "bytes_b64"

    def encode(self, obj: bytes) -> str:
        return base64.b64encode(obj).decode("ascii")

    def decode(self, data: str) -> bytes:
        return base64.b64decode(data)


class DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


class TupleAsList(Transcoding):
    type = tuple
    name = "tuple_as_list"

    def encode(self, obj: tuple[Any, ...]) -> list[Any]:
        return list(obj)

    def decode(self, data: list[Any]) -> tuple[Any, ...]:
        return tuple(data)


ENUM_TAG = "enum"
# A stored dict that happens to have exactly the two tag keys (people type such
# things into free-form fields) is written as key-value pairs, so reading it back
# can never mistake it for a tagged value.
PLAIN_DICT_TAG = "plain_dict"
_TAG_KEYS = frozenset(("_type_", "_data_"))


class OrjsonTranscoder(JSONTranscoder):
    """A `JSONTranscoder` (so applications can still register transcodings) that
    encodes and decodes with orjson."""

    def __init__(self) -> None:
        super().__init__()
        for transcoding in (
            UUIDAsHex(),
            DatetimeAsISO(),
            DateAsISO(),
            DecimalAsStr(),
            BytesAsBase64(),
            TupleAsList(),
        ):
            self.register(transcoding)

    def encode(self, obj: Any) -> bytes:
        return orjson.dumps(self._tag(obj))

    def decode(self, data: bytes) -> Any:
        value = orjson.loads(data)
        # Most event states hold no tagged values; skip the walk for them.
        if b'"_type_"' not in data:
            return value
        return self._untag(value)

    def _tag(self, obj: Any) -> Any:
        kind = type(obj)
        if kind in _NATIVE:
            return obj
        if kind is dict:
            if len(obj) == 2 and obj.keys() == _TAG_KEYS:
                pairs = [[key, self._tag(value)] for key, value in obj.items()]
                return {"_type_": PLAIN_DICT_TAG, "_data_": pairs}
            return {key: self._tag(value) for key, value in obj.items()}
        if kind is list:
            return [self._tag(value) for value in obj]
        transcoding = self.types.get(kind)
        if transcoding is not None:
            return {"_type_": transcoding.name, "_data_": self._tag(transcoding.encode(obj))}
        if isinstance(obj, Enum):
            return {"_type_": ENUM_TAG, "_data_": [get_topic(kind), self._tag(obj.value)]}
        msg = (
            f"Object of type {kind} is not serializable. Please define and register "
            "a custom transcoding for this type."
        )
        raise TranscodingNotRegisteredError(msg)

    def _untag(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self._untag(item) for item in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 2 and "_type_" in value and "_data_" in value:
            name = value["_type_"]
            if name == PLAIN_DICT_TAG:
                return {key: self._untag(item) for key, item in value["_data_"]}
            data = self._untag(value["_data_"])
            if name == ENUM_TAG:
                topic, member_value = data
                enum_class: Callable[[Any], Enum] = resolve_topic(topic)
                return enum_class(member_value)
            transcoding = self.names.get(name)
            if transcoding is None:
                msg = (
                    f"Data serialized with name '{name}' is not deserializable. "
                    "Please register a custom transcoding for this type."
                )
                raise TranscodingNotRegisteredError(msg)
            return transcoding.decode(data)
        return {key: self._untag(item) for key, item in value.items()}
