"""Bounded field types shared by every event model.

Every string, list, number and free-form object an event carries has a limit,
so hostile input fails validation with a message naming the field instead of
exhausting memory downstream.

The types are strict (see :mod:`streamtune.schemas.events`): a field takes
the JSON type its published JSON Schema names and nothing pydantic could
coerce into it. :data:`Uuid` and :data:`UtcTime` take strings (JSON has no
other way to carry them) of the one form their schema gives, and in Python
also a ``UUID`` or a ``datetime``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

import orjson
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BeforeValidator,
    Field,
    JsonValue,
    Strict,
    StringConstraints,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

MAX_EVENT_BYTES = 64 * 1024
MAX_OBJECT_DEPTH = 4
MAX_OBJECT_KEYS = 64
MAX_OBJECT_ITEMS = 256
MAX_OBJECT_KEY_CHARS = 64
MAX_OBJECT_STRING_CHARS = 1000
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)

Identifier = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]*$")
]
"""snake_case name: command types, error types, categories."""

_NOT_ONLY_SPACE = (r"[^\t\n\v\f\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f"
                   r"\u3000]")
"""A character that is not Unicode ``White_Space`` (what ``strip_whitespace`` strips)."""

Name = Annotated[str, StringConstraints(min_length=1, max_length=128, strip_whitespace=True),
                 WithJsonSchema({"type": "string", "minLength": 1, "maxLength": 128,
                                 "pattern": _NOT_ONLY_SPACE})]
"""Short free text: ids from the control system, hosts, components, units.

