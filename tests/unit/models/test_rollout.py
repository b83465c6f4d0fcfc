"""Rollout decisions: the statistics against textbook values, and simulated canary/rollout runs."""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import streamtune
from streamtune.config import LoopSettings, Settings
from streamtune.errors import ConfigError
from streamtune.models.rollout import (
    Decision,
    RolloutController,
    RolloutError,
    in_rollout,
    offline_verdict,
)
from streamtune.models.rollout.stats import (
    normal_cdf,
    normal_sf,
    p99,
    two_proportion_z,
    wilson,
)
from streamtune.schemas.predictions import PredictionRecord
from streamtune.sinks.outbox import StoreOutbox

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
CHAMP, CAND = "v1", "v2"
MIGRATION = Path(streamtune.__file__).parent / "sinks" / "migrations" / "0006_loop.sql"


# --- statistics, against published or hand-computed values ----------------------------------

def test_normal_distribution_matches_the_standard_normal_table() -> None:
    # Standard normal table: Phi(1.00) = 0.84134, Phi(1.96) = 0.97500, P(Z > 6) = 9.866e-10.
    assert normal_cdf(1.0) == pytest.approx(0.841345, abs=1e-6)
    assert normal_cdf(1.96) == pytest.approx(0.975002, abs=1e-6)
    assert normal_sf(6.0) == pytest.approx(9.866e-10, rel=1e-3)


def test_two_proportion_z_by_hand() -> None:
    # 120/200 vs 90/200: pooled p = 0.525, se = sqrt(0.525 * 0.475 * (1/200 + 1/200))
    # = 0.049937, z = 0.15 / 0.049937 = 3.0038; table: 2 * (1 - Phi(3.00)) = 0.0027.
    result = two_proportion_z(120, 200, 90, 200)
    assert result.statistic == pytest.approx(3.0038, abs=1e-4)
    assert result.p_value == pytest.approx(0.0027, abs=1e-4)
    assert two_proportion_z(90, 200, 120, 200).statistic == pytest.approx(-3.0038, abs=1e-4)
    assert two_proportion_z(50, 50, 80, 80).p_value == 1.0  # both perfect: no spread


def test_wilson_interval_matches_newcombe() -> None:
    # Newcombe (1998), Stat Med 17:857, Wilson score intervals without continuity correction.
    for successes, n, low, high in [(81, 263, 0.2553, 0.3662), (15, 148, 0.0624, 0.1605),
                                    (0, 20, 0.0, 0.1611), (1, 29, 0.0061, 0.1718)]:
        got = wilson(successes, n)
        assert got[0] == pytest.approx(low, abs=5e-5) and got[1] == pytest.approx(high, abs=5e-5)


def test_p99_is_the_nearest_rank() -> None:
    assert p99(list(range(1, 101))) == 99.0  # ceil(0.99 * 100) = 99th value
    assert p99(list(range(1, 201))) == 198.0
    assert p99([7]) == 7.0


@pytest.mark.parametrize("call", [
    lambda: two_proportion_z(5, 0, 1, 2),
    lambda: two_proportion_z(6, 5, 1, 2), lambda: wilson(3, 2), lambda: p99([]),
    lambda: in_rollout("s", 101.0, salt="v"),
])
def test_bad_statistics_input_is_a_clear_error(call: object) -> None:
    with pytest.raises(ValueError, match=r"\S"):
        call()  # type: ignore[operator]


# --- session split ----------------------------------------------------------------------------

def test_in_rollout_shares_are_close_and_monotone() -> None:
    sessions = [f"session-{i}" for i in range(20_000)]
    at5 = {s for s in sessions if in_rollout(s, 5, salt=CAND)}
    at25 = {s for s in sessions if in_rollout(s, 25, salt=CAND)}
    assert abs(len(at5) / 200 - 5) <= 1.5
    assert abs(len(at25) / 200 - 25) <= 1.5
    assert at5 <= at25
    assert all(in_rollout(s, 100, salt=CAND) for s in sessions[:100])
    assert not any(in_rollout(s, 0, salt=CAND) for s in sessions[:100])
    other = {s for s in sessions if in_rollout(s, 25, salt="v3")}
    assert len(at25 & other) < len(at25) / 2  # another candidate picks its own sessions


# --- simulated streams ------------------------------------------------------------------------

