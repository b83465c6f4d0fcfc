"""The simulator: reproducible, valid, realistic streams; drift at known indices; hostile input."""

from __future__ import annotations

import json
import math
import re
import statistics
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import pytest
from pydantic import ValidationError

from streamtune.errors import InvalidEvent
from streamtune.schemas.bounds import MAX_EVENT_BYTES
from streamtune.schemas.commands import COMMANDS, match_phrasing, validate_parameters
from streamtune.schemas.decode import decode_event
from streamtune.schemas.events import (
    CommandEvent,
    CorrectionEvent,
    ErrorEvent,
    Event,
    FeedbackEvent,
    MetricEvent,
    TraceEvent,
)
from streamtune.simulator import (
    DEFAULT_SYNONYMS,
    FUTURE_COMMANDS,
    HOSTILE_CATEGORIES,
    KIND_WEIGHTS,
    NEW_PHRASINGS,
    SQL_INJECTIONS,
    ErrorRateDrift,
    ExecutionTimeDrift,
    NewCommandTypeDrift,
    NewPhrasingsDrift,
    Scenario,
    Simulator,
    VocabularyDrift,
    hostile_payloads,
    to_jsonl,
)

START = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
N_DRIFT = 6000
AT = 2500


def _jsonl(sim: Simulator, n: int) -> list[str]:
    return list(to_jsonl(sim.events(n)))


@pytest.fixture(scope="module")
def stream() -> list[Event]:
    return list(Simulator(11, start=START).events(20_000))


@pytest.fixture(scope="module")
def baseline() -> list[str]:
    return _jsonl(Simulator(5, start=START), N_DRIFT)


def _drifted(scenario: Scenario) -> tuple[Simulator, list[Event]]:
    sim = Simulator(5, start=START, scenario=scenario)
    return sim, list(sim.events(N_DRIFT))


def _commands(events: list[Event]) -> list[CommandEvent]:
    return [e for e in events if isinstance(e, CommandEvent)]


# -- reproducibility ----------------------------------------------------------------------


def test_same_seed_and_start_give_identical_bytes() -> None:
    first = _jsonl(Simulator(42, start=START), 3000)
    assert first == _jsonl(Simulator(42, start=START), 3000)
    assert first != _jsonl(Simulator(43, start=START), 3000)
    shifted = _jsonl(Simulator(42, start=START + timedelta(hours=1)), 3000)
    assert first != shifted
    assert all(line.endswith("\n") and json.loads(line) for line in first[:50])


def test_successive_calls_continue_the_stream() -> None:
    sim = Simulator(3, start=START)
    pieces = _jsonl(sim, 700) + _jsonl(sim, 1300)
    assert sim.index == 2000
    assert pieces == _jsonl(Simulator(3, start=START), 2000)


def test_default_start_is_now_in_utc() -> None:
    before = datetime.now(UTC) - timedelta(seconds=2)
    first = next(Simulator(1).events(1))
    assert first.event_time.tzinfo is not None and first.event_time.utcoffset() == timedelta(0)
    assert before <= first.event_time <= datetime.now(UTC) + timedelta(seconds=5)


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        Simulator(1, start=datetime(2026, 1, 1))  # noqa: DTZ001
    with pytest.raises(ValueError, match="sessions"):
        Simulator(1, start=START, sessions=0)
    with pytest.raises(ValidationError):
        NewCommandTypeDrift(at=1, command_type="restart_device")
    with pytest.raises(ValidationError):
        ErrorRateDrift(at=-1, to=0.5)


# -- a stationary stream ------------------------------------------------------------------


def test_events_validate_and_round_trip(stream: list[Event]) -> None:
    for event in stream:
        assert decode_event(event.model_dump_json()) == event
    assert len({e.event_id for e in stream}) == len(stream)
    times = [e.event_time for e in stream]
    assert all(a < b for a, b in zip(times, times[1:], strict=False))
    assert times[-1] - times[0] < timedelta(hours=2)


def test_kind_proportions(stream: list[Event]) -> None:
    counts = Counter[str](e.kind for e in stream)
    total = sum(KIND_WEIGHTS.values())
    for kind, weight in KIND_WEIGHTS.items():
        share = counts[kind] / len(stream)
        assert abs(share - weight / total) < 0.01, (kind, share)


