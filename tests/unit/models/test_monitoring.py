"""Continuous evaluation: live accuracy buckets, hourly verdicts, the z-test, reviews, schedule."""

from __future__ import annotations

import csv
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from streamtune.config import LoopSettings
from streamtune.errors import ModelNotFound
from streamtune.models.monitoring import (
    COLUMNS,
    LiveAccuracy,
    ReviewSampler,
    Schedule,
    daily_rows,
    daily_suite,
    hourly_evaluation,
    import_reviews,
    summarise,
)
from streamtune.models.rollout.stats import normal_sf, two_proportion_z
from streamtune.schemas.predictions import PredictionRecord
from tests.support.settings import make_settings

T0 = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
LOOP = LoopSettings()
MODEL = "intent_classifier"


def record(i: int, *, at: datetime, correct: int = 1, version: str = "v1", served: bool = True,
           kind: str = "command", model: str = MODEL, text: str = "") -> PredictionRecord:
    return PredictionRecord(
        event_id=str(uuid.UUID(int=i)), session_id="s1", event_time=at, kind=kind,
        input=text or f"start pump-{i}", model=model, version=version,
        role="champion" if served else "shadow", served=served, label="start_pump",
        confidence=0.91, correct=correct)


def feed(live: LiveAccuracy, hour: datetime, right: int, total: int, version: str = "v1") -> None:
    """``total`` labelled served events in ``hour`` (ids of their own), the first ``right``
    of them correct."""
    first = int(hour.timestamp()) * 10_000
    for i in range(total):
        live.observe(record(first + i, at=hour + timedelta(seconds=i), correct=int(i < right),
                            version=version))


# --- live accuracy -------------------------------------------------------------------------

def test_live_accuracy_counts_served_labelled_events_per_hour_and_version() -> None:
    live = LiveAccuracy()
    assert live.observe(record(1, at=T0 + timedelta(minutes=5)))
    assert live.observe(record(2, at=T0 + timedelta(minutes=59), correct=0))
    assert live.observe(record(3, at=T0 + timedelta(hours=1, minutes=1), version="v2"))
    assert not live.observe(record(4, at=T0, served=False))      # shadow answer
    assert not live.observe(record(5, at=T0, correct=-1))        # truth not known yet
    assert live.accuracy(MODEL, since=T0, until=T0 + timedelta(hours=1)) == (1, 2)
    assert live.accuracy(MODEL, since=T0, until=T0 + timedelta(hours=2)) == (2, 3)
    assert live.accuracy(MODEL, since=T0, until=T0 + timedelta(hours=2), version="v2") == (1, 1)
    assert live.accuracy("other", since=T0, until=T0 + timedelta(hours=2)) == (0, 0)
    # an hour counts when its start lies in [since, until)
    assert live.accuracy(MODEL, since=T0 + timedelta(minutes=1),
                         until=T0 + timedelta(hours=2)) == (1, 1)
    assert live.timeline(MODEL) == [(T0, "v1", 1, 2), (T0 + timedelta(hours=1), "v2", 1, 1)]


def test_a_re_emitted_outcome_corrects_its_count_instead_of_adding_one() -> None:
    live = LiveAccuracy()
    live.observe(record(1, at=T0, correct=1))
    live.observe(record(2, at=T0, correct=1))
    fixed = record(1, at=T0, correct=0).model_copy(update={"replaces": 1})  # user: wrong
    assert live.observe(fixed)
    assert live.accuracy(MODEL, since=T0, until=T0 + HOUR) == (1, 2)
    late = record(3, at=T0 + 3 * HOUR, correct=0).model_copy(update={"replaces": 1})
    assert not live.observe(late)  # its first outcome was never counted here
    assert live.accuracy(MODEL, since=T0, until=T0 + 4 * HOUR) == (1, 2)