class Sim:
    """Both models score every event; the candidate serves its rollout share of sessions.

    On a share ``agreement`` of events both outcomes come from one draw (a fine-tuned
    candidate mostly agrees with its champion), on the rest independently."""

    def __init__(self, seed: int, *, agreement: float = 0.9) -> None:
        self.rng = np.random.default_rng(seed)
        self.agreement = agreement
        self.next_event = 0

    def events(self, n: int, *, percent: float, p_champ: float, p_cand: float,
               lat_champ: int = 200, lat_cand: int = 200,
               unscored: float = 0.0) -> list[PredictionRecord]:
        records = []
        for _ in range(n):
            self.next_event += 1
            session = f"s{self.rng.integers(5000)}"
            cand_serves = in_rollout(session, percent, salt=CAND)
            draw = self.rng.random()
            own = draw if self.rng.random() < self.agreement else self.rng.random()
            pair = [
                _record(f"e{self.next_event}", session, CHAMP,
                        "shadow" if cand_serves else "champion", not cand_serves,
                        int(draw < p_champ), _latency(self.rng, lat_champ)),
                _record(f"e{self.next_event}", session, CAND,
                        "challenger" if cand_serves else "shadow", cand_serves,
                        int(own < p_cand), _latency(self.rng, lat_cand)),
            ]
            if self.rng.random() < unscored:
                pair = pair[:1]
            records.extend(pair if self.next_event % 2 else pair[::-1])
        return records


def _latency(rng: np.random.Generator, base: int) -> int:
    return int(base * (0.5 + rng.random()))


def _record(event_id: str, session: str, version: str, role: str, served: bool, correct: int,
            latency: int, model: str = "intent", worker: str = "w1") -> PredictionRecord:
    return PredictionRecord.model_validate({
        "event_id": event_id, "session_id": session, "event_time": NOW, "kind": "command",
        "model": model, "version": version, "role": role, "served": served, "label": "run",
        "confidence": 0.9, "correct": correct, "latency_us": latency, "worker": worker})


def _controller(**settings: object) -> RolloutController:
    return RolloutController("intent", champion=CHAMP, candidate=CAND,
                             settings=LoopSettings.model_validate(settings))


