"""Bounded field types shared by every event model.

Every string, list, number and free-form object an event carries has a limit,
so hostile input fails validation with a message naming the field instead of
exhausting memory downstream.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    Field,
    JsonValue,
    StringConstraints,
    WithJsonSchema,
)

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

Name = Annotated[str, StringConstraints(min_length=1, max_length=128, strip_whitespace=True)]
"""Short free text: ids from the control system, hosts, components, units."""

Text = Annotated[str, StringConstraints(min_length=1, max_length=2000)]
"""Command text and other user-entered lines."""

LongText = Annotated[str, StringConstraints(max_length=4000)]
"""Messages: error messages, comments."""

Score = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
Seconds = Annotated[float, Field(ge=0.0, le=86_400.0, allow_inf_nan=False)]
Milliseconds = Annotated[float, Field(ge=0.0, le=86_400_000.0, allow_inf_nan=False)]
Measurement = Annotated[float, Field(ge=-1e15, le=1e15, allow_inf_nan=False)]


def _to_utc(value: datetime) -> datetime:
    value = value.astimezone(UTC)
    if not EARLIEST <= value < LATEST:
        raise ValueError("time must lie between 2000-01-01 and 2100-01-01 UTC")
    return value


UtcTime = Annotated[AwareDatetime, AfterValidator(_to_utc)]
"""A timezone-aware time, converted to UTC; naive times are rejected."""


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
                       WithJsonSchema({"type": "object", "maxProperties": MAX_OBJECT_KEYS,
                                       "propertyNames": {"maxLength": MAX_OBJECT_KEY_CHARS}})]
"""A free-form JSON object (parameters, context, ...) with depth and size limits.

Its values are checked by :func:`_check_object` rather than pydantic's ``JsonValue``
union, which cost as much as the rest of an event's validation; the walk the bounds
need anyway also rejects what JSON cannot hold (sets, bytes, datetimes, non-string keys).
"""