def test_a_replayed_record_counts_once_even_after_a_restart() -> None:
    live = LiveAccuracy(remember=2)
    assert live.observe(record(1, at=T0, correct=1))
    assert not live.observe(record(1, at=T0, correct=1))  # the worker replayed its batch
    again = LiveAccuracy.restore(json.loads(json.dumps(live.state())))
    assert not again.observe(record(1, at=T0, correct=1))  # re-read after a trainer restart
    assert again.observe(record(1, at=T0, correct=0))  # a later correction still counts
    assert again.accuracy(MODEL, since=T0, until=T0 + HOUR) == (0, 1)
    assert again.observe(record(2, at=T0)) and again.observe(record(3, at=T0))
    assert again.observe(record(1, at=T0, correct=1))  # forgotten (remember=2): counted again
    assert again.accuracy(MODEL, since=T0, until=T0 + HOUR)[1] == 4


def test_a_state_saved_before_any_record_restores_empty() -> None:
    again = LiveAccuracy.restore(json.loads(json.dumps(LiveAccuracy().state())))
    assert again.observe(record(1, at=T0))  # e.g. a trainer restarted before any traffic
    assert again.accuracy(MODEL, since=T0, until=T0 + HOUR) == (1, 1)


def test_live_accuracy_keeps_seven_days_and_round_trips_its_state() -> None:
    live = LiveAccuracy()
    live.observe(record(1, at=T0))
    live.observe(record(2, at=T0 + timedelta(days=7)))           # exactly 7 days: kept
    assert [h for h, *_ in live.timeline(MODEL)] == [T0, T0 + timedelta(days=7)]
    live.observe(record(3, at=T0 + timedelta(days=7, hours=1)))  # T0 is now 7 days + 1 h old
    assert [h for h, *_ in live.timeline(MODEL)] == [T0 + timedelta(days=7),
                                                      T0 + timedelta(days=7, hours=1)]
    assert not live.observe(record(4, at=T0))                    # too late to count
    again = LiveAccuracy.restore(json.loads(json.dumps(live.state())))
    assert again.timeline(MODEL) == live.timeline(MODEL)
    with pytest.raises(ValueError, match="not a LiveAccuracy state"):
        LiveAccuracy.restore({"retention_s": 3600, "buckets": [[MODEL, "v1", "yesterday", 1, 1]]})
    with pytest.raises(ValueError, match="no time zone"):
        live.observe(record(5, at=datetime(2026, 3, 9, 1)))  # noqa: DTZ001 - the bad input


# --- hourly evaluation ---------------------------------------------------------------------

def history(hour_right: int, hour_total: int, base_right: int = 97,
            base_total: int = 100) -> LiveAccuracy:
    """24 hours of ``base_right``/``base_total`` per hour, then the hour under evaluation."""
    live = LiveAccuracy()
    for h in range(24):
        feed(live, T0 + timedelta(hours=h), base_right, base_total)
    feed(live, T0 + timedelta(hours=24), hour_right, hour_total)
    return live


NOW = T0 + timedelta(hours=25, minutes=3)  # the last complete hour starts at T0 + 24 h


def test_hourly_evaluation_passes_at_097() -> None:
    result = hourly_evaluation(history(97, 100), MODEL, "v1", now=NOW, loop=LOOP)
    assert (result.status, result.regressed, result.correct, result.events) == (
        "passed", False, 97, 100)
    assert (result.baseline_correct, result.baseline_events) == (24 * 97, 2400)
    assert result.to_alert("trainer") is None
    hour = (T0 + timedelta(hours=24)).isoformat()
    accuracy, baseline = result.to_rows()
    assert accuracy == {
        "evaluation_id": f"{MODEL}/v1/hourly/{hour}", "time": hour, "schedule": "hourly",
        "model": MODEL, "version": "v1", "metric": "accuracy", "value": 0.97,
        "threshold": 0.95, "passed": True, "events": 100, "details": result.details()}
    assert (baseline["metric"], baseline["value"], baseline["passed"], baseline["events"]) == (
        "baseline", 0.97, True, 2400)
    assert baseline["evaluation_id"] == accuracy["evaluation_id"]


def test_hourly_evaluation_below_threshold_without_regression_warns() -> None:
    result = hourly_evaluation(history(90, 100, base_right=90), MODEL, "v1", now=NOW, loop=LOOP)
    assert (result.status, result.regressed) == ("failed", False)
    assert result.to_rows()[0]["passed"] is False
    alert = result.to_alert("trainer")
    assert alert is not None
    assert (alert.kind, alert.severity, alert.model, alert.version) == (
        "regression", "warning", MODEL, "v1")
    assert "0.900 below 0.950" in alert.title


