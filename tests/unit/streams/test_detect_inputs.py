"""What the detect stage reads beside clean events: the served intent header and the
resolved next-command predictions of the scored topic."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from streamtune.simulator import Scenario
from streamtune.simulator.scenario import ErrorRateDrift, ExecutionTimeDrift
from streamtune.sinks.rows import event_json
from streamtune.streams.detect.stage import resolved
from streamtune.streams.live.signals import NOTHING_SERVED, Resolved, Served, ServedIntent, Watch
from streamtune.streams.live.watched import WATCHED, watched_view
from tests.support.loop_models import clean, simulated
from tests.support.settings import make_settings

AT = datetime(2026, 12, 6, 4, 30, 12, 345678, tzinfo=UTC)


def _record(model: str, *, served: bool = True, correct: int = 1,
            outputs: dict[str, object] | None = None) -> dict[str, object]:
    return {"event_id": "e1", "event_time": AT, "model": model, "served": served,
            "correct": correct, "confidence": 0.123456789, "session_id": "s",
            "outputs": outputs or {"command_type": {"label": "x"}}}


@pytest.mark.parametrize("intent", [ServedIntent(0.123456789012, True, False),
                                    ServedIntent(1.0, False, True), ServedIntent(0.0, True, True)])
def test_a_served_intent_reads_back_from_its_header_exactly(intent: ServedIntent) -> None:
    assert ServedIntent.from_header(intent.header()) == intent


@pytest.mark.parametrize("raw", [b"", b"0.5 1", b"0.5 yes 0", b"high 1 0", b"0.5 1 0 7"])
def test_a_header_that_is_not_a_served_intent_is_refused(raw: bytes) -> None:
    with pytest.raises(ValueError):
        ServedIntent.from_header(raw)


def test_the_worker_and_the_stage_read_the_same_resolved_prediction() -> None:
    """The stage reads the scored topic's JSON; the worker the record itself."""
    record = _record("command_predictor", correct=0)
    in_worker = Served.of([record]).resolved
    assert in_worker == [Resolved(False, "e1", AT)]
    assert resolved(orjson.dumps(record)) == in_worker[0]


@pytest.mark.parametrize("record", [
    _record("intent_classifier"),                  # another model
    _record("command_predictor", correct=-1),      # its truth has not arrived
    _record("command_predictor", served=False),    # a shadow answer
])
def test_only_served_resolved_next_command_predictions_are_read(
        record: dict[str, object]) -> None:
    assert resolved(orjson.dumps(record)) is None


def test_a_scored_record_that_does_not_parse_is_left_out() -> None:
    assert resolved(b'{"model": "command_predictor", "served": tru') is None


def test_the_served_intent_carries_confidence_truth_and_out_of_scope() -> None:
    record = _record("intent_classifier", correct=0, outputs={
        "command_type": {"label": "x"}, "scope": {"label": "y", "out_of_scope": True}})
    assert Served.of([record]).intents == {"e1": ServedIntent(0.123456789, False, True)}


def test_a_watch_on_decoded_clean_records_raises_what_a_watch_on_full_events_does(
        tmp_path: Path) -> None:
    """The stage's slim decode of clean records feeds the detectors and the miner exactly
    what a worker's full events do: the same alerts, at the same events."""
    settings = make_settings(tmp_path)
    scenario = Scenario(error_rate=ErrorRateDrift(at=1500, to=0.4),
                        execution_time_shift=ExecutionTimeDrift(at=1500, factor=3.0))
    events = clean(settings, simulated(7, 4000, scenario=scenario))
    decoded = [WATCHED.validate_json(event_json(e)) for e in events
               if e.kind in ("command", "error", "metric")]
    alerts = []
    for name, stream in (("full", events), ("decoded", decoded)):
        watch = Watch(make_settings(tmp_path / name), source="w1")
        raised = []
        for first in range(0, len(stream), 500):
            raised += watch.observe(stream[first:first + 500], NOTHING_SERVED, now=0.0)
        alerts.append([(a.alert_id, a.title) for a in raised + watch.drain()])
    assert alerts[0], "the drift raised nothing: the comparison would say nothing"
    assert alerts[1] == alerts[0]


def test_a_worker_holds_of_its_events_what_the_stage_decodes_of_their_records(
        tmp_path: Path) -> None:
    """An event a worker holds for event-time order keeps only the detectors' fields: the
    very values the stage decodes from the event's clean record."""
    events = clean(make_settings(tmp_path), simulated(11, 600))
    watched = [e for e in events if e.kind in ("command", "error", "metric")]
    assert {e.kind for e in watched} == {"command", "error", "metric"}
    for event in watched:
        view = watched_view(event, str(event.event_id))
        assert view == WATCHED.validate_json(event_json(event))
        assert view is not None and view.model_dump() == WATCHED.validate_json(
            event_json(event)).model_dump()
    assert all(watched_view(e, str(e.event_id)) is None for e in events if e not in watched)
