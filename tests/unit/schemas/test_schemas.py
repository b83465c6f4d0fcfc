"""Event schemas: round-trips, hostile input, schema evolution, JSON Schema export."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from streamtune.errors import InvalidEvent
from streamtune.schemas import EVENT_MODELS, DeadLetter, decode_batch, decode_event
from streamtune.schemas.bounds import MAX_EVENT_BYTES, MAX_OBJECT_DEPTH, uuid_text
from streamtune.schemas.json_schema import export_json_schemas
from tests.support.events import RECENT, VALID, payload


def reason_of(raw: bytes | str) -> InvalidEvent:
    with pytest.raises(InvalidEvent) as info:
        decode_event(raw)
    return info.value


@pytest.mark.parametrize("kind", list(EVENT_MODELS))
def test_every_kind_round_trips_through_json(kind: str) -> None:
    event = decode_event(json.dumps(payload(kind)))
    assert event.kind == kind
    again = decode_event(event.model_dump_json())
    assert again == event
    assert again.event_time == RECENT


texts = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1,
                max_size=200)
json_leaf = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), texts,
                      st.floats(allow_nan=False, allow_infinity=False))
json_object = st.dictionaries(st.text(min_size=1, max_size=20),
                              st.recursive(json_leaf, lambda inner: st.lists(inner, max_size=3)
                                           | st.dictionaries(st.text(max_size=8), inner,
                                                             max_size=3), max_leaves=10),
                              max_size=6)


@given(raw=texts, params=json_object, context=json_object,
       seconds=st.floats(0, 86_400), success=st.booleans(),
       when=st.datetimes(min_value=datetime(2001, 1, 1),  # noqa: DTZ001 - hypothesis bounds
                         max_value=datetime(2099, 1, 1),  # noqa: DTZ001
                         timezones=st.just(UTC)))
@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
def test_command_round_trip_property(raw: str, params: dict[str, Any], context: dict[str, Any],
                                     seconds: float, success: bool, when: datetime) -> None:
    body = payload("command", raw_input=raw, parameters=params, context=context,
                   execution_time=seconds, success=success, event_time=when.isoformat())
    try:
        event = decode_event(json.dumps(body))
    except InvalidEvent as exc:  # only the documented object bounds may refuse it
        assert exc.category == "validation"
        assert "parameters" in exc.reason or "context" in exc.reason
        return
    assert decode_event(event.model_dump_json()) == event
    assert event.raw_input == raw


@given(st.binary(max_size=2000))
@settings(max_examples=300)
def test_arbitrary_bytes_never_escape_as_another_exception(raw: bytes) -> None:
    events, failures = decode_batch([raw])
    assert len(events) + len(failures) == 1
    for failure in failures:
        assert failure.reason and failure.category in {"json", "validation", "unknown_kind",
                                                       "version", "size"}


def nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": 1}
    for _ in range(depth - 1):
        value = {"inner": value}
    return value


@pytest.mark.parametrize(("body", "category", "field"), [
    (payload("command", raw_input="x" * 2001), "validation", "raw_input"),
    (payload("command", execution_time="fast"), "validation", "execution_time"),
    (payload("command", execution_time=-1), "validation", "execution_time"),
    (payload("command", command_type="DROP TABLE"), "validation", "command_type"),
    (payload("command", parameters=nested(MAX_OBJECT_DEPTH + 1)), "validation", "parameters"),
    (payload("command", context={f"k{i}": i for i in range(65)}), "validation", "context"),
    (payload("command", event_time="2026-03-01T12:00:00"), "validation", "event_time"),
    (payload("command", event_time="1970-01-01T00:00:00Z"), "validation", "event_time"),
    (payload("command", surprise=1), "validation", "surprise"),
    (payload("error", recovery_steps=["s"] * 33), "validation", "recovery_steps"),
    (payload("metric", unit="furlongs"), "validation", "unit"),
    (payload("feedback", rating=9), "validation", "rating"),
    ({k: v for k, v in payload("command").items() if k != "success"}, "validation", "success"),
    ({**payload("command"), "kind": "telepathy"}, "unknown_kind", "kind"),
    (payload("command", schema_version=9), "version", "schema_version"),
    ([1, 2, 3], "validation", "event"),
])
def test_hostile_input_is_rejected_naming_the_field(body: Any, category: str, field: str) -> None:
    error = reason_of(json.dumps(body))
    assert error.category == category
    assert field in error.reason


@pytest.mark.parametrize("value", [
    {"ids": {1, 2}}, {"raw": b"bytes"}, {"when": RECENT}, {"inner": {"deep": (1, 2)}},
    {"inner": {1: "non-string key"}},
])
def test_objects_built_in_python_must_hold_json_values(value: dict[str, Any]) -> None:
    """Events built in Python (SDK, augmentation) are held to JSON as decoded ones are."""
    model = EVENT_MODELS["command"]
    with pytest.raises(ValidationError, match="context"):
        model.model_validate(payload("command", context=value))
    assert model.model_validate(payload("command", context={"ok": [1, "two", None]}))


def test_broken_json_and_oversized_events_are_rejected() -> None:
    assert reason_of(b'{"kind": "command",').category == "json"
    assert reason_of(b"\xff\xfe").category == "json"
    huge = json.dumps(payload("command", comment="x" * MAX_EVENT_BYTES))
    error = reason_of(huge)
    assert error.category == "size" and str(MAX_EVENT_BYTES) in error.reason
    assert reason_of(b"[" * 10_000 + b"]" * 10_000).category in {"json", "validation"}


def test_previous_schema_version_is_upgraded() -> None:
    old = {"kind": "metric", "schema_version": 1, "timestamp": 1_772_366_400,
           "session_id": "s", **VALID["metric"]}
    event = decode_event(json.dumps(old))
    assert event.schema_version == 2
    assert event.source == "unknown"
    assert event.event_time == datetime(2026, 3, 1, 12, tzinfo=UTC)


def test_times_are_converted_to_utc() -> None:
    event = decode_event(json.dumps(payload("command", event_time="2026-03-01T14:00:00+02:00")))
    assert event.event_time.utcoffset() == timedelta(0)
    assert event.event_time == datetime(2026, 3, 1, 12, tzinfo=UTC)


def test_sql_looking_text_is_valid_and_kept_verbatim() -> None:
    text = "'; DROP TABLE commands; --"
    assert decode_event(json.dumps(payload("command", raw_input=text))).raw_input == text


def test_dead_letter_keeps_bytes_and_has_stable_identity() -> None:
    first = DeadLetter.wrap(b"\x00{bad", reason="r", category="json", topic="raw.commands",
                            partition=2, offset=40)
    again = DeadLetter.wrap(b"\x00{bad", reason="r", category="json", topic="raw.commands",
                            partition=2, offset=40)
    other = DeadLetter.wrap(b"\x00{bad", reason="r", category="json", topic="raw.commands",
                            partition=2, offset=41)
    assert first.raw_bytes() == b"\x00{bad"
    assert first.dead_letter_id == again.dead_letter_id != other.dead_letter_id
    assert DeadLetter.model_validate_json(first.model_dump_json()) == first


def test_json_schema_export_describes_every_kind(tmp_path: Path) -> None:
    written = export_json_schemas(tmp_path)
    names = {p.name for p in written}
    assert {f"{kind}.schema.json" for kind in EVENT_MODELS} <= names
    assert {"event.schema.json", "dead_letter.schema.json"} <= names
    command = json.loads((tmp_path / "command.schema.json").read_text())
    assert {"raw_input", "command_type", "success", "execution_time", "event_time",
            "session_id", "source"} <= set(command["required"])
    assert command["properties"]["raw_input"]["maxLength"] == 2000
    assert command["additionalProperties"] is False
    union = json.loads((tmp_path / "event.schema.json").read_text())
    assert set(union["discriminator"]["mapping"]) == set(EVENT_MODELS)


# --- reasons ----------------------------------------------------------------------------------

KNOWN = "known: command, error, feedback, correction, trace, metric, performance, error_state"
SECRET = "AKIAOK4YREGZHWFXKXLQ"  # noqa: S105 - a made-up key the reasons must not quote


@pytest.mark.parametrize(("body", "reason", "category"), [
    (payload("command", schema_version="2"),
     "schema_version: must be an integer (accepted: 1, 2)", "version"),
    (payload("command", schema_version=2.0),
     "schema_version: must be an integer (accepted: 1, 2)", "version"),
    (payload("command", schema_version=True),
     "schema_version: must be an integer (accepted: 1, 2)", "version"),
    (payload("command", schema_version=None),
     "schema_version: must be an integer (accepted: 1, 2)", "version"),
    (payload("command", schema_version=9), "schema_version: unsupported version 9 (accepted: 1, 2)",
     "version"),
    (payload("command", schema_version=4111111111111111),
     "schema_version: unsupported version (an integer of 16 digits) (accepted: 1, 2)", "version"),
    ({}, "kind: field required", "unknown_kind"),
    ({k: v for k, v in payload("command").items() if k != "kind"}, "kind: field required",
     "unknown_kind"),
    ({**payload("command"), "kind": 7}, "kind: must be a string", "unknown_kind"),
    ({**payload("command"), "kind": None}, "kind: must be a string", "unknown_kind"),
    ({**payload("command"), "kind": "telepathy"}, f"kind: unknown event kind 'telepathy' ({KNOWN})",
     "unknown_kind"),
    ({**payload("command"), "kind": SECRET},
     f"kind: unknown event kind (a string of 20 characters; {KNOWN})", "unknown_kind"),
    ({**payload("command"), "kind": "command "},
     f"kind: unknown event kind (a string of 8 characters; {KNOWN})", "unknown_kind"),
])
def test_reasons_name_the_field_and_the_problem(body: Any, reason: str, category: str) -> None:
    error = reason_of(json.dumps(body))
    assert (error.reason, error.category) == (reason, category)


@pytest.mark.parametrize("raw", [b"", b"   ", b" \n\t\r ", "", "\n"])
def test_empty_records_are_named(raw: bytes | str) -> None:
    error = reason_of(raw)
    assert (error.reason, error.category) == ("event: empty record", "json")


@pytest.mark.parametrize("body", [
    {**payload("command"), "kind": SECRET}, payload("command", schema_version=SECRET),
    payload("command", **{SECRET: 1}), payload("metric", labels={SECRET: "x", "Zone": "y"}),
    payload("metric", labels={"zone": SECRET * 10}), payload("command", event_id=SECRET),
    payload("feedback", refers_to=SECRET + "-0000-0000-0000-000000000000"),
    payload("command", event_time=SECRET), payload("command", command_type=SECRET),
    payload("trace", status=SECRET), payload("metric", unit=SECRET),
    payload("command", parameters={SECRET: {"a": {"b": {"c": {"d": 1}}}}}),
])
def test_reasons_never_echo_a_value(body: dict[str, Any]) -> None:
    error = reason_of(json.dumps(body))
    assert "AKIA" not in error.reason and "OK4Y" not in error.reason, error.reason
    assert len(error.reason) < 400


def test_hidden_keys_are_shown_by_length_and_known_ones_by_name() -> None:
    error = reason_of(json.dumps(payload("command", **{SECRET: 1, "surprise": 2})))
    assert "<key of 20 characters>: Extra inputs are not permitted" in error.reason
    assert "surprise: Extra inputs are not permitted" in error.reason
    error = reason_of(json.dumps(payload("command", event_id="not-a-uuid")))
    assert error.reason == "event_id: must be a UUID written as 8-4-4-4-12 hexadecimal digits"


@pytest.mark.parametrize(("raw", "key"), [
    (b'{"kind": "metric", "kind": "command"}', "'kind'"),
    (b'{"kind": "nope", "kind": "metric"}', "'kind'"),
    (b'{"kind": "command", "\\u006bind": "command"}', "'kind'"),
    (b'{"kind" : "metric",\n"kind"\t:"metric"}', "'kind'"),
    (b'{"kind": "command", "parameters": {"device": "a", "device": "b"}}', "'device'"),
    (b'{"kind": "command", "context": {"a": [{"x": 1, "x": 1}]}}', "'x'"),
    (b'{"kind": "command", "context": {"%s": 1, "%s": 2}}' % (SECRET.encode(), SECRET.encode()),
     "(a key of 20 characters)"),
])
def test_repeated_keys_are_refused(raw: bytes, key: str) -> None:
    error = reason_of(raw)
    assert (error.reason, error.category) == (f"event: duplicate key {key}", "json")
    assert reason_of(raw.decode()).reason == error.reason


def test_a_valid_event_with_a_repeated_key_is_refused() -> None:
    """pydantic's parser keeps the last value; the fast path must still see the repeat."""
    text = json.dumps(payload("command"))
    for repeated in (text.replace('"success": true', '"success": false, "success": true'),
                     text.replace('"device": "pump 3"', '"device": "pump 9", "device": "pump 3"'),
                     text.replace('"success": true', '"success": false, "succ\\u0065ss" :true')):
        assert repeated != text
        error = reason_of(repeated)
        assert error.reason.startswith("event: duplicate key"), repeated


def test_previous_version_keeps_strict_types() -> None:
    old = {"kind": "metric", "schema_version": 1, "timestamp": 1_772_366_400,
           "session_id": "s", **VALID["metric"]}
    assert decode_event(json.dumps(old)).event_time == datetime(2026, 3, 1, 12, tzinfo=UTC)
    error = reason_of(json.dumps({**old, "value": "0.41"}))
    assert error.reason == "value: Input should be a valid number"
    error = reason_of(json.dumps({**old, "timestamp": "1772366400"}))
    assert error.reason.startswith("event_time: Field required")


@given(st.uuids())
def test_a_uuids_text_is_what_str_writes(value: UUID) -> None:
    assert uuid_text(value) == str(value)
    assert uuid_text(str(value)) == str(value)  # a view's id, already text
