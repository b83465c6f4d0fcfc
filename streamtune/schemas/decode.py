"""Turn raw bytes into events, or into a reason why not.

``decode_event`` raises :class:`~streamtune.errors.InvalidEvent` with a
one-line reason that names the field; ``decode_batch`` never raises and
returns the good events and the failures separately (bytewax's oks/errs), so
a stream can dead-letter the bad ones and move on.

Schema evolution: version 1 events (``timestamp`` as epoch seconds, no
``source``) are upgraded to the current version on the way in.

Reasons name the field and the problem but never echo a value a secret could
hide in: an unknown ``kind`` or object key is shown only when it looks like
an identifier, a ``schema_version`` only when it is a small integer.
An object with a repeated key (at any depth) is refused: JSON parsers
disagree on which of the values wins.

Examples
--------
>>> event = decode_event(b'{"kind": "metric", "event_time": "2026-01-01T00:00:00Z",'
...     b' "source": "plc", "session_id": "s", "host": "h1", "metric": "cpu",'
...     b' "value": 0.5, "unit": "ratio"}')
>>> event.kind
'metric'
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast, get_args, get_origin

from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic_core import ErrorDetails, from_json

from streamtune.errors import InvalidEvent
from streamtune.schemas.bounds import MAX_EVENT_BYTES
from streamtune.schemas.events import EVENT_MODELS, SCHEMA_VERSION, Event, EventBase

ACCEPTED_VERSIONS = (SCHEMA_VERSION - 1, SCHEMA_VERSION)
_CURRENT: TypeAdapter[Event] = TypeAdapter(Event)
"""Current-version events of every kind, validated straight from JSON bytes (one pass)."""
_ECHOABLE = re.compile(r"[a-z][a-z0-9_]{0,39}")
"""Names a reason may quote: short snake_case identifiers (no room for a secret)."""
_KNOWN_KINDS = ", ".join(EVENT_MODELS)
_ACCEPTED = ", ".join(map(str, ACCEPTED_VERSIONS))
_WHITESPACE = b" \t\n\r"
_FIXED_MESSAGES = {
    "uuid_parsing": "Input should be a valid UUID",
    "union_tag_invalid": "Input tag does not match any of the expected tags",
}
"""pydantic messages that quote the input (a character of it, or all of it), replaced."""


@dataclass(frozen=True, slots=True)
class Failure:
    """One input that did not decode: its bytes, why, and where it came from."""

    raw: bytes
    reason: str
    category: str
    index: int


def _location(loc: tuple[int | str, ...]) -> str:
    parts = [str(p) if isinstance(p, int) or p == "[key]" or _ECHOABLE.fullmatch(p)
             else f"<key of {len(p)} characters>" for p in loc]
    return ".".join(parts) or "event"


def _message(err: ErrorDetails) -> str:
    msg = _FIXED_MESSAGES.get(err["type"], err["msg"])
    value = err.get("input")
    if isinstance(value, str) and len(value) > 3 and value in msg:
        return f"invalid value ({err['type']})"
    return msg


def describe(exc: ValidationError) -> str:
    """Condense a pydantic error into one line that names each bad field.

    Object keys that do not look like identifiers, and messages that would
    quote the input, are left out (a secret could hide in them).
    """
    parts = [f"{_location(err['loc'])}: {_message(err)}" for err in exc.errors()[:3]]
    more = exc.error_count() - len(parts)
    return "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")


def upgrade_v1(payload: dict[str, Any]) -> dict[str, Any]:
    """Rewrite a version-1 payload into the current schema."""
    upgraded = dict(payload)
    timestamp = upgraded.pop("timestamp", None)
    if "event_time" not in upgraded and isinstance(timestamp, int | float):
        try:
            upgraded["event_time"] = datetime.fromtimestamp(timestamp, UTC)
        except (OverflowError, OSError, ValueError):
            raise InvalidEvent("timestamp: out of range", category="validation") from None
    upgraded.setdefault("source", "unknown")
    upgraded["schema_version"] = SCHEMA_VERSION
    return upgraded


def validate_payload(payload: Any) -> Event:
    """Validate an already-parsed JSON value as an event of any accepted version."""
    if not isinstance(payload, dict):
        raise InvalidEvent("event: must be a JSON object", category="validation")
    if "kind" not in payload:
        raise InvalidEvent("kind: field required", category="unknown_kind")
    kind = payload["kind"]
    if not isinstance(kind, str):
        raise InvalidEvent("kind: must be a string", category="unknown_kind")
    if kind not in EVENT_MODELS:
        shown = (f"{kind!r} (known" if _ECHOABLE.fullmatch(kind)
                 else f"(a string of {len(kind)} characters; known")
        raise InvalidEvent(f"kind: unknown event kind {shown}: {_KNOWN_KINDS})",
                           category="unknown_kind")
    version = payload.get("schema_version", SCHEMA_VERSION)
    if type(version) is not int:
        raise InvalidEvent(f"schema_version: must be an integer (accepted: {_ACCEPTED})",
                           category="version")
    if version not in ACCEPTED_VERSIONS:
        shown = (str(version) if abs(version) < 1000
                 else f"(an integer of {len(str(abs(version)))} digits)")
        raise InvalidEvent(f"schema_version: unsupported version {shown} (accepted: {_ACCEPTED})",
                           category="version")
    if version == SCHEMA_VERSION - 1:
        payload = upgrade_v1(payload)
    try:
        return cast(Event, EVENT_MODELS[kind].model_validate(payload))
    except ValidationError as exc:
        raise InvalidEvent(describe(exc), category="validation") from None


def _keys_within(value: Any) -> int:
    """Keys of the objects in a decoded JSON value (a model counts its fields given)."""
    if type(value) is dict:
        keys = len(value)
        for inner in value.values():
            if type(inner) is dict or type(inner) is list:
                keys += _keys_within(inner)
        return keys
    keys = 0
    for inner in value:  # a list
        if isinstance(inner, BaseModel):
            keys += len(inner.__pydantic_fields_set__)
        elif type(inner) is dict or type(inner) is list:
            keys += _keys_within(inner)
    return keys


def _holds_objects(annotation: Any) -> bool:
    """Whether a field of this type may hold JSON objects (a dict, a model, a list of them)."""
    if get_origin(annotation) is dict or (
            isinstance(annotation, type) and issubclass(annotation, BaseModel)):
        return True
    return any(map(_holds_objects, get_args(annotation)))


_NESTING_FIELDS = {model: tuple(name for name, field in model.model_fields.items()
                                if _holds_objects(field.annotation))
                   for model in EVENT_MODELS.values()}
"""Per model, the fields that may hold objects (whose keys count too)."""


def _may_repeat_keys(raw: bytes | str, event: EventBase) -> bool:
    """False when ``raw``, which decoded to ``event``, surely has no repeated key.

    Every key ends in ``"`` and optional white space before its ``:``; with the
    white space removed, the count of ``":`` bounds the keys in ``raw`` from
    above. ``event`` holds each distinct key once, so equal counts mean no key
    repeats. (Strings holding ``":`` make the bound loose: then the caller checks.)
    """
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    bound = data.translate(None, _WHITESPACE).count(b'":')
    keys = len(event.__pydantic_fields_set__)
    values = event.__dict__
    for name in _NESTING_FIELDS[type(event)]:
        value = values[name]
        if value:  # a default (None, empty) holds no key
            keys += _keys_within(value)
    return bound != keys


class _RepeatedKey(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _RepeatedKey(key)
            seen.add(key)
    return obj


def check_unique_keys(raw: bytes | str) -> None:
    """Refuse JSON (already known to parse) in which an object repeats a key.

    Raises
    ------
    InvalidEvent
        ``event: duplicate key 'kind'``, category ``json``.
    """
    try:
        json.loads(raw, object_pairs_hook=_unique_pairs)
    except _RepeatedKey as exc:
        key = exc.key
        shown = repr(key) if _ECHOABLE.fullmatch(key) else f"(a key of {len(key)} characters)"
        raise InvalidEvent(f"event: duplicate key {shown}", category="json") from None
    except (ValueError, RecursionError):
        pass  # JSON only pydantic's parser takes (it parsed): no repeat to find with this one


def decode_event(raw: bytes | str) -> Event:
    """Parse and validate one JSON-encoded event.

    Raises
    ------
    InvalidEvent
        With a reason naming the field and a category: ``size``, ``json``,
        ``unknown_kind``, ``version`` or ``validation``.
    """
    if len(raw) > MAX_EVENT_BYTES:
        raise InvalidEvent(
            f"event: {len(raw)} bytes exceeds the {MAX_EVENT_BYTES}-byte limit", category="size"
        )
    try:  # fast path: a valid current-version event, parsed and validated in one pass
        event = _CURRENT.validate_json(raw)
    except ValidationError:
        pass  # refused: the step by step path says why (or upgrades a version 1 event)
    else:  # pydantic keeps the last of repeated keys: count them
        if not _may_repeat_keys(raw, event):
            return event
    return decode_event_stepwise(raw)


def decode_event_stepwise(raw: bytes | str) -> Event:
    """:func:`decode_event` without its fast path: parse, check keys, kind and version, validate.

    The reference the fast path is tested against; it names the reason of a refusal.
    """
    if len(raw) > MAX_EVENT_BYTES:
        raise InvalidEvent(
            f"event: {len(raw)} bytes exceeds the {MAX_EVENT_BYTES}-byte limit", category="size"
        )
    if not raw.strip():
        raise InvalidEvent("event: empty record", category="json")
    try:
        payload = from_json(raw)
    except ValueError as exc:
        raise InvalidEvent(f"event: not valid JSON ({str(exc)[:120]})", category="json") from None
    check_unique_keys(raw)
    return validate_payload(payload)


def decode_batch(raws: Iterable[bytes]) -> tuple[list[Event], list[Failure]]:
    """Decode many events; never raises. Returns (events, failures)."""
    oks: list[Event] = []
    errs: list[Failure] = []
    for index, raw in enumerate(raws):
        try:
            oks.append(decode_event(raw))
        except InvalidEvent as exc:
            errs.append(Failure(raw=raw, reason=exc.reason, category=exc.category, index=index))
    return oks, errs
