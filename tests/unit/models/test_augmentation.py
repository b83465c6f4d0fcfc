"""Augmentation: techniques, lineage, determinism, rate, the quality gates, observed values."""

from __future__ import annotations

import dataclasses
import random
from collections import Counter
from datetime import UTC, datetime
from uuid import UUID, uuid4

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamtune.config import AugmentationSettings
from streamtune.errors import ConfigError
from streamtune.models.augmentation import (
    DEFAULT_GRAMMAR,
    TECHNIQUE_ERRORS,
    TECHNIQUES,
    TEXT_TECHNIQUES,
    AugmentedRow,
    Augmenter,
    augmented_id,
    base_of,
    dry_run,
    dry_run_violations,
    gate_batch,
    semantic_confidence,
    syntax_check,
)
from streamtune.models.augmentation.augmenter import Technique
from streamtune.models.augmentation.build import command_event
from streamtune.models.augmentation.grammar import fronted
from streamtune.models.augmentation.rows import Job
from streamtune.schemas.commands import (
    COMMANDS,
    fill_template,
    format_value,
    sample_parameters,
    validate_parameters,
)
from streamtune.schemas.events import CommandEvent, ErrorEvent
from streamtune.simulator import Simulator

START = datetime(2026, 2, 1, 6, 0, tzinfo=UTC)
ALL = AugmentationSettings().techniques
CATALOGUE = [t for t in ALL if t in TECHNIQUES]
FAMILY_KIND = {"command_variation": "command", "error_simulation": "error",
               "context_augmentation": "command", "text_variation": "command"}


@pytest.fixture(scope="module")
def stream() -> list[CommandEvent | ErrorEvent]:
    events = Simulator(21, start=START).events(1200)
    return [e for e in events if isinstance(e, CommandEvent | ErrorEvent)]


@pytest.fixture(scope="module")
def full(stream: list[CommandEvent | ErrorEvent]) -> list[AugmentedRow]:
    result = Augmenter(AugmentationSettings(rate=0.5, seed=3),
                       techniques_per_event=3).augment(stream)
    return result.rows


def _command(text: str, command_type: str, params: dict[str, object], **extra: object
             ) -> CommandEvent:
    data: dict[str, object] = {"raw_input": text, "normalized_input": text,
                               "command_type": command_type, "parameters": params,
                               "success": True, "execution_time": 1.5, "session_id": "s-1",
                               "source": "console", "event_time": START,
                               "context": {"user_id": "u-1", "host": "edge-01"}}
    return CommandEvent.model_validate(data | extra)


def _row(event: CommandEvent | ErrorEvent, technique: str) -> AugmentedRow:
    family = TECHNIQUES[technique].family
    return AugmentedRow(event.event_id, uuid4(), family, technique, event)


def _family(technique: str) -> str:
    return "text_variation" if technique in TEXT_TECHNIQUES else TECHNIQUES[technique].family


def _rows_by(rows: list[AugmentedRow]) -> dict[str, list[AugmentedRow]]:
    grouped: dict[str, list[AugmentedRow]] = {}
    for row in rows:
        grouped.setdefault(row.technique, []).append(row)
    return grouped


# -- techniques, lineage, models ----------------------------------------------------------


def test_every_technique_yields_valid_rows_with_lineage(
        stream: list[CommandEvent | ErrorEvent], full: list[AugmentedRow]) -> None:
    parents = {e.event_id: e for e in stream}
    grouped = _rows_by(full)
    assert set(CATALOGUE) <= set(grouped) <= set(ALL)
    for technique, rows in grouped.items():
        assert len(rows) >= (20 if technique in TECHNIQUES else 1), technique
        for row in rows:
            parent = parents[row.parent_event_id]
            event = row.event
            assert row.family == _family(technique)
            assert event.kind == FAMILY_KIND[row.family]
            assert type(event).model_validate(event.model_dump(mode="json")) == event
            assert event.event_id == row.augmented_id == augmented_id(parent.event_id, technique)
            assert (event.session_id, event.event_time, event.source) == (
                parent.session_id, parent.event_time, parent.source)
            marks = event.context if isinstance(event, CommandEvent) else event.failed_command
            assert marks["synthetic"] is True
            assert marks["augmentation"] == {"family": row.family, "technique": technique,
                                             "parent_event_id": str(parent.event_id)}
            assert row.semantic_confidence >= 0.9 and row.syntax_ok and row.dry_run_ok


