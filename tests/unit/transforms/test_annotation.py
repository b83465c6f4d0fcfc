"""Rule-based annotation: producer values win, offsets slice to their text, errors classify."""

from __future__ import annotations

import random
from typing import Any
from uuid import uuid4

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamtune.schemas.commands import COMMANDS, ERROR_TYPES, render, sample_parameters
from streamtune.schemas.events import (
    CommandEvent,
    EntityTag,
    ErrorEvent,
    FeedbackEvent,
    ParameterSpan,
)
from streamtune.transforms import annotation
from streamtune.transforms.annotation import (
    ACTION_COST,
    HIDDEN_CHARACTERS,
    annotate,
    complexity,
    error_category,
    locate_parameters,
    tag_entities,
)
from streamtune.transforms.cleaning import clean_event
from streamtune.transforms.redaction import Redactor
from tests.support.events import FIXED_ENVELOPE, WHEN, fixed_command

REDACTOR = Redactor()
FILL = {"target": "pump-3", "command": "restart_device", "user": "jsmith", "role": "admin",
        "param": "rpm", "value": "9000", "limit": "[0, 3600]", "n": 7}


def command(raw: str, command_type: str = "restart_device", **fields: Any) -> CommandEvent:
    return clean_event(fixed_command(raw, command_type, **fields), redactor=REDACTOR)[0]


def error(error_type: str, message: str, **fields: Any) -> ErrorEvent:
    values: dict[str, Any] = {"failed_command": {}, "success_indicator": True, **fields}
    return ErrorEvent(error_type=error_type, error_message=message, **values, **FIXED_ENVELOPE)


def assert_offsets(event: CommandEvent) -> None:
    text = event.normalized_input
    assert text is not None
    for span in event.parameter_boundaries or []:
        assert text[span.start:span.end] == span.value
    for tag in event.entity_tags or []:
        assert text[tag.start:tag.end] == tag.text
    starts = [t.start for t in event.entity_tags or []]
    assert starts == sorted(starts)


# --- commands -------------------------------------------------------------------------------

def test_every_catalogue_phrasing_gets_valid_spans_for_every_parameter() -> None:
    rng = random.Random(5)
    for name, spec in COMMANDS.items():
        for index in range(len(spec.phrasings)):
            params = sample_parameters(spec, index, rng)
            event = annotate(command(render(spec, params, index).title(), command_type=name))
            assert_offsets(event)
            assert event.parameter_boundaries is not None and event.entity_tags is not None
            assert {s.name for s in event.parameter_boundaries} == set(params), event.raw_input
            labels = {(t.start, t.end): t.label for t in event.entity_tags}
            for span in event.parameter_boundaries:
                assert labels[(span.start, span.end)] == spec.param_index[span.name].entity
            assert event.intent_labels == [spec.category, name]
            assert event.complexity_score is not None and 0 <= event.complexity_score <= 1
            type(event).model_validate_json(event.model_dump_json())


def test_spans_follow_the_text_and_do_not_overlap() -> None:
    event = annotate(command("arm-1 goto 10,10,-5.5", command_type="move_arm"))
    assert event.parameters == {"arm": "arm-1", "x": 10.0, "y": 10.0, "z": -5.5}
    spans = [(s.name, s.start, s.end, s.value) for s in event.parameter_boundaries or []]
    assert spans == [("arm", 0, 5, "arm-1"), ("x", 11, 13, "10"), ("y", 14, 16, "10"),
                     ("z", 17, 21, "-5.5")]


def test_numbers_inside_names_are_not_parameter_values() -> None:
    spans = locate_parameters("set conveyor-3 to 3 rpm v1.3.2", {"device": "conveyor-3",
                                                                "rpm": 3, "other": 1.3})
    assert [(s.name, s.value, s.start) for s in spans] == [("device", "conveyor-3", 4),
                                                          ("rpm", "3", 18)]


def test_numbers_match_by_value_and_strings_ignore_case() -> None:
    spans = locate_parameters("heat zone-1 to 21.50 degrees", {"zone": "Zone-1",
                                                               "temperature": 21.5})
    assert [(s.name, s.value) for s in spans] == [("zone", "zone-1"), ("temperature", "21.50")]


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=60) | st.text(alphabet=st.sampled_from(list("ab1-. İ@user5m%")),
                                           max_size=40),
       value=st.text(min_size=1, max_size=6) | st.integers(-50, 50)
       | st.floats(-50, 50, allow_nan=False))
def test_offsets_slice_to_their_text_for_any_input(text: str, value: str | float) -> None:
    spans = locate_parameters(text, {"p": value, "q": "b"})
    for span in spans:
        assert text[span.start:span.end] == span.value
    for tag in tag_entities(text, "restart_device", spans):
        assert text[tag.start:tag.end] == tag.text


