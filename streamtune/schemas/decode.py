"""Turn raw bytes into events, or into a reason why not.

``decode_event`` raises :class:`~streamtune.errors.InvalidEvent` with a
one-line reason that names the field; ``decode_batch`` never raises and
returns the good events and the failures separately (bytewax's oks/errs), so
a stream can dead-letter the bad ones and move on.

Schema evolution: version 1 events (``timestamp`` as epoch seconds, no
``source``) are upgraded to the current version on the way in.

Examples
--------
>>> event = decode_event(b'{"kind": "metric", "event_time": "2026-01-01T00:00:00Z",'
...     b' "source": "plc", "session_id": "s", "host": "h1", "metric": "cpu",'
...     b' "value": 0.5, "unit": "ratio"}')
>>> event.kind
'metric'
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from pydantic import TypeAdapter, ValidationError
from pydantic_core import from_json

from streamtune.errors import InvalidEvent
from streamtune.schemas.bounds import MAX_EVENT_BYTES
from streamtune.schemas.events import EVENT_MODELS, SCHEMA_VERSION, Event

ACCEPTED_VERSIONS = (SCHEMA_VERSION - 1, SCHEMA_VERSION)
_CURRENT: TypeAdapter[Event] = TypeAdapter(Event)
"""Current-version events of every kind, validated straight from JSON bytes (one pass)."""


@dataclass(frozen=True, slots=True)
class Failure:
    """One input that did not decode: its bytes, why, and where it came from."""

    raw: bytes
    reason: str
    category: str
    index: int


def describe(exc: ValidationError) -> str:
    """Condense a pydantic error into one line that names each bad field."""
    parts = []
    for err in exc.errors()[:3]:
        loc = ".".join(str(p) for p in err["loc"]) or "event"
        parts.append(f"{loc}: {err['msg']}")
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
    kind = payload.get("kind")
    if not isinstance(kind, str) or kind not in EVENT_MODELS:
        raise InvalidEvent(
            f"kind: unknown event kind {str(kind)[:40]!r} (known: {', '.join(EVENT_MODELS)})",
            category="unknown_kind",
        )
    version = payload.get("schema_version", SCHEMA_VERSION)
    if version not in ACCEPTED_VERSIONS or isinstance(version, bool):
        raise InvalidEvent(
            f"schema_version: unsupported version {repr(version)[:20]} "
            f"(accepted: {', '.join(map(str, ACCEPTED_VERSIONS))})",
            category="version",
        )
    if version == SCHEMA_VERSION - 1:
        payload = upgrade_v1(payload)
    try:
        return cast(Event, EVENT_MODELS[kind].model_validate(payload))
    except ValidationError as exc:
        raise InvalidEvent(describe(exc), category="validation") from None


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
        return _CURRENT.validate_json(raw)
    except ValidationError:
        pass  # refused: the step by step path says why (or upgrades a version 1 event)
    return decode_event_stepwise(raw)


def decode_event_stepwise(raw: bytes | str) -> Event:
    """:func:`decode_event` without its one-pass fast path: parse, check kind and version, validate.

    The reference the fast path is tested against; it names the reason of a refusal.
    """
    if len(raw) > MAX_EVENT_BYTES:
        raise InvalidEvent(
            f"event: {len(raw)} bytes exceeds the {MAX_EVENT_BYTES}-byte limit", category="size"
        )
    try:
        payload = from_json(raw)
    except ValueError as exc:
        raise InvalidEvent(f"event: not valid JSON ({str(exc)[:120]})", category="json") from None
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