def test_parameter_boundaries_point_at_the_values(full: list[AugmentedRow]) -> None:
    located = 0
    for row in full:
        event = row.event
        if not isinstance(event, CommandEvent) or event.parameter_boundaries is None:
            continue
        located += 1
        assert {b.name for b in event.parameter_boundaries} == set(event.parameters)
        for span in event.parameter_boundaries:
            value = event.parameters[span.name]
            assert isinstance(value, int | float | str)
            assert event.raw_input[span.start:span.end].lower() == format_value(value).lower()
    assert located > 0.9 * sum(r.event.kind == "command" for r in full)


def test_error_parents_only_get_error_simulation(full: list[AugmentedRow],
                                                 stream: list[CommandEvent | ErrorEvent]) -> None:
    errors = {e.event_id for e in stream if isinstance(e, ErrorEvent)}
    from_errors = [r for r in full if r.parent_event_id in errors]
    assert len(from_errors) > 50
    assert {r.family for r in from_errors} == {"error_simulation"}


def test_command_variation_keeps_command_and_changes_text(
        stream: list[CommandEvent | ErrorEvent], full: list[AugmentedRow]) -> None:
    parents = {e.event_id: e for e in stream}
    for row in full:
        if row.family != "command_variation":
            continue
        parent, event = parents[row.parent_event_id], row.event
        assert isinstance(event, CommandEvent) and isinstance(parent, CommandEvent)
        base = base_of(parent, DEFAULT_GRAMMAR)
        assert base is not None and event.command_type == parent.command_type
        assert not validate_parameters(event.command_type, event.parameters)
        assert event.raw_input != base.text
        if row.technique == "parameter_substitution":
            changed = [k for k in event.parameters if event.parameters[k] != base.params[k]]
            assert len(changed) == 1
        else:
            assert event.parameters == base.params


def test_error_rows_claim_their_techniques_errors(full: list[AugmentedRow]) -> None:
    seen: Counter[str] = Counter()
    for row in full:
        if row.family != "error_simulation":
            continue
        event = row.event
        assert isinstance(event, ErrorEvent)
        assert event.error_type in TECHNIQUE_ERRORS[row.technique]
        seen[event.error_type] += 1
        failed, fixed = event.failed_command, event.correction
        problems = validate_parameters(str(failed["command_type"]), failed["parameters"])
        assert bool(problems) == (event.error_type == "invalid_parameter")
        assert not validate_parameters(str(fixed["command_type"]), fixed["parameters"])
        inner = failed["context"]
        assert isinstance(inner, dict)
        if row.technique == "resource_constraints":
            figures = inner["resources"]
            assert isinstance(figures, dict) and {"memory_used_pct", "cpu_pct"} <= set(figures)
    assert set(seen) == {e for errors in TECHNIQUE_ERRORS.values() for e in errors}


def test_context_rows_add_their_context(stream: list[CommandEvent | ErrorEvent],
                                        full: list[AugmentedRow]) -> None:
    parents = {e.event_id: e for e in stream}
    key = {"state_variation": "device_state", "history_modification": "history",
           "preference_alteration": "preferences", "load_simulation": "system_load"}
    for row in full:
        if row.family != "context_augmentation":
            continue
        parent, event = parents[row.parent_event_id], row.event
        assert isinstance(event, CommandEvent) and isinstance(parent, CommandEvent)
        assert key[row.technique] in event.context and key[row.technique] not in parent.context
        if row.technique == "load_simulation":
            assert event.execution_time >= parent.execution_time
        else:
            assert event.execution_time == parent.execution_time


def test_unknown_technique_and_bad_synonyms_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="paraphrase_llm"):
        Augmenter(AugmentationSettings(techniques=["synonym_replacement", "paraphrase_llm"]))
    with pytest.raises(ConfigError):
        Augmenter(AugmentationSettings(synonyms={"restart": ["stop"]}))  # stop has a group
    with pytest.raises(ConfigError):
        Augmenter(AugmentationSettings(synonyms={"mode": ["maintenance"]}))  # an enum value
    with pytest.raises(ConfigError):
        Augmenter(AugmentationSettings(), techniques_per_event=0)