def test_generic_entity_tags() -> None:
    text = "frobnicate user jsmith on 10.0.0.1 and app-01 for 2 hours at 40% with v2.1.0"
    tags = tag_entities(text, "frobnicate", [])
    assert [(t.label, t.text) for t in tags] == [
        ("person", "jsmith"), ("host", "10.0.0.1"), ("host", "app-01"), ("duration", "2 hours"),
        ("quantity", "40%"), ("version", "v2.1.0")]
    for tag in tags:
        assert text[tag.start:tag.end] == tag.text


def test_parameter_tags_take_precedence_over_generic_ones() -> None:
    text = "set speed of fan-2 to 1200 rpm"
    spans = [ParameterSpan(name="rpm", start=22, end=26, value="1200")]
    tags = tag_entities(text, "set_speed", spans)
    assert [(t.label, t.text) for t in tags] == [("quantity", "1200")]
    assert tag_entities(text, "uncatalogued_thing", spans)[0].label == "rpm"


def test_uncatalogued_command() -> None:
    event = annotate(command("frobnicate pump-3 in 10m", command_type="frobnicate"))
    assert event.intent_labels == ["uncatalogued", "frobnicate"]
    assert event.parameter_boundaries == []
    assert [(t.label, t.text) for t in event.entity_tags or []] == [("duration", "10m")]


def test_complexity_grows_with_parameters_sequencing_and_schedules() -> None:
    simple = complexity("restart pump-3", {"device": "pump-3"})
    scheduled = complexity("restart pump-3 in 30m", {"device": "pump-3", "delay": "30m"})
    compound = complexity("restart pump-3 in 30m and then run diagnostics on app-01; report",
                          {"device": "pump-3", "delay": "30m"})
    assert 0 < simple < scheduled < compound <= 1
    assert simple == pytest.approx(0.1 + 0.1 + len("restart pump-3") / 400, abs=1e-3)
    assert complexity("x " * 600, {f"p{i}": i for i in range(10)}) <= 1


def test_producer_sent_command_annotations_win() -> None:
    sent: dict[str, Any] = {
        "intent_labels": ["custom"],
        "parameter_boundaries": [ParameterSpan(name="device", start=0, end=1, value="r")],
        "entity_tags": [EntityTag(label="thing", start=0, end=1, text="r")],
        "complexity_score": 0.99,
    }
    event = command("restart pump-3", **sent)
    assert annotate(event) is event
    for field in sent:
        partial = command("restart pump-3", **{field: sent[field]})
        annotated = annotate(partial)
        assert getattr(annotated, field) == sent[field]
        others = [f for f in sent if f != field]
        assert all(getattr(annotated, f) is not None for f in others)


def test_annotation_is_idempotent() -> None:
    once = annotate(command("set speed of fan-2 to 1200 rpm", command_type="set_speed"))
    assert annotate(once) is once


# --- errors ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(ERROR_TYPES))
def test_known_error_types_take_catalogue_category_and_severity(name: str) -> None:
    spec = ERROR_TYPES[name]
    for message in spec.messages:
        event = annotate(error(name, message.format(**FILL),
                               recovery_steps=list(spec.recovery_steps)))
        assert event.error_category == spec.category
        assert event.severity_level == spec.severity
        assert event.root_cause and len(event.root_cause) <= 500
        expected = min(1.0, ACTION_COST[spec.recovery_action] + 0.04 * len(spec.recovery_steps))
        assert event.recovery_complexity == pytest.approx(expected, abs=1e-3)


@pytest.mark.parametrize("name", sorted(ERROR_TYPES))
def test_keyword_rules_recover_the_category_of_every_catalogue_message(name: str) -> None:
    spec = ERROR_TYPES[name]
    for message in spec.messages:
        assert error_category("reported_failure", message.format(**FILL)) == spec.category


@pytest.mark.parametrize(("message", "category", "severity", "cause"), [
    ("connection reset by peer while talking to plc-7", "connectivity", "high",
     "device unreachable over network"),
    ("operation exceeded deadline: timed out after 30s", "execution", "medium",
     "operation exceeded its time limit"),
    ("403 forbidden for user bob", "authorization", "medium", "missing permission or role"),
    ("disk full on historian", "capacity", "high",
     "resource exhausted (disk, memory or workers)"),
    ("value 'abc' is not a valid number", "input", "low", "invalid parameter value"),
    ("bearing temperature high, hardware check needed", "hardware", "critical",
     "hardware fault on the device"),
    ("yaml parse error in recipe config", "configuration", "high",
     "invalid or incomplete configuration"),
    ("something odd happened", "unknown", "medium", "unknown"),
])
def test_uncatalogued_errors_by_keyword(message: str, category: str, severity: str,
                                        cause: str) -> None:
    event = annotate(error("vendor_error", message))
    assert (event.error_category, event.severity_level, event.root_cause) == (
        category, severity, cause)
    assert event.recovery_complexity is not None and 0 <= event.recovery_complexity <= 1


def test_hazard_words_make_any_error_critical() -> None:
    assert annotate(error("timeout", "timed out; gas leak reported")).severity_level == "critical"


