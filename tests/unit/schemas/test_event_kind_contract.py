"""Contract of every event kind: the same checks over each model of ``EVENT_MODELS``.

Like river's ``check_estimator``, the checks are written once and run over the whole
family, so an event kind added later is checked without a new test. Each kind needs a
valid sample in ``tests/support/events.VALID`` (a missing one fails here, by name).
Which fields are required, which are text and how long a text may be are read from the
exported JSON Schema, so a check follows the model as it changes.

Not here: the hot-path decoder against pydantic (``test_decode_fast_path.py``), lax
values per field (``test_strict_contract.py``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from streamtune.errors import InvalidEvent
from streamtune.schemas import EVENT_MODELS, DeadLetter, decode_batch, decode_event
from streamtune.schemas.bounds import MAX_OBJECT_STRING_CHARS
from streamtune.schemas.json_schema import export_json_schemas
from streamtune.schemas.topics import SOURCES, catalogue, clean_topic, dlq_topic, raw_topic
from tests.support.events import VALID, payload
from tests.support.settings import make_settings

KINDS = list(EVENT_MODELS)
UNKNOWN_FIELD = "surplus_field"


@pytest.fixture(scope="module")
def schemas(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """The exported schemas by file stem (``command``, ``event``, ``dead_letter``...)."""
    directory: Path = tmp_path_factory.mktemp("schemas")
    return {p.name.removesuffix(".schema.json"): json.loads(p.read_text(encoding="utf-8"))
            for p in export_json_schemas(directory)}


def validator(schema: dict[str, Any]) -> Any:
    cls = jsonschema.Draft202012Validator
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def refusal(body: Any) -> InvalidEvent:
    with pytest.raises(InvalidEvent) as info:
        decode_event(json.dumps(body))
    return info.value


def text_fields(schema: dict[str, Any]) -> dict[str, int]:
    """Top-level free-text properties and their ``maxLength`` (uuids and times left out)."""
    found = {}
    for name, prop in schema["properties"].items():
        for branch in prop.get("anyOf", [prop]):
            if branch.get("type") == "string" and "maxLength" in branch and not (
                    "format" in branch or "const" in branch or "enum" in branch):
                found[name] = branch["maxLength"]
    return found


def object_fields(schema: dict[str, Any]) -> dict[str, int]:
    """Top-level JSON object properties (parameters, context, labels...) and the longest
    string each may hold: its values' ``maxLength``, else the bound of free-form objects."""
    found = {}
    for name, prop in schema["properties"].items():
        if prop.get("type") == "object" and "maxProperties" in prop:
            values = [*prop.get("patternProperties", {}).values()]
            found[name] = values[0]["maxLength"] if values else MAX_OBJECT_STRING_CHARS
    return found


def test_the_family_is_complete() -> None:
    """Every kind has a sample, a source and a schema; nothing is checked by omission."""
    assert KINDS, "no event kinds registered"
    assert set(VALID) == set(EVENT_MODELS)
    assert set(SOURCES) == set(EVENT_MODELS)


# -- valid samples ----------------------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
def test_a_valid_sample_decodes_as_its_kind_and_round_trips_stably(kind: str) -> None:
    body = payload(kind)
    event = decode_event(json.dumps(body))
    assert type(event) is EVENT_MODELS[kind]
    assert event.kind == kind
    dumped = event.model_dump(mode="json")
    for field, value in VALID[kind].items():  # what was sent is what was read
        assert dumped[field] == value, field
    once = event.model_dump_json()
    again = decode_event(once)
    assert again == event
    assert again.model_dump_json() == once  # a fixed point: no drift on re-encoding
    assert decode_event(once.encode()) == event  # bytes and str alike


@pytest.mark.parametrize("kind", KINDS)
def test_the_exported_schema_accepts_the_valid_sample(kind: str,
                                                      schemas: dict[str, Any]) -> None:
    body = payload(kind)
    own, anyone = validator(schemas[kind]), validator(schemas["event"])
    assert list(own.iter_errors(body)) == []
    assert list(anyone.iter_errors(body)) == []
    # and the decoder's own output too: what a consumer re-publishes stays valid
    dumped = json.loads(decode_event(json.dumps(body)).model_dump_json())
    assert own.is_valid(dumped) and anyone.is_valid(dumped)
    # the schema of one kind is not a catch-all: it refuses the sample as another kind
    other = next(k for k in KINDS if k != kind)
    assert not validator(schemas[other]).is_valid(body)


