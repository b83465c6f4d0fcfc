"""The decoder accepts what the published JSON Schema accepts, and nothing pydantic would coerce.

Lax pydantic turned ``success: "yes"``, ``execution_time: "0.5"``,
``schema_version: 2.0`` or an epoch number for ``event_time`` into values;
the JSON Schema says boolean, number, integer, date-time string. Each case is
checked against the decoder and, where ``jsonschema`` is installed, against
the exported schema too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streamtune.errors import InvalidEvent
from streamtune.schemas import EVENT_MODELS, decode_event
from streamtune.schemas.json_schema import export_json_schemas
from tests.support.events import VALID, payload

UUID_TEXT = "6a1d6f4e-3b1c-4a57-9a4f-1d2e3f4a5b6c"
INTEGER_FIELDS = {"schema_version", "rating", "count"}

# (kind, field, value): what lax mode took (or the schema once allowed), refused by both now
LAX = [
    ("command", "success", "yes"),
    ("command", "success", "on"),
    ("command", "success", "true"),
    ("command", "success", 1),
    ("command", "success", 0),
    ("error", "success_indicator", "false"),
    ("command", "execution_time", "0.5"),
    ("command", "execution_time", True),
    ("command", "schema_version", 2.0),
    ("command", "event_time", 1_767_225_600),
    ("command", "event_time", 1_767_225_600.5),
    ("command", "event_time", "1767225600"),
    ("command", "event_time", "2026-01-01 00:00:00Z"),
    ("command", "event_time", "2026-01-01T00:00:00"),
    ("command", "event_id", "6a1d6f4e3b1c4a579a4f1d2e3f4a5b6c"),
    ("command", "event_id", f"urn:uuid:{UUID_TEXT}"),
    ("feedback", "rating", 4.0),
    ("feedback", "rating", "4"),
    ("feedback", "helpful", "no"),
    ("performance", "count", 12.0),
    ("performance", "count", True),
    ("metric", "value", "0.5"),
    ("command", "raw_input", 5),
    ("metric", "labels", {"zone": 3}),
    ("command", "source", "   "),
    ("command", "session_id", "\u3000\n"),
]
# (kind, field, value): valid JSON for the schema, valid for the decoder
STRICT_OK = [
    ("command", "execution_time", 1),
    ("command", "execution_time", 0.25),
    ("command", "event_time", "2026-01-01T00:00:00Z"),
    ("command", "event_time", "2026-01-01T10:00:00.123456+02:00"),
    ("command", "event_id", UUID_TEXT),
    ("command", "event_id", UUID_TEXT.upper()),
    ("command", "schema_version", 2),
    ("feedback", "rating", 4),
    ("feedback", "refers_to", UUID_TEXT),
    ("trace", "command_event_id", UUID_TEXT),
    ("metric", "value", -3),
    ("command", "source", " console "),
]


def accepted(body: Any) -> bool:
    try:
        decode_event(json.dumps(body))
    except InvalidEvent:
        return False
    return True


@pytest.mark.parametrize(("kind", "field", "value"), LAX)
def test_lax_inputs_are_refused_naming_the_field(kind: str, field: str, value: Any) -> None:
    with pytest.raises(InvalidEvent) as info:
        decode_event(json.dumps(payload(kind, **{field: value})))
    assert info.value.reason.startswith(f"{field}")
    assert info.value.category in {"validation", "version"}


@pytest.mark.parametrize(("kind", "field", "value"), STRICT_OK)
def test_what_the_schema_allows_is_accepted(kind: str, field: str, value: Any) -> None:
    event = decode_event(json.dumps(payload(kind, **{field: value})))
    assert event.kind == kind


def test_an_integer_is_a_number_and_a_time_string_a_time() -> None:
    event = decode_event(json.dumps(payload("command", execution_time=1,
                                            event_time="2026-01-01T02:00:00+02:00")))
    assert event.execution_time == 1.0 and isinstance(event.execution_time, float)
    assert event.event_time.isoformat() == "2026-01-01T00:00:00+00:00"


def test_python_callers_pass_python_values_strictly_too() -> None:
    model = EVENT_MODELS["command"]
    body = payload("command", event_id=UUID_TEXT)
    assert str(model.model_validate(body).event_id) == UUID_TEXT
    for field, value in (("success", "yes"), ("execution_time", "0.5"),
                         ("event_time", 1_767_225_600), ("schema_version", 2.0)):
        with pytest.raises(ValueError, match=field):
            model.model_validate({**body, field: value})


# --- agreement with the exported JSON Schema -----------------------------------------------

@pytest.fixture(scope="module")
def schema_accepts(tmp_path_factory: pytest.TempPathFactory) -> Any:
    jsonschema = pytest.importorskip("jsonschema")
    directory: Path = tmp_path_factory.mktemp("schemas")
    export_json_schemas(directory)
    schema = json.loads((directory / "event.schema.json").read_text())
    validator_class = jsonschema.Draft202012Validator
    validator = validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)
    return validator.is_valid


def integral_float(field: str, value: Any) -> bool:
    return isinstance(value, float) and value.is_integer() and field in INTEGER_FIELDS


def legacy_version(field: str, value: Any) -> bool:
    """Version 1 events follow the legacy schema and are upgraded on the way in."""
    return field == "schema_version" and value == 1 and not isinstance(value, bool)


@pytest.mark.parametrize(("kind", "field", "value"), [
    case for case in LAX + STRICT_OK if not integral_float(*case[1:])])
def test_schema_and_decoder_agree(schema_accepts: Any, kind: str, field: str,
                                  value: Any) -> None:
    body = payload(kind, **{field: value})
    assert schema_accepts(body) == accepted(body)


def test_integral_floats_and_version_1_are_the_known_differences(schema_accepts: Any) -> None:
    """JSON Schema's ``integer`` is any number without a fraction, so it takes ``2.0``; the
    published schema is version 2's, while the decoder also upgrades version 1 events."""
    for kind, changes in (("command", {"schema_version": 2.0}), ("feedback", {"rating": 4.0})):
        body = payload(kind, **changes)
        assert schema_accepts(body)
        assert not accepted(body)
    legacy = payload("error_state", schema_version=1)
    assert accepted(legacy) and not schema_accepts(legacy)


_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 10), st.sampled_from([0.5, 1e6, -2.5, 3.0]),
    st.sampled_from(["", "yes", "true", "0.5", "2", "1767225600", "command", "console",
                     "a b", "restart_device", UUID_TEXT, "2026-01-01T00:00:00Z",
                     "2026-01-01T00:00:00", "ok", "ratio", "degraded", "medium"]),
    st.just([]), st.just(["retry"]), st.just({}), st.just({"zone": "a"}),
)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow,
                                                    HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(sorted(VALID)), data=st.data())
def test_schema_and_decoder_agree_on_mutated_fields(schema_accepts: Any, kind: str,
                                                    data: st.DataObject) -> None:
    body = payload(kind)
    fields = sorted(EVENT_MODELS[kind].model_fields)
    for field in data.draw(st.lists(st.sampled_from(fields), min_size=1, max_size=2)):
        value = data.draw(_VALUES)
        if integral_float(field, value) or legacy_version(field, value):
            continue  # the known differences
        body[field] = value
    assert schema_accepts(body) == accepted(body), body