def test_commands_cover_the_catalogue(stream: list[Event]) -> None:
    commands = _commands(stream)
    types = Counter(e.command_type for e in commands)
    assert len(types) >= 20 and set(types) <= set(COMMANDS)
    failure = sum(not e.success for e in commands) / len(commands)
    assert 0.03 < failure < 0.15


def test_next_command_is_predictable_from_history(stream: list[Event]) -> None:
    sequences: dict[str, list[str]] = defaultdict(list)
    for event in _commands(stream):
        sequences[event.session_id].append(event.command_type)
    pairs = [p for seq in sequences.values() for p in zip(seq, seq[1:], strict=False)]
    half = len(pairs) // 2
    follows: dict[str, Counter[str]] = defaultdict(Counter)
    for a, b in pairs[:half]:
        follows[a][b] += 1
    overall = Counter(b for _, b in pairs[:half]).most_common(1)[0][0]
    test = pairs[half:]
    bigram = sum(bool(follows[a]) and follows[a].most_common(1)[0][0] == b for a, b in test)
    unigram = sum(b == overall for _, b in test)
    assert bigram / len(test) > unigram / len(test) + 0.05
    assert bigram / len(test) > 3 / len(COMMANDS)


def test_execution_times_depend_on_the_command(stream: list[Event]) -> None:
    by_type: dict[str, list[float]] = defaultdict(list)
    for event in _commands(stream):
        if event.success:
            by_type[event.command_type].append(event.execution_time)
    for name in ("query_status", "backup_database", "restart_device"):
        median = statistics.median(by_type[name])
        assert median == pytest.approx(COMMANDS[name].median_seconds, rel=0.25), name
    assert statistics.median(by_type["backup_database"]) > 100 * statistics.median(
        by_type["query_status"])


def test_references_point_to_earlier_commands(stream: list[Event]) -> None:
    seen: dict[UUID, CommandEvent] = {}
    checked = Counter[str]()
    for event in stream:
        if isinstance(event, CommandEvent):
            seen[event.event_id] = event
        elif isinstance(event, FeedbackEvent | CorrectionEvent):
            assert seen[event.refers_to].session_id == event.session_id
            checked[event.kind] += 1
        elif isinstance(event, TraceEvent):
            assert event.command_event_id in seen
            checked["trace"] += 1
        elif isinstance(event, ErrorEvent):
            ref = event.failed_command.get("command_event_id")
            if isinstance(ref, str):
                assert not seen[UUID(ref)].success
                checked["error"] += 1
    assert min(checked.values()) > 50


def test_error_events_describe_failed_commands(stream: list[Event]) -> None:
    commands = {str(e.event_id): e for e in _commands(stream)}
    errors = [e for e in stream if isinstance(e, ErrorEvent)]
    linked = 0
    for error in errors:
        failed = error.failed_command
        assert failed["command_type"] and isinstance(failed["parameters"], dict)
        assert error.error_message and error.recovery_steps and error.correction["action"]
        ref = failed.get("command_event_id")
        if isinstance(ref, str):
            command = commands[ref]
            assert not command.success and command.raw_input.startswith(
                str(failed["raw_input"])[:50])
            linked += 1
    assert linked > len(errors) / 4
    assert len({e.error_type for e in errors}) >= 8
    assert 0.3 < sum(e.success_indicator for e in errors) / len(errors) < 0.95


def test_corrections_and_invalid_parameters_are_consistent(stream: list[Event]) -> None:
    corrections = [e for e in stream if isinstance(e, CorrectionEvent)]
    for correction in corrections:
        assert correction.corrected_input != correction.original_input
        found = match_phrasing(correction.corrected_command_type, correction.corrected_input)
        assert found is not None and found[1] == correction.corrected_parameters
    invalid = [e for e in stream if isinstance(e, ErrorEvent)
               and e.error_type == "invalid_parameter"]
    assert len(invalid) > 20
    for error in invalid:
        failed = error.failed_command
        command_type, params = str(failed["command_type"]), failed["parameters"]
        assert isinstance(params, dict) and validate_parameters(command_type, params)
        fixed = error.correction["parameters"]
        assert isinstance(fixed, dict) and validate_parameters(command_type, fixed) == []


