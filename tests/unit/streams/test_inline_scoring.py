"""Inline scoring: served and shadow versions, truth when it arrives, hot swap, load failures."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamtune.config import Settings
from streamtune.models.control import Serving
from streamtune.models.registry import Registry
from streamtune.models.rollout import in_rollout
from streamtune.models.tasks.predictor import carry_parameters
from streamtune.schemas.events import (
    CommandEvent,
    CorrectionEvent,
    ErrorEvent,
    Event,
    FeedbackEvent,
)
from streamtune.schemas.predictions import PredictionRecord
from streamtune.streams.live.scoring import InlineScorer, _kept_parameters, _parameters
from streamtune.streams.live.serving import ServingTable
from tests.support.loop_models import QUICK_TRAINING, clean, simulated, train_champions
from tests.support.settings import make_settings


@dataclass
class Served:
    settings: Settings
    versions: dict[str, str]
    events: list[Event]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    settings = make_settings(tmp_path_factory.mktemp("inline"), training=QUICK_TRAINING,
                             scoring={"models": ["intent_classifier", "command_predictor",
                                                 "error_recovery"]})
    versions = train_champions(settings, clean(settings, simulated(5, 6000)))
    # commands and errors only: feedback and corrections re-emit records (own test below)
    yield Served(settings, versions, [e for e in clean(settings, simulated(6, 1500))
                                      if isinstance(e, CommandEvent | ErrorEvent)])


def _files(folder: Path) -> dict[str, Path]:
    """A version's own files (what register() takes), without its metadata and card."""
    return {p.name: p for p in folder.iterdir()
            if p.is_file() and p.name not in ("meta.json", "MODEL_CARD.md")}


def _scorer(served: Served) -> tuple[InlineScorer, ServingTable]:
    table = ServingTable(served.settings, source="w1")
    assert table.load_champions() == []
    return InlineScorer(served.settings, table, worker="w1"), table


def test_every_command_and_error_gets_one_served_answer_per_model(served: Served) -> None:
    scorer, _ = _scorer(served)
    records = scorer.score(served.events)
    commands = [e for e in served.events if isinstance(e, CommandEvent)]
    errors = [e for e in served.events if isinstance(e, ErrorEvent)]
    fresh = Counter(r["model"] for r in records if r["served"])
    assert fresh["intent_classifier"] == len(commands) > 300
    assert fresh["error_recovery"] == len(errors) > 20
    # within one batch, every command but each session's last gets its truth at once
    assert fresh["command_predictor"] == len(commands)
    for r in records:  # the wire format is the documented record
        PredictionRecord.model_validate(r)
    intent = [r for r in records if r["model"] == "intent_classifier"]
    assert all(r["version"] == served.versions["intent_classifier"] for r in intent)
    assert all(r["truth"] == r["command_type"] for r in intent)
    assert sum(r["correct"] for r in intent) / len(intent) > 0.9


def test_next_command_truth_arrives_with_the_sessions_next_command(served: Served) -> None:
    scorer, _ = _scorer(served)
    half = len(served.events) // 2
    first = scorer.score(served.events[:half])
    waiting = {r["event_id"] for r in first
               if r["model"] == "command_predictor" and r["correct"] == -1}
    assert waiting
    second = scorer.score(served.events[half:])
    resolved = [r for r in second if r["model"] == "command_predictor"
                and r["event_id"] in waiting]
    assert resolved and all(r["correct"] in (0, 1) and r["truth"] for r in resolved)
    by_session: dict[str, list[CommandEvent]] = {}
    for e in served.events:
        if isinstance(e, CommandEvent):
            by_session.setdefault(e.session_id, []).append(e)
    for r in resolved:
        session = by_session[r["session_id"]]
        index = next(i for i, e in enumerate(session) if str(e.event_id) == r["event_id"])
        assert r["truth"] == session[index + 1].command_type