def test_settings_synonyms_extend_the_table() -> None:
    settings_ = AugmentationSettings(rate=1.0, techniques=["synonym_replacement"],
                                     synonyms={"restart": ["hard reset"]})
    augmenter = Augmenter(settings_, techniques_per_event=1)
    assert "hard reset" in augmenter.grammar.groups["restart"]
    assert augmenter.grammar.parse("restart_device", "hard reset pump-3") is not None
    assert DEFAULT_GRAMMAR.parse("restart_device", "hard reset pump-3") is None
    events = [_command("restart pump-3", "restart_device", {"device": "pump-3"})
              for _ in range(60)]
    texts = {r.event.raw_input for r in augmenter.augment(events).rows}
    assert "hard reset pump-3" in texts


def test_synthetic_events_are_not_augmented_again(full: list[AugmentedRow]) -> None:
    synthetic = [r.event for r in full[:200]]
    assert all(base_of(e, DEFAULT_GRAMMAR) is None for e in synthetic)
    result = Augmenter(AugmentationSettings(rate=1.0)).augment(synthetic)
    assert len(result.selected) == 200 and result.rows == [] and result.rejected == []


def test_a_full_parent_context_does_not_break_augmentation() -> None:
    crowded = {f"k{i}": i for i in range(64)}
    event = _command("restart pump-3", "restart_device", {"device": "pump-3"},
                     context=crowded)
    result = Augmenter(AugmentationSettings(rate=1.0), techniques_per_event=12).augment([event])
    assert result.selected == [event.event_id]
    assert result.rows == []  # no technique can add keys to a context at its bound


def test_disabled_augmenter_does_nothing(stream: list[CommandEvent | ErrorEvent]) -> None:
    result = Augmenter(AugmentationSettings(enabled=False, rate=1.0)).augment(stream)
    assert result.rows == [] and result.rejected == []


# -- grammar ------------------------------------------------------------------------------


def test_every_phrasing_parses_as_its_own_command_only() -> None:
    rng = random.Random(5)
    for name, spec in COMMANDS.items():
        for index, template in enumerate(spec.phrasings):
            for variant in (template, fronted(template)):
                if variant is None:
                    continue
                params = sample_parameters(spec, index, rng)
                text = fill_template(spec, variant, params)[0]
                expected = {k: format_value(v).lower() for k, v in params.items()}
                found = DEFAULT_GRAMMAR.parse(name, text.upper(), expected)
                assert found is not None, text
                assert {k: v.lower() for k, v in found[1].items()} == expected
                assert DEFAULT_GRAMMAR.parses_as_other(name, text) is None, text


def test_synonyms_never_rewrite_parameter_values() -> None:
    grammar = DEFAULT_GRAMMAR
    assert grammar.canonical("Could you please REBOOT pump-3 now?") == "restart pump-3"
    assert grammar.canonical("set pump-3 to maintenance mode") == "set pump-3 to maintenance mode"
    assert grammar.canonical("check service-reboot.cycle") == "check service-reboot.cycle"


# -- determinism and rate -----------------------------------------------------------------


def _records(rows: list[AugmentedRow]) -> list[dict[str, object]]:
    return [r.record() for r in rows]


def test_same_input_twice_gives_identical_rows(stream: list[CommandEvent | ErrorEvent]) -> None:
    settings_ = AugmentationSettings(rate=0.3, seed=9)
    first = Augmenter(settings_).augment(stream)
    replayed = Augmenter(settings_)
    again = replayed.augment(stream)
    assert _records(first.rows) == _records(again.rows) and first.rows
    assert _records(replayed.augment(stream).rows) == _records(first.rows)  # a Kafka replay
    assert first.qc == again.qc