def test_recovery_complexity_orders_actions_and_failure() -> None:
    retry = annotate(error("timeout", "timed out", recovery_steps=["retry"]))
    repair = annotate(error("hardware_fault", "encoder failure", recovery_steps=["a", "b"]))
    failed = annotate(error("timeout", "timed out", recovery_steps=["retry"],
                            success_indicator=False))
    assert retry.recovery_complexity is not None and repair.recovery_complexity is not None
    assert failed.recovery_complexity is not None
    assert retry.recovery_complexity < failed.recovery_complexity < repair.recovery_complexity


def test_producer_sent_error_annotations_win() -> None:
    sent = {"error_category": "vendor", "severity_level": "low", "recovery_complexity": 0.01,
            "root_cause": "cosmic rays"}
    event = error("hardware_fault", "encoder failure", **sent)
    assert annotate(event) is event
    partial = annotate(error("hardware_fault", "encoder failure", error_category="vendor"))
    assert partial.error_category == "vendor"
    assert partial.severity_level == "critical"  # still the catalogue's severity for the type
    assert partial.root_cause == "unknown"  # no rule of the producer's category


def test_other_kinds_pass_through() -> None:
    feedback = FeedbackEvent(refers_to=uuid4(), user_id="u", comment="fine", **FIXED_ENVELOPE)
    assert annotate(feedback) is feedback


def test_simulated_stream_annotates_to_valid_events() -> None:
    simulator = pytest.importorskip("streamtune.simulator")
    for event in simulator.Simulator(4, start=WHEN).events(1500):
        cleaned = annotate(clean_event(event, redactor=REDACTOR)[0])
        type(cleaned).model_validate_json(cleaned.model_dump_json())
        if isinstance(cleaned, CommandEvent) and event.parameter_boundaries is None \
                and cleaned.normalized_input is not None:
            assert_offsets(cleaned)
        if isinstance(cleaned, ErrorEvent):
            assert cleaned.error_category and cleaned.severity_level and cleaned.root_cause


# --- hidden characters ------------------------------------------------------------------------

@pytest.mark.parametrize("hidden", ["\u202e", "\u202a", "\u2066", "\u2069", "\u200b", "\u200d",
                                    "\u2060", "\ufeff"])
def test_hidden_characters_are_flagged_and_kept(hidden: str) -> None:
    raw = f"restart pump-3{hidden} now"
    event = annotate(command(raw))
    assert event.raw_input == raw
    assert event.normalized_input == "restart pump-3 now"
    assert event.intent_labels == ["equipment", "restart_device", HIDDEN_CHARACTERS]
    assert annotate(event) is event


@pytest.mark.parametrize("raw", ["restart pump-3 now", "red\u00e9marrer pompe-3 \u00e0 10h",
                                 "restart\u00a0pump-3", "restart \u202fpump-3"])
def test_visible_text_is_not_flagged(raw: str) -> None:
    assert annotate(command(raw)).intent_labels == ["equipment", "restart_device"]


def test_the_flag_is_added_to_labels_the_producer_sent() -> None:
    sent = annotate(command("stop\u2067 pump-1", intent_labels=["custom"]))
    assert sent.intent_labels == ["custom", HIDDEN_CHARACTERS]
    full = [f"label_{i}" for i in range(16)]
    event = annotate(command("stop\u200b pump-1", intent_labels=full))
    assert event.intent_labels == [*full[:15], HIDDEN_CHARACTERS]
    assert type(event).model_validate_json(event.model_dump_json()) == event


_WORDS = ["db.internal", "a.io", "user", "USER", "u\u017fer", "jsmith", "@ops", "v1.2", "30m",
          "40%", "app-01", "10.0.0.1", "\u0661\u0662m", "restart", "now", "-", "x", "K\u212a"]
_TAGGABLE = st.lists(st.tuples(st.sampled_from(_WORDS),
                               st.sampled_from([" ", ":", "=", "@", "", "."])), max_size=6).map(
    lambda pairs: "".join(word + gap for word, gap in pairs))


@given(_TAGGABLE)
@settings(max_examples=400)
def test_a_text_the_generic_tagger_skips_has_no_generic_tag(text: str) -> None:
    """The tagger scans only texts with a digit, a dot, ``@`` or ``user``: every generic
    tag needs one (Unicode digits and case folding included)."""
    if annotation._MAY_TAG.search(text) is None:
        assert list(annotation._GENERIC.finditer(text)) == []


@pytest.mark.parametrize(("text", "expected"), [
    ("notify user jsmith at db.internal in 30m",
     [("person", "jsmith"), ("host", "db.internal"), ("duration", "30m")]),
    ("restart db.internal now", [("host", "db.internal")]),
    ("page @oncall", [("person", "oncall")]),
    ("grant USER jsmith", [("person", "jsmith")]),
    ("grant u\u017fer jsmith", [("person", "jsmith")]),
    ("wait \u0661\u0662m", [("duration", "\u0661\u0662m")]),
])
def test_generic_tags_come_from_whichever_of_them_a_text_holds(
        text: str, expected: list[tuple[str, str]]) -> None:
    assert [(t.label, t.text) for t in tag_entities(text, "notify", [])] == expected