def test_a_candidate_serves_its_share_of_sessions_and_shadows_the_rest(served: Served) -> None:
    settings = served.settings
    registry = Registry(settings)
    champion = served.versions["intent_classifier"]
    # a second version of the same files stands in for a retrained candidate
    model = registry.get("intent_classifier", champion)
    files = _files(model.path)
    candidate = registry.register("intent_classifier", files, dataset=model.dataset,
                                  hyperparameters={}, metrics={}, architecture={}).version
    registry.set_challenger("intent_classifier", candidate)
    scorer, table = _scorer(served)
    assert table.apply(Serving("intent_classifier", champion=champion, candidate=candidate,
                               percent=25.0)) == []
    records = [r for r in scorer.score(served.events) if r["model"] == "intent_classifier"]
    per_event = Counter(r["event_id"] for r in records)
    assert set(per_event.values()) == {2}  # both versions answer every command
    served_by = {r["event_id"]: r for r in records if r["served"]}
    assert len(served_by) == len(per_event)  # exactly one answer is used per event
    for r in served_by.values():
        expected = candidate if in_rollout(r["session_id"], 25.0, salt=candidate) else champion
        assert r["version"] == expected
        assert r["role"] == ("challenger" if expected == candidate else "champion")
    share = sum(r["version"] == candidate for r in served_by.values()) / len(served_by)
    assert 0.1 < share < 0.4


def test_a_version_that_fails_to_load_keeps_the_previous_one_and_alerts(
        served: Served, tmp_path: Path) -> None:
    registry = Registry(served.settings)
    champion = served.versions["error_recovery"]
    broken_file = tmp_path / "model.onnx"
    broken_file.write_bytes(b"not an onnx model")
    model = registry.get("error_recovery", champion)
    files = _files(model.path)
    broken = registry.register("error_recovery", {**files, "model.onnx": broken_file},
                               dataset=model.dataset, hyperparameters={}, metrics={},
                               architecture={}).version
    registry.set_challenger("error_recovery", broken)
    scorer, table = _scorer(served)
    alerts = table.apply(Serving("error_recovery", champion=champion, candidate=broken,
                                 percent=50.0))
    assert [a.signal for a in alerts] == ["model_load"] and alerts[0].severity == "critical"
    assert table.slots["error_recovery"].candidate is None
    records = [r for r in scorer.score(served.events) if r["model"] == "error_recovery"]
    assert records and {r["version"] for r in records} == {champion}


def test_a_correction_later_changes_the_truth_of_the_intent_it_refers_to(
        served: Served) -> None:
    scorer, _ = _scorer(served)
    commands = [e for e in served.events if isinstance(e, CommandEvent)][:50]
    first = {r["event_id"]: r for r in scorer.score(commands)
             if r["model"] == "intent_classifier"}
    target = commands[7]
    meant = "purge_line" if target.command_type != "purge_line" else "open_valve"
    correction = CorrectionEvent(
        event_time=target.event_time, source="ui", session_id=target.session_id,
        refers_to=target.event_id, original_input=target.raw_input,
        corrected_input="purge line-2 with argon", corrected_command_type=meant)
    feedback = FeedbackEvent(event_time=target.event_time, source="ui",
                             session_id=target.session_id, refers_to=commands[8].event_id,
                             user_id="op-1", actual_command_type=commands[8].command_type)
    later = [r for r in scorer.score([correction, feedback])
             if r["model"] == "intent_classifier"]
    by_event = {r["event_id"]: r for r in later}
    assert set(by_event) == {str(target.event_id), str(commands[8].event_id)}
    fixed = by_event[str(target.event_id)]
    assert (fixed["truth"], fixed["correct"]) == (meant, 0)  # the model said something else
    assert fixed["label"] == first[str(target.event_id)]["label"]  # same answer, new truth
    changed = {"truth", "correct", "replaces", "reemitted"}  # the rest as first published
    assert {k: v for k, v in fixed.items() if k not in changed} == {
        k: v for k, v in first[str(target.event_id)].items() if k not in changed}
    confirmed = by_event[str(commands[8].event_id)]
    assert confirmed["correct"] == first[str(commands[8].event_id)]["correct"]
    # each re-emission names the outcome it supersedes, so live counts stay one per event
    assert fixed["replaces"] == first[str(target.event_id)]["correct"]
    assert confirmed["replaces"] == confirmed["correct"]
    # and says it is one, whatever the first outcome was (-1 too: the second-opinion
    # stage must not ask about it again)
    assert fixed["reemitted"] and confirmed["reemitted"]
    assert not any(r.get("reemitted") for r in first.values())
    again = [r for r in scorer.score([correction.model_copy(update={
        "corrected_command_type": target.command_type})]) if r["model"] == "intent_classifier"]
    assert [(r["correct"], r["replaces"]) for r in again] == [(int(
        fixed["label"] == target.command_type), 0)]  # supersedes the correction, not the first