def test_hourly_evaluation_flags_a_significant_drop_from_097_to_085() -> None:
    result = hourly_evaluation(history(170, 200), MODEL, "v1", now=NOW, loop=LOOP)
    assert result.status == "failed" and result.regressed
    assert result.drop == pytest.approx(0.12)
    assert result.p_value is not None and result.p_value < 1e-6
    alert = result.to_alert("trainer")
    assert alert is not None and alert.severity == "critical"
    assert alert.details["baseline_accuracy"] == pytest.approx(0.97)
    assert alert.raised_at == NOW and alert.source == "trainer"
    again = hourly_evaluation(history(170, 200), MODEL, "v1", now=NOW + timedelta(minutes=30),
                              loop=LOOP).to_alert("trainer")
    assert again is not None and again.alert_id == alert.alert_id  # same hour, same alert


def test_hourly_evaluation_does_not_judge_too_few_events() -> None:
    result = hourly_evaluation(history(17, 20), MODEL, "v1", now=NOW, loop=LOOP)  # 0.85
    assert (result.status, result.regressed) == ("insufficient", False)
    assert result.to_alert("trainer") is None
    assert result.to_rows()[0]["passed"] is False
    empty = hourly_evaluation(LiveAccuracy(), MODEL, "v1", now=NOW, loop=LOOP)
    assert (empty.status, empty.accuracy, empty.z, empty.to_rows()[0]["value"]) == (
        "insufficient", None, None, 0.0)


def test_a_dip_within_noise_or_below_two_points_is_not_a_regression() -> None:
    # 0.97 -> 0.94 over 50 events: 3 points down but one-sided p = 0.11 (z = 1.22)
    noisy = hourly_evaluation(history(47, 50), MODEL, "v1", now=NOW, loop=LOOP)
    assert noisy.status == "failed" and not noisy.regressed
    assert noisy.p_value == pytest.approx(0.111, abs=1e-3)
    # 0.97 -> 0.954 over 2400 events: significant (p = 0.002) but only 1.6 points down
    small = history(2290, 2400)
    assert not hourly_evaluation(small, MODEL, "v1", now=NOW, loop=LOOP).regressed
    assert hourly_evaluation(small, MODEL, "v1", now=NOW, loop=LOOP, min_drop=0.01).regressed


# --- the z-test ----------------------------------------------------------------------------

def test_two_proportion_z_matches_a_textbook_example() -> None:
    # Stat Trek, "Hypothesis test: difference between proportions", the Acme Drug example:
    # 38 of 100 women and 102 of 200 men caught a cold. Pooled p = 140/300 = 0.4667,
    # SE = sqrt(0.4667 * 0.5333 * (1/100 + 1/200)) = 0.0611, z = (0.38 - 0.51) / 0.0611 = -2.13;
    # one tail P(Z < -2.13) = 0.0166 from the normal table (two-tailed 0.033).
    # (the hourly evaluation's one-sided p of a drop is normal_sf of this z)
    assert two_proportion_z(38, 100, 102, 200).statistic == pytest.approx(-2.13, abs=0.005)
    z = two_proportion_z(102, 200, 38, 100).statistic  # a drop from 0.51 to 0.38
    assert z == pytest.approx(2.13, abs=0.005)
    assert normal_sf(z) == pytest.approx(0.0166, abs=5e-4)
    flat = two_proportion_z(50, 50, 20, 20).statistic  # no variance, no evidence
    assert (flat, normal_sf(flat)) == (0.0, 0.5)
    with pytest.raises(ValueError, match="0 <= x <= n"):
        two_proportion_z(5, 4, 1, 2)
    with pytest.raises(ValueError, match="n > 0"):
        two_proportion_z(0, 0, 1, 2)


# --- daily suite ---------------------------------------------------------------------------

def full_result(accuracy: float) -> dict[str, Any]:
    """The shape of ``evaluate_model``'s result, with only the fields ``headline`` reads."""
    return {
        "model": {"task": "intent_classifier", "name": MODEL, "version": "v3"},
        "examples": 640, "dataset": {"name": "commands", "id": "abc", "split": "test"},
        "accuracy": {"command_type": {"accuracy": accuracy, "macro_f1": 0.9}},
        "robustness": {"rates": [0.1, 0.3], "perturbed": {"typo": {"0.3": {"command_type": 0.8}}},
                       "edge_cases": {"empty": {"heads": {"command_type": {"valid_share": 1.0}}}}},
        "efficiency": {"single_p50_us": 15.0, "single_p99_us": 40.0,
                       "batched_events_per_s": 3e5}}