# -- refusals name the field ------------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
def test_a_missing_required_field_is_refused_naming_it(kind: str,
                                                       schemas: dict[str, Any]) -> None:
    required = schemas[kind]["required"]
    assert {"event_time", "source", "session_id"} <= set(required)
    own = validator(schemas[kind])
    for field in required:
        body = payload(kind)
        del body[field]
        exc = refusal(body)
        assert exc.category == "validation"
        assert exc.reason.startswith(f"{field}: "), (field, exc.reason)
        assert "required" in exc.reason.lower()
        assert not own.is_valid(body), field


@pytest.mark.parametrize("kind", KINDS)
def test_an_unknown_field_is_refused_naming_it(kind: str, schemas: dict[str, Any]) -> None:
    body = payload(kind, **{UNKNOWN_FIELD: "x"})
    exc = refusal(body)
    assert exc.category == "validation"
    assert exc.reason.startswith(f"{UNKNOWN_FIELD}: "), exc.reason
    assert not validator(schemas[kind]).is_valid(body)
    assert not validator(schemas["event"]).is_valid(body)


@pytest.mark.parametrize("kind", KINDS)
def test_an_oversized_text_is_refused_naming_it_and_the_bound_is_exact(
        kind: str, schemas: dict[str, Any]) -> None:
    fields = text_fields(schemas[kind])
    assert {"source", "session_id"} <= set(fields)
    own = validator(schemas[kind])
    for field, limit in fields.items():
        longest = payload(kind, **{field: "x" * limit})
        assert own.is_valid(longest), field
        assert decode_event(json.dumps(longest)).model_dump()[field] == "x" * limit
        over = payload(kind, **{field: "x" * (limit + 1)})
        exc = refusal(over)
        assert exc.category == "validation"
        assert exc.reason.startswith(f"{field}: "), (field, exc.reason)
        assert str(limit) in exc.reason
        assert "x" * 4 not in exc.reason  # the value itself is never echoed
        assert not own.is_valid(over), field


@pytest.mark.parametrize("kind", KINDS)
def test_an_oversized_string_inside_a_json_object_is_refused_naming_the_object(
        kind: str, schemas: dict[str, Any]) -> None:
    for field, limit in object_fields(schemas[kind]).items():
        fits = decode_event(json.dumps(payload(kind, **{field: {"note": "y" * limit}})))
        assert fits.model_dump()[field] == {"note": "y" * limit}
        exc = refusal(payload(kind, **{field: {"note": "y" * (limit + 1)}}))
        assert exc.category == "validation"
        assert exc.reason.startswith(f"{field}"), (field, exc.reason)
        assert "y" * 4 not in exc.reason


# -- topics and dead letters ------------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_has_a_raw_a_clean_and_a_dead_letter_topic(kind: str, tmp_path: Path) -> None:
    specs = {s.name: s for s in catalogue(make_settings(tmp_path))}
    raw, dlq, clean = raw_topic(kind), dlq_topic(raw_topic(kind)), clean_topic(kind)
    assert len({raw, dlq, clean}) == 3
    assert raw in specs and specs[raw].key == "session_id"
    assert clean in specs and specs[clean].key == "session_id"
    assert dlq in specs and raw in specs[dlq].role and "dead letter" in specs[dlq].role
    # one source per kind: no two kinds share a topic
    assert [k for k in KINDS if raw_topic(k) == raw] == [kind]


@pytest.mark.parametrize("kind", KINDS)
def test_a_refused_event_of_each_kind_becomes_a_valid_dead_letter(
        kind: str, schemas: dict[str, Any]) -> None:
    good = json.dumps(payload(kind)).encode()
    bad = json.dumps(payload(kind, **{UNKNOWN_FIELD: 1})).encode()
    events, failures = decode_batch([good, bad])
    assert [e.kind for e in events] == [kind]
    [failure] = failures
    assert (failure.index, failure.raw, failure.category) == (1, bad, "validation")
    assert failure.reason.startswith(f"{UNKNOWN_FIELD}: ")
    letter = DeadLetter.wrap(failure.raw, reason=failure.reason, category=failure.category,
                             topic=raw_topic(kind), partition=0, offset=5)
    assert letter.raw_bytes() == bad and not letter.truncated
    record = json.loads(letter.model_dump_json())
    assert validator(schemas["dead_letter"]).is_valid(record)
    assert DeadLetter.model_validate_json(letter.model_dump_json()) == letter