FOREIGN = ["what is the weather like in paris tomorrow", "tell me a joke about cats",
           "how many calories are in a banana", "who won the football game last night",
           "play some jazz music", "translate good morning into french"]


def test_commands_unlike_every_known_type_are_flagged_out_of_scope(served: Served) -> None:
    scorer, _ = _scorer(served)
    commands = [e for e in served.events if isinstance(e, CommandEvent)][:300]
    foreign = [c.model_copy(update={"event_id": uuid4(), "raw_input": text,
                                    "normalized_input": text})
               for c, text in zip(commands, FOREIGN, strict=False)]
    records = [r for r in scorer.score(commands + foreign)
               if r["model"] == "intent_classifier" and r["served"]]
    flagged = {r["event_id"] for r in records
               if r["outputs"]["command_type"].get("out_of_scope")}
    known = flagged & {str(c.event_id) for c in commands}
    assert len(known) <= 0.1 * len(commands)  # calibrated for 1 % of validation commands
    assert len(flagged & {str(f.event_id) for f in foreign}) >= 4, flagged - known


def test_the_predictor_reads_a_live_session_as_it_reads_dataset_rows(served: Served) -> None:
    """What the live history gives the command predictor (its last commands, kept compact)
    is what the same commands as dataset rows give it: same answer, same carried values."""
    scorer, table = _scorer(served)
    records = [r for r in scorer.score(served.events)
               if r["model"] == "command_predictor" and r["served"]]
    model = table.slots["command_predictor"].champion
    assert model is not None and len(records) > 300
    sessions: dict[str, list[CommandEvent]] = {}
    for e in served.events:
        if isinstance(e, CommandEvent):
            sessions.setdefault(e.session_id, []).append(e)
    carried = 0
    for record in records:
        session = sessions[record["session_id"]]
        index = next(i for i, e in enumerate(session) if str(e.event_id) == record["event_id"])
        rows = [{"command_type": e.command_type, "success": e.success,
                 "parameters": e.parameters, "normalized_input": e.normalized_input or ""}
                for e in session[max(0, index - 4):index + 1]]
        answer = model.scorer.predict([{"history": rows,
                                        "context": session[index].context}])[0]["next_command"]
        assert record["label"] == answer.label
        assert record["confidence"] == pytest.approx(answer.confidence, abs=1e-6)
        expected = carry_parameters(rows, answer.label)
        assert record["outputs"]["parameters"] == expected
        carried += bool(expected)
    assert carried > 0  # some predictions carry a value named earlier in the session


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8)


@given(st.dictionaries(st.text(), _JSON_VALUES, max_size=4))
def test_a_history_gives_back_the_parameters_it_kept(parameters: dict[str, Any]) -> None:
    """Kept as JSON bytes where orjson can write them, as pairs where not (integers beyond
    64 bits, lone surrogates): every value comes back equal and of its type."""
    back = _parameters(_kept_parameters(parameters))
    assert back == parameters
    assert repr(back) == repr(parameters)  # 1 stays 1 (not 1.0), -0.0 stays -0.0