Surrounding white space is stripped; white space alone is refused (the
schema's ``pattern`` says so).
"""

Text = Annotated[str, StringConstraints(min_length=1, max_length=2000)]
"""Command text and other user-entered lines."""

LongText = Annotated[str, StringConstraints(max_length=4000)]
"""Messages: error messages, comments."""

Score = Annotated[float, Strict(), Field(ge=0.0, le=1.0, allow_inf_nan=False)]
Seconds = Annotated[float, Strict(), Field(ge=0.0, le=86_400.0, allow_inf_nan=False)]
Milliseconds = Annotated[float, Strict(), Field(ge=0.0, le=86_400_000.0, allow_inf_nan=False)]
Measurement = Annotated[float, Strict(), Field(ge=-1e15, le=1e15, allow_inf_nan=False)]


def _to_utc(value: datetime) -> datetime:
    value = value.astimezone(UTC)
    if not EARLIEST <= value < LATEST:
        raise ValueError("time must lie between 2000-01-01 and 2100-01-01 UTC")
    return value


_RFC3339 = (r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?"
            r"([Zz]|[+-][0-9]{2}:[0-9]{2})$")
_IS_RFC3339 = re.compile(_RFC3339).fullmatch


def _time_input(value: Any) -> Any:
    """Let through a datetime or an RFC 3339 string with a zone; refuse the rest (numbers)."""
    if isinstance(value, datetime) or isinstance(value, str) and _IS_RFC3339(value):
        return value
    raise PydanticCustomError(
        "datetime_format",
        "must be an RFC 3339 date-time with a time zone, such as 2026-01-01T00:00:00Z")


UtcTime = Annotated[AwareDatetime, BeforeValidator(_time_input),
                    AfterValidator(_to_utc),
                    WithJsonSchema({"type": "string", "format": "date-time",
                                    "pattern": _RFC3339})]
"""A time zone aware time, converted to UTC.

From JSON only an RFC 3339 string (``2026-01-01T12:00:00+02:00``) is taken:
no epoch numbers, numeric strings or naive times. Python may also pass a
``datetime``.
"""

_UUID = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
_IS_UUID = re.compile(_UUID).fullmatch


def _uuid_input(value: Any) -> Any:
    """Let through a UUID or its 8-4-4-4-12 hex string; refuse the rest (``urn:``, no dashes)."""
    if isinstance(value, UUID) or isinstance(value, str) and _IS_UUID(value):
        return value
    raise PydanticCustomError(
        "uuid_format", "must be a UUID written as 8-4-4-4-12 hexadecimal digits")


Uuid = Annotated[UUID, BeforeValidator(_uuid_input),
                 WithJsonSchema({"type": "string", "format": "uuid", "pattern": _UUID})]
"""A UUID: in JSON a string of 8-4-4-4-12 hex digits; in Python also a ``UUID``."""


def uuid_text(value: UUID | str) -> str:
    """``str(value)``: a UUID's 8-4-4-4-12 text written by orjson in C (0.19 µs against
    0.6; the worker's detectors and scorer key every event by it), a text as it is."""
    return value if isinstance(value, str) else orjson.dumps(value)[1:-1].decode()


_SCALARS = (int, float, bool, type(None))
_FLAT_KINDS = frozenset({str, *_SCALARS})


def _check_object(value: Any, depth: int = 1) -> int:
    """Walk a JSON value; return its number of items; raise on a broken bound or non-JSON."""
    if depth > MAX_OBJECT_DEPTH + 1:
        raise ValueError(f"nested deeper than {MAX_OBJECT_DEPTH} levels")
    if isinstance(value, str):
        if len(value) > MAX_OBJECT_STRING_CHARS:
            raise ValueError(f"a string value exceeds {MAX_OBJECT_STRING_CHARS} characters")
        return 1
    if isinstance(value, dict):
        if len(value) > MAX_OBJECT_KEYS:
            raise ValueError(f"an object has more than {MAX_OBJECT_KEYS} keys")
        items = 1
        for key, inner in value.items():
            if not isinstance(key, str):
                raise ValueError(f"an object key is a {type(key).__name__}, not a string")
            if len(key) > MAX_OBJECT_KEY_CHARS:
                raise ValueError(f"a key exceeds {MAX_OBJECT_KEY_CHARS} characters")
            items += _check_object(inner, depth + 1)
        return items
    if isinstance(value, list):
        items = 1
        for inner in value:
            items += _check_object(inner, depth + 1)
        return items
    if not isinstance(value, _SCALARS):
        raise ValueError(f"holds a {type(value).__name__}, which is not a JSON value")
    return 1


def _flat_within_bounds(value: dict[str, Any]) -> bool:
    """True for an object of JSON scalars that meets every bound (the common case, checked fast)."""
    if len(value) > MAX_OBJECT_KEYS:  # 1 + MAX_OBJECT_KEYS <= MAX_OBJECT_ITEMS
        return False
    for key, inner in value.items():
        kind = type(inner)
        if kind not in _FLAT_KINDS or len(key) > MAX_OBJECT_KEY_CHARS or (
                kind is str and len(inner) > MAX_OBJECT_STRING_CHARS):
            return False
    return True


def _bounded_object(value: dict[str, Any]) -> dict[str, JsonValue]:
    if _flat_within_bounds(value):
        return value
    if _check_object(value) > MAX_OBJECT_ITEMS:
        raise ValueError(f"holds more than {MAX_OBJECT_ITEMS} values in all")
    return value


JsonObject = Annotated[dict[str, Any], AfterValidator(_bounded_object),
                       WithJsonSchema({
                           "type": "object", "maxProperties": MAX_OBJECT_KEYS,
                           "propertyNames": {"maxLength": MAX_OBJECT_KEY_CHARS},
                           "description": (
                               f"Also, at any depth: at most {MAX_OBJECT_DEPTH} levels of"
                               f" nesting, {MAX_OBJECT_KEYS} keys of at most"
                               f" {MAX_OBJECT_KEY_CHARS} characters per object, strings of"
                               f" at most {MAX_OBJECT_STRING_CHARS} characters and"
                               f" {MAX_OBJECT_ITEMS} values in all."),
                       })]
"""A free-form JSON object (parameters, context, ...) with depth and size limits.

Its values are checked by :func:`_check_object` rather than pydantic's ``JsonValue``
union, which cost as much as the rest of an event's validation; the walk the bounds
need anyway also rejects what JSON cannot hold (sets, bytes, datetimes, non-string keys).
"""