def test_daily_rows_gate_head_accuracy_and_record_the_rest() -> None:
    now = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)
    rows = {r["metric"]: r for r in daily_rows(full_result(0.93), now=now, threshold=0.95)}
    assert set(rows) == {"command_type.accuracy", "command_type.macro_f1",
                         "command_type.worst_noise@0.3", "edge_cases.valid_share",
                         "single_p50_us", "single_p99_us", "batched_events_per_s"}
    acc = rows["command_type.accuracy"]
    assert (acc["value"], acc["threshold"], acc["passed"], acc["events"]) == (
        0.93, 0.95, False, 640)
    assert acc["evaluation_id"] == f"{MODEL}/v3/daily/2026-03-02" and acc["schedule"] == "daily"
    assert rows["single_p99_us"]["passed"] and rows["single_p99_us"]["threshold"] == 0.0
    passing = daily_rows(full_result(0.96), now=now, threshold=0.95)
    assert next(r for r in passing if r["metric"] == "command_type.accuracy")["passed"]


def test_daily_suite_names_a_missing_model(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFound, match="intent_classifier"):
        daily_suite(make_settings(tmp_path), MODEL, now=T0)


# --- human reviews -------------------------------------------------------------------------

def test_review_sampler_keeps_a_seeded_sample_of_served_commands() -> None:
    records = [record(i, at=T0 + timedelta(seconds=i)) for i in range(100)]
    sampler = ReviewSampler(10, seed=1, model=MODEL)
    for r in records:
        sampler.observe(r)
    assert not sampler.observe(record(200, at=T0, served=False))
    assert not sampler.observe(record(201, at=T0, kind="error"))
    assert not sampler.observe(record(202, at=T0, model="next_command"))
    assert sampler.seen == 100 and len(sampler.sample) == 10
    again = ReviewSampler(10, seed=1, model=MODEL)
    for r in records:
        again.observe(r)
    assert [r.event_id for r in again.sample] == [r.event_id for r in sampler.sample]
    kept = next(r for r in records if r.event_id == sampler.sample[0].event_id)
    assert not sampler.observe(kept)  # a replayed event is not sampled twice


def test_review_sampler_is_uniform() -> None:
    records = [record(i, at=T0) for i in range(100)]
    hits = [0] * 100
    for seed in range(300):
        sampler = ReviewSampler(10, seed=seed)
        for r in records:
            sampler.observe(r)
        for r in sampler.sample:
            hits[uuid.UUID(r.event_id).int] += 1
    # every record is kept with probability 10/100: 300 runs x 10 records = 300 expected
    assert 240 < sum(hits[:10]) < 360 and 240 < sum(hits[-10:]) < 360


def exported(tmp_path: Path) -> tuple[Path, list[PredictionRecord]]:
    sampler = ReviewSampler(3, seed=0)
    texts = ["set speed fan-1 900", "=cmd|' /C calc'!A0", 'say "hi", then stop']
    for i, text in enumerate(texts):
        sampler.observe(record(i + 1, at=T0 + timedelta(minutes=i), text=text))
    path = tmp_path / "review.csv"
    assert sampler.export_sample(path, sample_id="2026w10") == 3
    return path, sampler.sample


def fill(path: Path, filled: dict[int, list[str]]) -> None:
    """Write reviewer columns (accuracy .. reviewer) into data rows by index, as a reviewer."""
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    for index, values in filled.items():
        rows[index + 1][-5:] = values
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)


