"""Strict validation of path, query and body values, from declarations that also
write their own OpenAPI schema, so what is checked and what is documented agree.

Nothing a client sends reaches a database query as a structure: every value is
parsed into a scalar of the declared type (or a list of bounded strings), and
names that look like MongoDB operators or paths (`$gt`, `a.b`, `state[$ne]`) are
refused wherever they appear, in a query string or at any depth of a JSON body.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any, Literal

import orjson
from multidict import MultiMapping
from parley.http.errors import BadRequest

Kind = Literal["string", "integer", "boolean", "datetime", "date", "enum", "strings", "object"]
Location = Literal["query", "path"]

MAX_DEPTH = 4
_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$"
)
_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"


def forbidden_name(name: str) -> bool:
    """True for names MongoDB would read as an operator or a path, or PHP-style arrays."""
    return not name or name.startswith("$") or any(ch in name for ch in ".[]\x00")


@dataclass(frozen=True)
class Spec:
    """One value: a path or query parameter, or a field of a JSON object."""

    name: str
    kind: Kind
    description: str = ""
    required: bool = False
    enum: tuple[str, ...] = ()
    minimum: int | None = None
    maximum: int | None = None
    min_length: int = 0
    max_length: int = 200
    max_items: int = 50
    pattern: str | None = None
    default: Any = None
    fields: tuple[Spec, ...] = ()  # for kind "object"
    location: Location = "query"

    # ------------------------------------------------------------ parsing

    def parse_text(self, raw: str, where: str = "") -> Any:
        """A path or query value (always text on the wire) as its declared type."""
        where = where or f"{self.location} parameter '{self.name}'"
        if self.kind == "integer":
            if not re.fullmatch(r"-?\d{1,18}", raw):
                raise BadRequest(f"{where} must be an integer")
            return self._check_range(int(raw), where)
        if self.kind == "boolean":
            if raw not in ("true", "false"):
                raise BadRequest(f"{where} must be true or false")
            return raw == "true"
        if self.kind == "datetime":
            return parse_datetime(raw, where)
        if self.kind == "date":
            return parse_date(raw, where)
        return self._check_string(raw, where)

    def parse_json(self, value: Any, where: str) -> Any:
        """A JSON value of a body field as its declared type."""
        if self.kind == "integer":
            if isinstance(value, bool) or not isinstance(value, int):
                raise BadRequest(f"{where} must be an integer")
            return self._check_range(value, where)
        if self.kind == "boolean":
            if not isinstance(value, bool):
                raise BadRequest(f"{where} must be true or false")
            return value
        if self.kind == "strings":
            return self._parse_strings(value, where)
        if self.kind == "object":
            return parse_object(self.fields, value, where, depth=1)
        if not isinstance(value, str):
            raise BadRequest(f"{where} must be a string")
        return self.parse_text(value, where)

    def _parse_strings(self, value: Any, where: str) -> list[str]:
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise BadRequest(f"{where} must be a list of strings")
        if len(value) > self.max_items:
            raise BadRequest(f"{where} holds at most {self.max_items} items")
        return [self._check_string(item, f"an item of {where}") for item in value]

    def _check_range(self, value: int, where: str) -> int:
        if self.minimum is not None and value < self.minimum:
            raise BadRequest(f"{where} must be at least {self.minimum}")
        if self.maximum is not None and value > self.maximum:
            raise BadRequest(f"{where} must be at most {self.maximum}")
        return value

    def _check_string(self, value: str, where: str) -> str:
        if self.kind == "enum":
            if value not in self.enum:
                raise BadRequest(f"{where} must be one of {', '.join(self.enum)}")
            return value
        if not self.min_length <= len(value) <= self.max_length:
            raise BadRequest(
                f"{where} must be {self.min_length} to {self.max_length} characters long"
            )
        if self.pattern is not None and not re.search(self.pattern, value):
            raise BadRequest(f"{where} is not in the expected form")
        return value

    # ------------------------------------------------------------- schema

    def schema(self) -> dict[str, Any]:
        """The JSON Schema of this value, as the parser accepts it."""
        out = self._type_schema()
        if self.default is not None:
            out["default"] = self.default
        if self.description:
            out["description"] = self.description
        return out

    def _type_schema(self) -> dict[str, Any]:
        if self.kind in _FIXED_SCHEMAS:
            return dict(_FIXED_SCHEMAS[self.kind])
        if self.kind == "integer":
            bounds = {"minimum": self.minimum, "maximum": self.maximum}
            return {"type": "integer"} | {k: v for k, v in bounds.items() if v is not None}
        if self.kind == "enum":
            return {"type": "string", "enum": list(self.enum)}
        if self.kind == "strings":
            item = {"type": "string", "maxLength": self.max_length}
            return {"type": "array", "items": item, "maxItems": self.max_items}
        if self.kind == "object":
            return object_schema(self.fields)
        out: dict[str, Any] = {
            "type": "string",
            "minLength": self.min_length,
            "maxLength": self.max_length,
        }
        if self.pattern is not None:
            out["pattern"] = self.pattern
        return out


_FIXED_SCHEMAS: dict[str, dict[str, Any]] = {
    "boolean": {"type": "boolean"},
    "datetime": {"type": "string", "format": "date-time"},
    "date": {"type": "string", "format": "date"},
}


def parse_datetime(raw: str, where: str) -> datetime:
    """An RFC 3339 date-time with an offset, as an aware UTC datetime."""
    found = _RFC3339.match(raw)
    if found is None:
        raise BadRequest(f"{where} must be an RFC 3339 date-time such as 2025-03-01T09:00:00Z")
    year, month, day, hour, minute, second = (int(found.group(i)) for i in range(1, 7))
    micro = int((found.group(7) or ".0")[1:7].ljust(6, "0"))
    offset = found.group(8).upper()
    try:
        zone = UTC
        if offset != "Z":
            sign = 1 if offset[0] == "+" else -1
            zone = timezone(sign * timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6])))
        # Leap seconds (":60") are valid RFC 3339 but not Python: read them as :59.
        moment = datetime(year, month, day, hour, minute, min(second, 59), micro, tzinfo=zone)
        return moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise BadRequest(f"{where} is not a valid date-time") from None


def parse_date(raw: str, where: str) -> date:
    found = _DATE.match(raw)
    if found is None:
        raise BadRequest(f"{where} must be a date such as 2025-03-01")
    try:
        return date(int(found.group(1)), int(found.group(2)), int(found.group(3)))
    except ValueError:
        raise BadRequest(f"{where} is not a valid date") from None


def object_schema(fields: Sequence[Spec]) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {spec.name: spec.schema() for spec in fields},
        "additionalProperties": False,
    }
    required = [spec.name for spec in fields if spec.required]
    if required:
        schema["required"] = required
    return schema


def parse_object(fields: Sequence[Spec], value: Any, where: str, depth: int = 0) -> dict[str, Any]:
    """A JSON object holding only the declared fields, each of its declared type."""
    if not isinstance(value, dict):
        raise BadRequest(f"{where} must be a JSON object")
    if depth > MAX_DEPTH:
        raise BadRequest(f"{where} is nested too deeply")
    check_names(value, where)
    declared = {spec.name: spec for spec in fields}
    unknown = sorted(set(value) - set(declared))
    if unknown:
        raise BadRequest(f"{where} has an unknown field '{unknown[0]}'")
    parsed: dict[str, Any] = {}
    for spec in fields:
        if spec.name not in value:
            if spec.required:
                raise BadRequest(f"{where} needs the field '{spec.name}'")
            continue
        item = value[spec.name]
        if item is None:
            raise BadRequest(f"field '{spec.name}' must not be null")
        parsed[spec.name] = spec.parse_json(item, f"field '{spec.name}'")
    return parsed


def check_names(value: Any, where: str, depth: int = 0) -> None:
    """Refuses operator-like names anywhere inside a JSON value."""
    if depth > MAX_DEPTH + 2:
        raise BadRequest(f"{where} is nested too deeply")
    if isinstance(value, dict):
        for key, item in value.items():
            if forbidden_name(key):
                raise BadRequest(
                    f"{where} has a field named {key[:40]!r}: names may not be empty, "
                    "start with '$' or contain '.', '[' or ']'"
                )
            check_names(item, where, depth + 1)
    elif isinstance(value, list):
        for item in value:
            check_names(item, where, depth + 1)


def parse_body(fields: Sequence[Spec], raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        raise BadRequest("the request needs a JSON object body")
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise BadRequest("the body is not valid JSON") from None
    return parse_object(fields, value, "the body")


def parse_query(specs: Sequence[Spec], query: MultiMapping[str]) -> dict[str, Any]:
    """Declared query parameters, each given at most once; anything else is refused."""
    declared = {spec.name: spec for spec in specs}
    seen: set[str] = set()
    for name, _ in query.items():  # items(), not keys(): keys() hides repeats
        if forbidden_name(name):
            raise BadRequest(
                f"query parameter {name[:40]!r}: names may not start with '$' "
                "or contain '.', '[' or ']'"
            )
        if name not in declared:
            raise BadRequest(f"unknown query parameter '{name[:40]}'")
        if name in seen:
            raise BadRequest(f"query parameter '{name}' is given more than once")
        seen.add(name)
    parsed: dict[str, Any] = {}
    for spec in specs:
        raw = query.get(spec.name)
        if raw is None:
            if spec.required:
                raise BadRequest(f"query parameter '{spec.name}' is required")
            if spec.default is not None:
                parsed[spec.name] = spec.default
            continue
        parsed[spec.name] = spec.parse_text(raw)
    return parsed


def parse_path(specs: Sequence[Spec], match: Mapping[str, str]) -> dict[str, Any]:
    return {spec.name: spec.parse_text(match[spec.name]) for spec in specs}


@dataclass(frozen=True)
class Body:
    """A JSON object body: its fields and a description for the documentation."""

    fields: tuple[Spec, ...]
    description: str = ""
    examples: Mapping[str, Any] = field(default_factory=dict)
