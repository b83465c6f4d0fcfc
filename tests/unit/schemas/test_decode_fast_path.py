"""decode_event's one-pass fast path decides and decodes exactly as the step by step path.

The fast path (pydantic ``validate_json`` on the discriminated union of every
kind, then a count showing no key repeats) only ever returns an event;
whatever it refuses goes to the step by step path, which names the reason. So
the property to hold is: whenever the fast path accepts, the step by step path
accepts too, with an equal event.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from streamtune.errors import InvalidEvent
from streamtune.schemas.decode import (
    _CURRENT,
    _may_repeat_keys,
    decode_event,
    decode_event_stepwise,
)
from streamtune.simulator import Simulator, hostile_payloads
from tests.support.events import VALID, payload

START = datetime(2026, 1, 1, tzinfo=UTC)


def seen(event: Any) -> tuple[Any, ...]:
    """What decoding produced: type, values (repr: NaN equals NaN), fields set.

    A payload without ``event_id`` gets a fresh random one each time: left out.
    """
    values = dict(event.__dict__)
    if "event_id" not in event.model_fields_set:
        del values["event_id"]
    return type(event), repr(values), event.model_fields_set


def outcome(decode: Any, raw: bytes | str) -> tuple[str, Any]:
    try:
        event = decode(raw)
    except InvalidEvent as exc:
        return "refused", (exc.reason, exc.category)
    return "accepted", seen(event)


def fast_only(raw: bytes | str) -> Any:
    try:
        event = _CURRENT.validate_json(raw)
    except ValidationError:
        return None
    return None if _may_repeat_keys(raw, event) else event


def check_same(raw: bytes | str) -> None:
    fast = fast_only(raw)
    reference = outcome(decode_event_stepwise, raw)
    if fast is not None:
        assert reference == ("accepted", seen(fast)), raw[:300]
    assert outcome(decode_event, raw) == reference, raw[:300]


def test_simulated_events_decode_alike() -> None:
    for event in Simulator(5, start=START).events(3000):
        raw = event.model_dump_json()
        check_same(raw)
        check_same(raw.encode())
        assert fast_only(raw) == event


def test_hostile_payloads_decode_alike() -> None:
    payloads = hostile_payloads(9, 1500, start=START)
    for raw, _ in payloads:
        check_same(raw)


@pytest.mark.parametrize("raw", [
    b'{"kind": "metric", "schema_version": 1, "timestamp": 1767225600, "session_id": "s",'
    b' "host": "h", "metric": "cpu", "value": 1, "unit": "ratio"}',  # version 1: upgraded
    b'{"kind": "metric", "schema_version": 2.0, "event_time": "2026-01-01T00:00:00Z",'
    b' "source": "s", "session_id": "s", "host": "h", "metric": "cpu", "value": 1,'
    b' "unit": "ratio"}',
    b'{"kind": "metric", "event_time": "2026-01-01T00:00:00Z", "source": " s ",'
    b' "session_id": "s", "host": "h", "metric": "cpu", "value": NaN, "unit": "ratio"}',
    b'{"kind": "metric", "kind": "metric", "event_time": "2026-01-01T00:00:00+02:00",'
    b' "source": "s", "session_id": "s", "host": "h", "metric": "cpu", "value": "1.5",'
    b' "unit": "ratio"}',
    b'{"kind": "command", "event_time": 1767225600, "source": "s", "session_id": "s",'
    b' "raw_input": "a", "command_type": "a", "success": 1, "execution_time": 1,'
    b' "parameters": {"x": NaN, "y": 123456789012345678901234567890}}',
    b'{"kind": "nope"}', b"[]", b"null", b'{"kind": "command"}', b"\xff",
    b'{"kind": "metric", "event_time": "2026-01-01T00:00:00Z", "source": "s",'
    b' "session_id": "s", "host": "h", "metric": "cpu", "value": 1, "unit": "ratio",'
    b' "labels": {"a": "x", "a": "y"}}',  # valid but for the repeated key
    b'{"kind": "metric", "event_time": "2026-01-01T00:00:00Z", "source": "s",'
    b' "session_id": "s", "host": "h", "metric": "cpu", "value": 1, "unit": "ratio",'
    b' "labels": {"a": "\\": \\"", "b": "x\\":"}}',  # key-like text in values: no repeat
    b"", b" \n ",
])
def test_edge_cases_decode_alike(raw: bytes) -> None:
    check_same(raw)


_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(),
                     st.text(max_size=30), st.sampled_from(["", " x ", "a_b", "Ab", "x\n"]))
_VALUES = st.recursive(_SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(sorted(VALID)), data=st.data())
def test_mutated_payloads_decode_alike(kind: str, data: st.DataObject) -> None:
    body = payload(kind)
    keys = sorted(body) + ["extra", "schema_version", "event_id", "timestamp"]
    for key in data.draw(st.lists(st.sampled_from(keys), max_size=3)):
        if data.draw(st.booleans()):
            body.pop(key, None)
        else:
            body[key] = data.draw(_VALUES)
    check_same(json.dumps(body))


_WHITESPACE = st.sampled_from(["", " ", "\t", "\n ", "\r\n"])


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(sorted(VALID)), data=st.data())
def test_a_repeated_key_is_found_however_written(kind: str, data: st.DataObject) -> None:
    """Whatever key repeats, at any depth, spelt with escapes or spaced out, it is refused."""
    body = payload(kind, context={"zone": "a"}) if kind == "command" else payload(kind)
    key = data.draw(st.sampled_from(sorted(body) + (["zone"] if kind == "command" else [])))
    text = json.dumps(body)
    spelt = "".join(f"\\u{ord(c):04x}" if data.draw(st.booleans()) else c for c in key)
    colon = data.draw(_WHITESPACE) + ":" + data.draw(_WHITESPACE)
    value = json.dumps(body["context"]["zone"] if key == "zone" else body[key])
    at = text.index(f'"{key}": ')
    raw = text[:at] + f'"{spelt}"{colon}{value}, ' + text[at:]
    assert seen(_CURRENT.validate_json(raw)) == seen(_CURRENT.validate_json(text))  # keeps one
    assert fast_only(raw) is None
    with pytest.raises(InvalidEvent, match="^event: duplicate key") as info:
        decode_event(raw)
    assert info.value.category == "json"
    check_same(raw)


_TIMES = st.builds(
    lambda date, sep, clock, fraction, zone: f"{date}{sep}{clock}{fraction}{zone}",
    st.sampled_from(["2026-01-01", "1999-12-31", "2099-12-31", "2100-01-01", "2026-02-30"]),
    st.sampled_from(["T", "t", " "]),
    st.sampled_from(["00:00:00", "23:59:59", "23:59:60", "24:00:00", "12:60:00"]),
    st.sampled_from(["", ".5", ".123456", ".1234567", "."]),
    st.sampled_from(["Z", "z", "+00:00", "-00:00", "+05:30", "+24:00", "-23:59", ""]))
_NAMES = st.text(st.sampled_from(["a", "b", " ", "\t", "\n", "\x1c", "\x85", "\xa0", "\u2003",
                                  "\u200b", "\u180e", "\u3000", "\x00", "é"]), max_size=6)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(sorted(VALID)), moment=_TIMES, name=_NAMES,
       event_id=st.one_of(st.uuids().map(str), st.uuids().map(lambda u: u.hex),
                          st.uuids().map(lambda u: str(u).upper()),
                          st.uuids().map(lambda u: f"{{{u}}}")))
def test_times_names_and_ids_decode_alike(kind: str, moment: str, name: str,
                                          event_id: str) -> None:
    """At the edges of the envelope's own checks (RFC 3339 times, names stripped of
    Unicode white space, UUID spellings) the fast path decides as the step by step one."""
    body = payload(kind) | {"event_time": moment, "session_id": name, "event_id": event_id}
    check_same(json.dumps(body))
    check_same(json.dumps(body, ensure_ascii=False).encode())