def _run(controller: RolloutController, sim: Sim, *, p_champ: float = 0.97,
         p_cand: dict[str, float] | float = 0.97, lat_cand: dict[str, int] | int = 200,
         unscored: float = 0.0, max_events: int = 8000) -> list[Decision]:
    """Feed 50 events per trainer step, ten simulated seconds apart, until a final verdict."""
    decisions = []
    for step in range(max_events // 50):
        if controller.finished:
            break
        stage = controller.stage
        cand = p_cand if isinstance(p_cand, float) else p_cand.get(stage, 0.97)
        latency = lat_cand if isinstance(lat_cand, int) else lat_cand.get(stage, 200)
        for record in sim.events(50, percent=controller.percent, p_champ=p_champ,
                                 p_cand=cand, lat_cand=latency, unscored=unscored):
            controller.observe(record)
        decision = controller.decide(NOW + timedelta(seconds=10 * step))
        if decision is not None:
            decisions.append(decision)
    return decisions


def _walk(decisions: list[Decision]) -> list[tuple[str, str, float]]:
    return [(d.stage, d.decision, d.percent) for d in decisions]


@pytest.mark.parametrize(("seed", "p_cand"), [(1, 0.97), (2, 0.99)])
def test_equal_or_better_candidate_walks_to_promotion(seed: int, p_cand: float) -> None:
    controller = _controller()
    decisions = _run(controller, Sim(seed), p_cand=p_cand)
    assert _walk(decisions) == [("canary", "advance", 5.0), ("rollout_5", "advance", 25.0),
                                ("rollout_25", "advance", 100.0),
                                ("rollout_100", "promote", 100.0)]
    assert decisions[0].metrics["stage_paired"] >= 300
    # the test said "not worse" at the canary; later stages only wait for their minimum
    assert [d.metrics["stage_paired"] for d in decisions[1:]] == [300, 300, 300]
    assert all(d.metrics["verdict"] == "not_worse" for d in decisions)
    assert decisions[-1].metrics["diff_interval"][0] > -0.02
    assert controller.finished and controller.percent == 100.0
    assert controller.decide(NOW) is None


def test_two_points_worse_is_rejected_at_canary_with_its_evidence() -> None:
    controller = _controller()
    decisions = _run(controller, Sim(3), p_champ=0.97, p_cand=0.95)
    assert _walk(decisions) == [("canary", "reject", 0.0)]
    decision = decisions[0]
    m = decision.metrics
    assert m["candidate_served"] == 0  # the canary never served the candidate
    assert m["verdict"] == "worse" and m["evidence_worse"] >= 20
    assert m["diff_interval"][1] <= 0 and -0.04 < m["diff_estimate"] < -0.01  # open bounds
    assert (m["margin"], m["alpha_false_promotion"], m["beta_false_rollback"]) == (
        0.01, 0.05, 0.05)
    assert m["test"].startswith("paired betting confidence sequence")
    assert m["pairs"] == m["stage_paired"] == sum(
        m[k] for k in ("both_right", "champion_only_right", "candidate_only_right",
                       "both_wrong"))
    assert "worse than the champion by more than the margin" in decision.reason
    assert "5% false promotions" in decision.reason and "interval" in decision.reason
    assert decision.to_alert("trainer").severity == "warning"


def test_a_regression_during_rollout_25_rolls_back_although_the_test_had_said_not_worse() -> None:
    controller = _controller()
    decisions = _run(controller, Sim(4), p_cand={"rollout_25": 0.85})
    assert _walk(decisions) == [("canary", "advance", 5.0), ("rollout_5", "advance", 25.0),
                                ("rollout_25", "rollback", 0.0)]
    assert decisions[-1].metrics["verdict"] == "worse"
    assert controller.percent == 0.0 and controller.finished
    assert decisions[-1].to_alert("trainer").severity == "critical"


def test_a_candidate_in_the_indifference_zone_is_rolled_back_at_the_deadline() -> None:
    controller = _controller(stage_max_events=400)
    decisions = _run(controller, Sim(5), p_champ=0.97, p_cand=0.96)
    assert _walk(decisions) == [("canary", "reject", 0.0)]
    assert decisions[0].metrics["verdict"] is None
    assert decisions[0].metrics["stage_paired"] == 400
    assert "undecided after 400 paired events" in decisions[0].reason


def test_a_slower_p99_rolls_back() -> None:
    controller = _controller()
    decisions = _run(controller, Sim(6), lat_cand={"rollout_5": 700})
    assert _walk(decisions) == [("canary", "advance", 5.0), ("rollout_5", "rollback", 0.0)]
    # p99 of U(100, 300) ~ 298 vs U(350, 1050) ~ 1043: ratio ~3.5 > 2.
    assert 3.0 < decisions[-1].metrics["p99_ratio"] < 4.0
    assert "p99 scoring latency" in decisions[-1].reason


def test_slow_candidate_is_rejected_at_canary() -> None:
    decisions = _run(_controller(), Sim(7), lat_cand=500)
    assert _walk(decisions) == [("canary", "reject", 0.0)]
    assert decisions[0].metrics["p99_ratio"] > 2.0


def test_a_candidate_that_leaves_events_unscored_is_rejected() -> None:
    decisions = _run(_controller(), Sim(8), unscored=0.05)
    # an unscored event is known PAIR_WAIT_S (60 s, 6 steps here) after its other half
    assert _walk(decisions)[-1] in (("canary", "reject", 0.0), ("rollout_5", "rollback", 0.0))
    m = decisions[-1].metrics
    assert 0.02 < m["candidate_failure_rate"] < 0.08 and m["champion_unscored"] == 0
    assert "left" in decisions[-1].reason and "unscored" in decisions[-1].reason


def test_unscored_counts_only_on_workers_that_score_with_the_model() -> None:
    controller = _controller()
    # w2 has not loaded the candidate yet (a hot swap between two batches): not a failure
    controller.observe(_record("x1", "s", CHAMP, "champion", True, 1, 100, worker="w2"))
    controller.observe(_record("x2", "s", CHAMP, "champion", True, 1, 100, worker="w1"))
    controller.observe(_record("x3", "s", CAND, "shadow", False, 1, 100, worker="w1"))
    controller.decide(NOW)
    assert controller.evidence.unanswered == [0, 0]  # stamped, still waiting
    controller.decide(NOW + timedelta(seconds=59))
    assert controller.evidence.unanswered == [0, 0]
    controller.decide(NOW + timedelta(seconds=61))
    assert controller.evidence.unanswered == [1, 1]  # x2's candidate half, x3's champion half


def test_observe_ignores_other_models_versions_unknowns_and_replays() -> None:
    controller = _controller()
    controller.observe(_record("e1", "s1", CHAMP, "champion", True, 1, 100, model="errors"))
    controller.observe(_record("e1", "s1", "v9", "shadow", False, 1, 100))
    assert not any(controller.evidence.latencies)
    controller.observe(_record("e1", "s1", CHAMP, "champion", True, -1, 120))  # unknown truth
    assert list(controller.evidence.latencies[0]) == [120] and controller.evidence.paired == 0
    controller.observe(_record("e1", "s1", CHAMP, "champion", True, 1, 130))
    controller.observe(_record("e1", "s1", CAND, "shadow", False, 0, 140))
    controller.observe(_record("e1", "s1", CAND, "shadow", False, 0, 140))  # replayed
    controller.observe(_record("e1", "s1", CHAMP, "champion", True, 1, 130))  # replayed
    e = controller.evidence
    assert (e.paired, e.b, e.c) == (1, 1, 0)
    assert e.served_total == [1, 0] and e.served_right == [1, 0]
    controller.decide(NOW)
    assert controller.test.n == 1 and controller.test.counts == [0, 0, 1]


def test_state_round_trip_mid_stage_gives_the_same_decision() -> None:
    sim = Sim(8)
    controller = _controller()
    while controller.stage == "canary":
        _run(controller, sim, max_events=50)
    _run(controller, sim, max_events=100)
    assert controller.stage == "rollout_5" and 0 < controller.evidence.paired < 300
    records = sim.events(260, percent=5, p_champ=0.97, p_cand=0.97)
    controller.observe(records[0])  # half an event before the save, half after
    restored = RolloutController.from_state(json.loads(json.dumps(controller.state())))
    for record in records[1:]:
        controller.observe(record)
        restored.observe(record)
    first, second = controller.decide(NOW), restored.decide(NOW)
    assert first is not None and first.decision == "advance"
    assert first == second
    assert restored.stage == controller.stage == "rollout_25"


def test_decision_row_fits_the_loop_decisions_table(tmp_path: Path) -> None:
    decision = _run(_controller(), Sim(9))[0]
    assert decision.decision_id == "intent/v2/canary"
    sql = MIGRATION.read_text("utf-8")
    table = sql[sql.index("loop_decisions ("):]
    table = table[:table.index(") ENGINE")]
    columns = set(re.findall(r"^\s+(\w+) ", table, flags=re.MULTILINE)) - {"stored_at"}
    row = decision.to_row()
    assert set(row) == columns
    assert datetime.fromisoformat(row["time"]) == decision.time
    StoreOutbox(Settings(data_dir=tmp_path)).append("loop_decisions", row)
    written = json.loads((tmp_path / "outbox" / "store.jsonl").read_text("utf-8"))
    assert written["row"]["metrics"]["pairs"] == decision.metrics["pairs"] >= 300
    assert written["row"]["metrics"]["diff_interval"] == decision.metrics["diff_interval"]


def test_alert_is_deterministic_and_carries_the_numbers() -> None:
    decision = _run(_controller(), Sim(10))[0]
    alert = decision.to_alert("trainer")
    assert (alert.kind, alert.severity, alert.model, alert.version) == (
        "rollout", "info", "intent", CAND)
    assert alert.alert_id == decision.to_alert("other").alert_id
    assert alert.summary == decision.reason
    for key in ("test", "margin", "alpha_false_promotion", "beta_false_rollback", "pairs",
                "diff_estimate", "diff_interval", "evidence_not_worse", "evidence_worse"):
        assert alert.details[key] == decision.metrics[key]


def test_margin_is_per_model() -> None:
    loop = LoopSettings(margins={"intent": 0.03})
    assert (loop.margin_of("intent"), loop.margin_of("other")) == (0.03, 0.01)
    controller = RolloutController("intent", champion=CHAMP, candidate=CAND, settings=loop)
    assert controller.test.margin == 0.03
    with pytest.raises(ConfigError, match="margins"):
        RolloutController("intent", champion=CHAMP, candidate=CAND,
                          settings=LoopSettings(margins={"intent": 0.7}))


def test_offline_verdict() -> None:
    loop = LoopSettings()
    ok = offline_verdict("intent", {"accuracy": 0.95}, {"accuracy": 0.96}, metric="accuracy",
                         settings=loop, candidate=CAND, champion=CHAMP, now=NOW)
    assert (ok.stage, ok.decision, ok.percent) == ("offline", "advance", 0.0)
    bad = offline_verdict("intent", {"accuracy": 0.93}, {"accuracy": 0.96}, metric="accuracy",
                          settings=loop, candidate=CAND, champion=CHAMP, now=NOW)
    assert bad.decision == "reject" and "3.00 points below" in bad.reason
    with pytest.raises(ValueError, match="no 'macro_f1' in the candidate"):
        offline_verdict("intent", {"accuracy": 0.9}, {"macro_f1": 0.9}, metric="macro_f1",
                        settings=loop)


def _gated(candidate: dict[str, float], **loop: Any) -> Decision:
    champion = {"command_type.accuracy": 0.90}
    return offline_verdict("intent", candidate, champion, metric="command_type.accuracy",
                           settings=LoopSettings(**loop), candidate=CAND, champion=CHAMP, now=NOW)


def test_offline_gate_rejects_a_candidate_below_the_baseline() -> None:
    below = {"command_type.accuracy": 0.95, "command_type.macro_f1": 0.80,
             "baseline.macro_f1": 0.85}
    bad = _gated(below)
    assert bad.decision == "reject"  # above the champion, below TF-IDF + LR
    assert "command_type.macro_f1 0.8000 vs TF-IDF + LR baseline 0.8500" in bad.reason
    assert "5.00 points below" in bad.reason
    assert bad.metrics["baseline"] == 0.85 and bad.metrics["macro_f1"] == 0.80
    assert bad.metrics["baseline_gap"] == pytest.approx(0.05)
    above = _gated({**below, "command_type.macro_f1": 0.86})
    assert above.decision == "advance" and "1.00 points above" in above.reason
    level = _gated({**below, "command_type.macro_f1": 0.85})
    assert level.decision == "advance"  # not below the baseline is enough


def test_offline_gate_honours_the_baseline_settings() -> None:
    below = {"command_type.accuracy": 0.95, "command_type.macro_f1": 0.80,
             "baseline.macro_f1": 0.85}
    off = _gated(below, baseline_gate=False)
    assert off.decision == "advance" and "baseline" not in off.reason
    assert "baseline" not in off.metrics
    assert _gated(below, baseline_margin=0.06).decision == "advance"
    assert _gated(below, baseline_margin=0.04).decision == "reject"
    worse = _gated({**below, "command_type.accuracy": 0.80}, baseline_gate=False)
    assert worse.decision == "reject"  # the champion's figure still counts
    # a version trained without a baseline (the parameter extractor's) is judged as before
    plain = _gated({"command_type.accuracy": 0.95})
    assert plain.decision == "advance" and "baseline" not in plain.reason
    with pytest.raises(ValueError, match="no 'command_type.macro_f1' in the candidate"):
        _gated({"command_type.accuracy": 0.95, "baseline.macro_f1": 0.5})


def test_bad_arguments_and_states_are_clear_errors() -> None:
    with pytest.raises(ConfigError, match="rollout_percents"):
        _controller(rollout_percents=[25, 5])
    with pytest.raises(RolloutError, match="is the champion"):
        RolloutController("intent", champion=CHAMP, candidate=CHAMP, settings=LoopSettings())
    controller = _controller()
    with pytest.raises(RolloutError, match="timezone-aware"):
        controller.decide(datetime(2025, 1, 1))  # noqa: DTZ001
    state = controller.state()
    for broken in ({"format": 2}, {**state, "stage_index": 9}, {**state, "outcome": "maybe"},
                   {**state, "evidence": {"b": "x"}}, {**state, "format": 1},
                   {**state, "test": {**state["test"], "log_low": [0.0]}}):
        with pytest.raises(RolloutError, match="bad rollout state"):
            RolloutController.from_state(broken)
    assert math.isclose(RolloutController.from_state(state).percent, 0.0)


def test_models_status_shows_the_running_evidence_of_the_current_stage(tmp_path: Path) -> None:
    from tests.support.cli import run_cli

    controller = _controller()
    sim = Sim(11)
    while controller.stage == "canary":
        _run(controller, sim, max_events=50)
    _run(controller, sim, max_events=100)
    state = tmp_path / "data" / "loop" / "trainer.json"
    state.parent.mkdir(parents=True)
    state.write_text(json.dumps({"rollouts": {"intent": controller.state()}}), "utf-8")
    env = {"STREAMTUNE_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "250"}
    shown = run_cli("models", "status", cwd=tmp_path, env=env)
    assert shown.returncode == 0, shown.stderr
    assert "rollout_5 (5 %)" in shown.stdout and "v2 vs v1" in shown.stdout
    assert f"{controller.evidence.paired} (min 300) / {controller.test.n}" in shown.stdout
    assert "not_worse" in shown.stdout and "5%" in shown.stdout
    figures = json.loads(run_cli("models", "status", "--json", cwd=tmp_path, env=env).stdout)
    assert figures["intent"]["pairs"] == controller.test.n
    assert figures["intent"]["stage"] == "rollout_5"