def test_review_export_import_round_trip(tmp_path: Path) -> None:
    path, sample = exported(tmp_path)
    with path.open(newline="", encoding="utf-8") as f:
        lines = list(csv.reader(f))
    assert tuple(lines[0]) == COLUMNS
    assert lines[2][4] == "'=cmd|' /C calc'!A0"  # a spreadsheet shows it as text, not a formula
    assert lines[1][5:] == ["start_pump", "0.9100", "", "", "", "", ""]
    fill(path, {0: ["5", "4", "5", "clear", "ana"], 2: [" 2", "3 ", "1", "", "bo"]})
    when = datetime(2026, 3, 9, 12, 0, tzinfo=UTC)
    rows = import_reviews(path, reviewed_at=when)
    assert [r["event_id"] for r in rows] == [sample[0].event_id, sample[2].event_id]
    first = rows[0]
    assert {k: first[k] for k in ("sample_id", "model", "version", "input", "prediction",
                                  "reviewer", "accuracy", "naturalness", "effectiveness",
                                  "comment", "reviewed_at")} == {
        "sample_id": "2026w10", "model": MODEL, "version": "v1", "input": "set speed fan-1 900",
        "prediction": "start_pump", "reviewer": "ana", "accuracy": 5, "naturalness": 4,
        "effectiveness": 5, "comment": "clear", "reviewed_at": "2026-03-09T12:00:00+00:00"}
    assert rows[1]["input"] == 'say "hi", then stop'
    assert first["review_id"] == import_reviews(path, reviewed_at=when)[0]["review_id"]
    assert first["review_id"] != rows[1]["review_id"]
    assert summarise(rows) == {"n": 2, "accuracy": 3.5, "naturalness": 3.5, "effectiveness": 3.0}
    assert summarise([]) == {"n": 0, "accuracy": None, "naturalness": None, "effectiveness": None}
    fill(path, {1: ["4", "4", "4", "", ""]})
    assert import_reviews(path)[1]["input"] == "=cmd|' /C calc'!A0"  # the quote comes off


@pytest.mark.parametrize(("values", "column", "shown"), [
    (["6", "4", "4", "", "ana"], "accuracy", "'6'"),
    (["4", "4.5", "4", "", "ana"], "naturalness", "'4.5'"),
    (["4", "4", "", "no score", "ana"], "effectiveness", "''"),
])
def test_a_bad_score_names_line_and_column_and_imports_nothing(
        tmp_path: Path, values: list[str], column: str, shown: str) -> None:
    path, _ = exported(tmp_path)
    fill(path, {0: ["5", "5", "5", "", "ana"], 1: values})
    with pytest.raises(ValueError, match=rf"line 3, column '{column}': {shown} is not an integer"):
        import_reviews(path)


def test_import_rejects_a_file_that_is_not_a_review_sheet(tmp_path: Path) -> None:
    path = tmp_path / "other.csv"
    path.write_text("event_id,score\n1,5\n", encoding="utf-8")
    with pytest.raises(ValueError, match="missing columns"):
        import_reviews(path)
    path, _ = exported(tmp_path)
    text = path.read_text(encoding="utf-8").replace(str(uuid.UUID(int=1)), "not-a-uuid")
    path.write_text(text, encoding="utf-8")
    fill(path, {0: ["5", "5", "5", "", "ana"]})
    with pytest.raises(ValueError, match="line 2, column 'event_id': 'not-a-uuid' is not a UUID"):
        import_reviews(path)


# --- schedule ------------------------------------------------------------------------------

def test_schedule_due_mark_and_persist(tmp_path: Path) -> None:
    path = tmp_path / "state" / "schedule.json"
    schedule = Schedule.for_loop(path, LOOP)
    assert schedule.due("hourly", T0) and schedule.due("daily", T0)
    schedule.mark("hourly", T0)
    assert not schedule.due("hourly", T0 + timedelta(minutes=59))
    assert schedule.due("hourly", T0 + timedelta(hours=1))
    assert schedule.due("hourly", T0 - timedelta(minutes=1))  # the clock went back
    restarted = Schedule.for_loop(path, LOOP)
    assert not restarted.due("hourly", T0 + timedelta(minutes=30))
    assert restarted.due("daily", T0 + timedelta(minutes=30))
    with pytest.raises(ValueError, match="unknown job 'monthly'"):
        restarted.due("monthly", T0)
    with pytest.raises(ValueError, match="no time zone"):
        restarted.mark("daily", datetime(2026, 3, 2))  # noqa: DTZ001 - the bad input
    path.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(ValueError, match="not a schedule state file"):
        Schedule.for_loop(path, LOOP)