def test_selection_depends_on_event_not_on_order(stream: list[CommandEvent | ErrorEvent]) -> None:
    settings_ = AugmentationSettings(rate=0.3, seed=9, techniques=[  # not those using examples
        t for t in CATALOGUE if t != "parameter_substitution"])
    shuffled = list(stream)
    random.Random(1).shuffle(shuffled)
    forward = Augmenter(settings_).augment(stream)
    backward = Augmenter(settings_).augment(shuffled)
    key = {r.augmented_id: r.record() for r in forward.rows}
    assert key == {r.augmented_id: r.record() for r in backward.rows}
    half = Augmenter(settings_).augment(stream[: len(stream) // 2])
    assert all(key[r.augmented_id] == r.record() for r in half.rows)


def test_different_seed_selects_differently(stream: list[CommandEvent | ErrorEvent]) -> None:
    a = Augmenter(AugmentationSettings(rate=0.3, seed=1)).augment(stream)
    b = Augmenter(AugmentationSettings(rate=0.3, seed=2)).augment(stream)
    overlap = len(set(a.selected) & set(b.selected)) / len(a.selected)
    assert overlap < 0.5  # independent draws overlap by about the rate


@settings(max_examples=25, deadline=None)
@given(rate=st.floats(0.05, 0.95), seed=st.integers(0, 10_000))
def test_rate_is_honoured(rate: float, seed: int) -> None:
    ids = [UUID(int=random.Random(i).getrandbits(128), version=4) for i in range(3000)]
    augmenter = Augmenter(AugmentationSettings(rate=rate, seed=seed))
    share = sum(augmenter.selects(i) for i in ids) / len(ids)
    assert abs(share - rate) < 0.04


def test_selected_share_and_yield_in_a_batch(stream: list[CommandEvent | ErrorEvent]) -> None:
    augmenter = Augmenter(AugmentationSettings(rate=0.2, seed=4), techniques_per_event=2)
    result = augmenter.augment(stream)
    assert result.candidates == len(stream)
    assert abs(len(result.selected) / result.candidates - 0.2) < 0.04
    assert set(result.selected) == {e.event_id for e in stream if augmenter.selects(e.event_id)}
    parents = Counter(r.parent_event_id for r in result.rows)
    assert set(parents) <= set(result.selected)
    assert max(parents.values()) <= 2
    assert len(parents) >= 0.9 * len(result.selected)  # nearly every selected event is clean


# -- gate 1: semantic ---------------------------------------------------------------------


def test_semantic_gate_rules() -> None:
    good = _command("reboot pump-3", "restart_device", {"device": "pump-3"})
    assert semantic_confidence(_row(good, "synonym_replacement")) == 1.0
    other = _command("stop pump-3", "start_pump", {"pump": "pump-3"})
    assert semantic_confidence(_row(other, "synonym_replacement")) == 0.0
    shares_a_keyword = _command("turn off pump-3", "start_pump", {"pump": "pump-3"})
    assert semantic_confidence(_row(shares_a_keyword, "synonym_replacement")) == 0.0
    wrong_value = _command("restart pump-4", "restart_device", {"device": "pump-3"})
    assert semantic_confidence(_row(wrong_value, "synonym_replacement")) == 0.0
    keyword_only = _command("restart pump-3 soon", "restart_device", {"device": "pump-3"})
    assert semantic_confidence(_row(keyword_only, "synonym_replacement")) == 0.5
    wrong_type = _command("set speed of fan-1 to 300 rpm", "set_speed",
                          {"device": "fan-1", "rpm": "300"})
    assert semantic_confidence(_row(wrong_type, "synonym_replacement")) == 0.5
    as_error_family = _row(good, "timing_issues")
    assert semantic_confidence(as_error_family) == 0.0
    no_evidence = _row(good, "load_simulation")
    assert semantic_confidence(no_evidence) == 0.0


def test_semantic_gate_checks_error_claims(full: list[AugmentedRow]) -> None:
    row = next(r for r in full if r.technique == "timing_issues")
    event = row.event
    assert isinstance(event, ErrorEvent) and semantic_confidence(row) == 1.0
    claimed_elsewhere = dataclasses.replace(row, technique="resource_constraints")
    assert semantic_confidence(claimed_elsewhere) == pytest.approx(2 / 3)
    no_context = dataclasses.replace(row, event=event.model_copy(update={
        "failed_command": {**event.failed_command, "context": {}}}))
    assert semantic_confidence(no_context) == pytest.approx(2 / 3)


def _other_command_text(job: Job) -> CommandEvent | None:
    """Text of the next catalogue command, labelled with the parent's command."""
    names = list(COMMANDS)
    other = COMMANDS[names[(names.index(job.base.spec.name) + 1) % len(names)]]
    index = next(i for i, t in enumerate(other.phrasings) if "{" in t)
    text = fill_template(other, other.phrasings[index],
                         sample_parameters(other, index, job.rng))[0]
    return command_event(job, text, dict(job.base.params))


def test_technique_producing_another_command_is_rejected(
        monkeypatch: pytest.MonkeyPatch, stream: list[CommandEvent | ErrorEvent]) -> None:
    monkeypatch.setitem(TECHNIQUES, "synonym_replacement",
                        Technique("command_variation", _other_command_text))
    result = Augmenter(AugmentationSettings(rate=0.5, techniques=["synonym_replacement",
                                                                  "state_variation"]),
                       techniques_per_event=2).augment(stream)
    qc = {q.technique: q for q in result.qc}
    bad = qc["synonym_replacement"]
    assert bad.generated > 50 and bad.semantic_passed == 0 and bad.accepted == 0
    gates = Counter(g for r, g in result.rejected if r.technique == "synonym_replacement")
    assert gates == {"semantic": bad.generated}
    assert qc["state_variation"].accepted == qc["state_variation"].generated > 50


# -- gate 2: syntax -----------------------------------------------------------------------


def test_syntax_gate_rules() -> None:
    clean = _command("could you please REBOOT pump-3 now?", "restart_device",
                     {"device": "pump-3"})
    assert syntax_check(_row(clean, "style_transformation"), 0.01)
    glued = _command("heat zone-1 to 80C", "set_temperature",
                     {"zone": "zone-1", "temperature": 80.0})
    assert syntax_check(_row(glued, "style_transformation"), 0.01)
    garbage = _command("restart pump-3 flibbertigibbet", "restart_device",
                       {"device": "pump-3"})
    assert not syntax_check(_row(garbage, "style_transformation"), 0.01)
    assert syntax_check(_row(garbage, "style_transformation"), 0.34)  # 1 of 3 chunks
    stutter = _command("restart restart pump-3", "restart_device", {"device": "pump-3"})
    assert not syntax_check(_row(stutter, "style_transformation"), 0.01)
    undeclared = _command("restart pump-3", "restart_device", {"device": "pump-4"})
    assert not syntax_check(_row(undeclared, "style_transformation"), 0.01)


_NONSENSE = st.text(alphabet="qxzjvkw", min_size=4, max_size=10).filter(
    lambda w: w not in DEFAULT_GRAMMAR.vocabulary)


@settings(max_examples=50, deadline=None)
@given(word=_NONSENSE, where=st.integers(0, 3))
def test_garbage_tokens_fail_the_syntax_gate(word: str, where: int) -> None:
    words = ["start", "pump-2", "at", "12", "l/min"]
    words.insert(min(where, len(words)), word)
    event = _command(" ".join(words), "start_pump", {"pump": "pump-2", "flow": 12.0})
    assert not syntax_check(_row(event, "word_order_shuffle"), 0.01)


# -- gate 3 and 4: dry run and batch ------------------------------------------------------


def test_dry_run_rules(full: list[AugmentedRow]) -> None:
    fine = _command("set speed of fan-1 to 300 rpm", "set_speed", {"device": "fan-1", "rpm": 300})
    assert dry_run(_row(fine, "synonym_replacement"))
    too_fast = _command("set speed of fan-1 to 9000 rpm", "set_speed",
                        {"device": "fan-1", "rpm": 9000})
    assert dry_run_violations(_row(too_fast, "synonym_replacement")) == [
        "rpm: 9000 is above the maximum 3600"]
    corrupted = next(r for r in full if r.technique == "parameter_corruption")
    event = corrupted.event
    assert isinstance(event, ErrorEvent) and dry_run(corrupted)
    repaired = event.model_copy(update={"failed_command": {
        **event.failed_command, "parameters": event.correction["parameters"]}})
    assert not dry_run(dataclasses.replace(corrupted, event=repaired))  # claims a bad value
    timing = next(r for r in full if r.technique == "timing_issues")
    timed_out = timing.event
    assert isinstance(timed_out, ErrorEvent) and dry_run(timing)
    spoiled = timed_out.model_copy(update={"failed_command": {
        **timed_out.failed_command, "parameters": event.failed_command["parameters"],
        "command_type": event.failed_command["command_type"]}})
    assert not dry_run(dataclasses.replace(timing, event=spoiled))  # invalid but "timeout"


def _speed_rows(bad: int, total: int = 40) -> list[AugmentedRow]:
    rows = []
    for i in range(total):
        rpm = 9000 if i < bad else 100 + i
        event = _command(f"run fan-2 at {rpm} rpm", "set_speed", {"device": "fan-2", "rpm": rpm})
        row = _row(event, "word_order_shuffle")
        rows.append(dataclasses.replace(row, semantic_confidence=semantic_confidence(row),
                                        syntax_ok=syntax_check(row, 0.01), dry_run_ok=dry_run(row)))
    return rows


@pytest.mark.parametrize(("bad", "rejected"), [(0, False), (2, False), (3, True), (40, True)])
def test_batch_rejected_below_min_success_rate(bad: int, rejected: bool) -> None:
    settings_ = AugmentationSettings()
    qc, accepted, dropped = gate_batch("word_order_shuffle", _speed_rows(bad), settings_)
    assert qc.generated == 40 and qc.dry_run_passed == 40 - bad
    assert qc.semantic_passed == qc.syntax_passed == 40
    assert qc.batch_rejected is rejected
    if rejected:
        assert accepted == [] and qc.accepted == 0 and qc.acceptance_rate == 0.0
        assert Counter(g for _, g in dropped) == +Counter({"dry_run": bad, "batch": 40 - bad})
    else:
        assert len(accepted) == qc.accepted == 40 - bad
        assert [g for _, g in dropped] == ["dry_run"] * bad
    assert qc.dry_run_rate == pytest.approx((40 - bad) / 40)


def _overspeed(job: Job) -> CommandEvent | None:
    params = dict(job.base.params)
    if job.base.parent.event_id.int % 10 == 0:
        params["rpm"] = 9000
    return command_event(job, f"run {params['device']} at {params['rpm']} rpm", params)


def test_augmenter_rejects_a_whole_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(TECHNIQUES, "word_order_shuffle",
                        Technique("command_variation", _overspeed))
    events = [_command(f"set speed of fan-1 to {100 + i} rpm", "set_speed",
                       {"device": "fan-1", "rpm": 100 + i}, event_id=UUID(int=i + 1, version=4))
              for i in range(100)]
    broken = sum(e.event_id.int % 10 == 0 for e in events)
    assert 5 < broken < 100
    result = Augmenter(AugmentationSettings(rate=1.0, techniques=["word_order_shuffle"]),
                       techniques_per_event=1).augment(events)
    (qc,) = result.qc
    assert qc.generated == 100 and qc.dry_run_passed == 100 - broken and qc.batch_rejected
    assert result.rows == [] and len(result.rejected) == 100


# -- observed values ----------------------------------------------------------------------


def test_parameter_substitution_uses_observed_values(
        stream: list[CommandEvent | ErrorEvent]) -> None:
    augmenter = Augmenter(AugmentationSettings(rate=1.0, techniques=["parameter_substitution"]),
                          techniques_per_event=1)
    planted = [f"zz-{i}" for i in range(30)]
    for device in planted:
        augmenter.observe(_command(f"restart {device}", "restart_device", {"device": device}))
    augmenter.observe(_command("restart 9bad", "restart_device", {"device": "9bad"}))  # invalid
    assert augmenter.observed("restart_device", "device") == sorted(planted)
    restarts = [e for e in stream if isinstance(e, CommandEvent)
                and e.command_type == "restart_device"]
    rows = augmenter.augment(restarts, observe=False).rows
    devices = [r.event.parameters["device"] for r in rows if isinstance(r.event, CommandEvent)
               and r.event.parameters["device"] not in {
                   p.parameters.get("device") for p in restarts}]
    assert len(devices) > 10 and set(devices) <= set(planted)
    delays = COMMANDS["restart_device"].param_index["delay"].examples
    for row in rows:
        assert isinstance(row.event, CommandEvent)
        assert row.event.parameters.get("delay", "30s") in delays  # catalogue fallback


def test_parameter_substitution_observes_the_batch(
        stream: list[CommandEvent | ErrorEvent]) -> None:
    augmenter = Augmenter(AugmentationSettings(rate=1.0, techniques=["parameter_substitution"]),
                          techniques_per_event=1)
    result = augmenter.augment(stream)
    parents = {e.event_id: e for e in stream}
    from_observed = 0
    for row in result.rows:
        event, base = row.event, base_of(parents[row.parent_event_id], DEFAULT_GRAMMAR)
        assert isinstance(event, CommandEvent) and base is not None
        (name,) = [k for k, v in event.parameters.items() if v != base.params[k]]
        seen = augmenter.observed(event.command_type, name)
        if any(format_value(v) != format_value(base.params[name]) for v in seen):
            assert event.parameters[name] in seen
            from_observed += 1
    assert from_observed > 0.9 * len(result.rows) > 100