def test_edge_cases_appear_in_valid_events(stream: list[Event]) -> None:
    raws = [e.raw_input for e in _commands(stream)]
    assert any(not r.isascii() for r in raws)
    assert any(len(r) >= 1900 for r in raws) and max(map(len, raws)) <= 2000
    assert any(r != r.strip() or "  " in r or "\t" in r for r in raws)
    assert any(r.isupper() for r in raws)
    with_params = [e for e in _commands(stream) if any(p.required for p in
                                                       COMMANDS[e.command_type].params)]
    assert any(e.parameters == {} for e in with_params)
    typos = [e for e in _commands(stream) if e.normalized_input and e.raw_input.lower()
             != e.normalized_input.lower() and e.raw_input.isascii()
             and e.raw_input.strip() == e.raw_input and len(e.raw_input) < 200]
    assert len(typos) > 100


def test_parameter_spans_point_at_the_values(stream: list[Event]) -> None:
    spans = 0
    for event in _commands(stream):
        for span in event.parameter_boundaries or []:
            assert event.raw_input[span.start:span.end] == span.value
            if event.parameters:
                assert span.value.lower() == str(event.parameters[span.name]).lower() or \
                    isinstance(event.parameters[span.name], float)
            spans += 1
    assert spans > 1000


def test_metrics_carry_units(stream: list[Event]) -> None:
    metrics = [e for e in stream if isinstance(e, MetricEvent)]
    units = {(m.metric, m.unit) for m in metrics}
    assert ("cpu_usage", "percent") in units and ("memory_used", "bytes") in units
    assert ("disk_used", "ratio") in units and ("net_rx", "bytes_per_s") in units
    assert len({m.host for m in metrics}) >= 6
    assert all(0 <= m.value <= 100 for m in metrics if m.unit == "percent")


# -- drift ----------------------------------------------------------------------------------


def _before_identical(sim: Simulator, events: list[Event], baseline: list[str]) -> None:
    lines = list(to_jsonl(events))
    assert lines[:AT] == baseline[:AT]
    assert lines[AT] != baseline[AT]
    truth = sim.ground_truth()
    assert len(truth) == 1 and truth[0]["index"] == AT
    assert isinstance(events[AT], CommandEvent)


def test_error_rate_drift(baseline: list[str]) -> None:
    sim, events = _drifted(Scenario(error_rate=ErrorRateDrift(at=AT, to=0.45)))
    _before_identical(sim, events, baseline)
    before, after = _commands(events[:AT]), _commands(events[AT:])
    fail_before = sum(not e.success for e in before) / len(before)
    fail_after = sum(not e.success for e in after) / len(after)
    assert fail_after > fail_before + 0.2
    errors_before = sum(e.kind == "error" for e in events[:AT]) / AT
    errors_after = sum(e.kind == "error" for e in events[AT:]) / (N_DRIFT - AT)
    assert errors_after > 2 * errors_before
    assert sim.ground_truth()[0]["details"]["to"] == 0.45


def test_execution_time_drift(baseline: list[str]) -> None:
    sim, events = _drifted(Scenario(execution_time_shift=ExecutionTimeDrift(at=AT, factor=3.0)))
    _before_identical(sim, events, baseline)

    def log_ratio(part: list[Event]) -> float:
        return statistics.median(math.log(e.execution_time / COMMANDS[e.command_type].
                                          median_seconds) for e in _commands(part) if e.success)

    assert log_ratio(events[AT:]) - log_ratio(events[:AT]) == pytest.approx(math.log(3), abs=0.2)
    roots = [e for e in events[AT:] if isinstance(e, TraceEvent) and e.parent_span_id is None]
    assert roots


def test_new_command_type_drift(baseline: list[str]) -> None:
    knob = NewCommandTypeDrift(at=AT, command_type="purge_line", share=0.1)
    sim, events = _drifted(Scenario(new_command_type=knob))
    _before_identical(sim, events, baseline)
    indices = [i for i, e in enumerate(events)
               if isinstance(e, CommandEvent) and e.command_type == "purge_line"]
    assert indices[0] == AT and len(indices) > 100
    assert "purge_line" not in COMMANDS and "purge_line" in FUTURE_COMMANDS
    share = len(indices) / len(_commands(events[AT:]))
    assert 0.05 < share < 0.15
    assert sim.ground_truth()[0]["details"]["command_type"] == "purge_line"


def _unmatched(events: list[Event]) -> list[CommandEvent]:
    return [e for e in _commands(events) if e.success and e.normalized_input
            and e.command_type in COMMANDS
            and match_phrasing(e.command_type, e.normalized_input) is None]


def test_new_phrasings_drift(baseline: list[str]) -> None:
    sim, events = _drifted(Scenario(new_phrasings=NewPhrasingsDrift(at=AT, share=0.6)))
    _before_identical(sim, events, baseline)
    assert _unmatched(events[:AT]) == []
    unseen = _unmatched(events[AT:])
    assert len(unseen) > 50
    assert all(e.command_type in NEW_PHRASINGS for e in unseen)
    first = events[AT]
    assert isinstance(first, CommandEvent) and first.command_type in NEW_PHRASINGS
    assert first.normalized_input is None or match_phrasing(
        first.command_type, first.normalized_input) is None


def test_vocabulary_drift(baseline: list[str]) -> None:
    sim, events = _drifted(Scenario(vocabulary_shift=VocabularyDrift(at=AT)))
    _before_identical(sim, events, baseline)
    words = re.compile(r"\b(" + "|".join(map(re.escape, DEFAULT_SYNONYMS.values())) + r")\b")

    def shifted(part: list[Event]) -> float:
        texts = [e.normalized_input for e in _commands(part) if e.normalized_input]
        return sum(bool(words.search(t)) for t in texts) / len(texts)

    assert shifted(events[:AT]) == 0
    assert shifted(events[AT:]) > 0.5
    first = events[AT]
    assert isinstance(first, CommandEvent)
    assert first.normalized_input is None or words.search(first.normalized_input)


def test_synonyms_are_new_words() -> None:
    for spec in COMMANDS.values():
        for phrasing in spec.phrasings:
            for word in DEFAULT_SYNONYMS.values():
                assert not re.search(rf"\b{re.escape(word)}\b", phrasing), (word, phrasing)
            for new in NEW_PHRASINGS.get(spec.name, ()):
                assert new not in spec.phrasings


def test_all_knobs_together_and_ground_truth_file(tmp_path: Path, baseline: list[str]) -> None:
    scenario = Scenario.standard(N_DRIFT)
    sim = Simulator(5, start=START, scenario=scenario)
    lines = _jsonl(sim, N_DRIFT)
    truth = sim.ground_truth()
    assert [t["change"] for t in truth] == ["error_rate", "execution_time_shift",
                                            "new_phrasings", "new_command_type",
                                            "vocabulary_shift"]
    assert [t["index"] for t in truth] == sorted(t["index"] for t in truth)
    first = truth[0]["index"]
    assert lines[:first] == baseline[:first] and lines[first] != baseline[first]
    path = sim.write_ground_truth(tmp_path / "truth.json")
    assert json.loads(path.read_text(encoding="utf-8")) == truth
    assert Simulator(1, start=START).ground_truth() == []


def test_all_knobs_at_one_index(baseline: list[str]) -> None:
    sim, events = _drifted(Scenario.all_at(AT))
    lines = list(to_jsonl(events))
    assert lines[:AT] == baseline[:AT] and lines[AT] != baseline[AT]
    assert {t["index"] for t in sim.ground_truth()} == {AT}
    assert len(sim.ground_truth()) == 5
    first = events[AT]
    assert isinstance(first, CommandEvent) and first.command_type in FUTURE_COMMANDS
    words = re.compile(r"\b(" + "|".join(map(re.escape, DEFAULT_SYNONYMS.values())) + r")\b")
    assert first.normalized_input is None or words.search(first.normalized_input)


# -- hostile input ----------------------------------------------------------------------------


def test_hostile_payloads_fail_as_expected() -> None:
    payloads = hostile_payloads(7, 400, start=START)
    assert {c for _, c in payloads} == set(HOSTILE_CATEGORIES)
    assert {c for _, c in payloads[:6]} == set(HOSTILE_CATEGORIES)
    for raw, expected in payloads:
        try:
            event = decode_event(raw)
        except InvalidEvent as exc:
            assert exc.category == expected, (raw[:200], exc.reason)
        else:
            assert expected == "valid", raw[:200]
            assert isinstance(event, CommandEvent)
            assert event.raw_input in SQL_INJECTIONS
            assert json.loads(raw)["raw_input"] == event.raw_input
        if expected == "size":
            assert len(raw) > MAX_EVENT_BYTES
    assert payloads == hostile_payloads(7, 400, start=START)
    assert payloads != hostile_payloads(8, 400, start=START)
