"""Rollout decisions: the statistics against textbook values, and simulated canary/rollout runs."""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime
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
    binom_cdf_half,
    chi2_sf_1df,
    mcnemar,
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


def test_chi_square_tail_matches_the_critical_values_of_one_degree_of_freedom() -> None:
    # Chi-square table, 1 df: 3.841 (5 %), 6.635 (1 %), 10.828 (0.1 %).
    assert chi2_sf_1df(3.841459) == pytest.approx(0.05, abs=1e-6)
    assert chi2_sf_1df(6.634897) == pytest.approx(0.01, abs=1e-6)
    assert chi2_sf_1df(10.827566) == pytest.approx(0.001, abs=1e-6)


def test_binomial_tail_is_exact() -> None:
    # P(X <= 1), X ~ Bin(10, 1/2) = (C(10,0) + C(10,1)) / 2^10 = 11 / 1024.
    assert binom_cdf_half(1, 10) == 11 / 1024
    # P(X <= 2), X ~ Bin(14, 1/2) = (1 + 14 + 91) / 16384.
    assert binom_cdf_half(2, 14) == 106 / 16384
    # Far beyond float range for 2**n: P(X <= 0), n = 2000, underflows cleanly to 2^-2000 ~ 0.
    assert binom_cdf_half(0, 2000) == 0.0
    assert binom_cdf_half(5, 5) == 1.0


def test_mcnemar_matches_armitage_and_berry() -> None:
    # Armitage & Berry (1994, p. 127), two culture media on 50 specimens: b = 12, c = 2.
    # Continuity-corrected chi-square = (|12 - 2| - 1)^2 / 14 = 81/14 = 5.785714, P = 0.0162;
    # exact two-sided P = 2 (1 + 14 + 91) / 2^14 = 0.0129 (as StatsDirect reports it).
    exact = mcnemar(12, 2)
    assert exact.exact and exact.p_value == pytest.approx(212 / 16384, abs=1e-12)
    assert exact.p_value == pytest.approx(0.0129, abs=5e-5)
    chi = mcnemar(12, 2, exact_below=0)
    assert not chi.exact
    assert chi.statistic == pytest.approx(81 / 14)
    assert chi.p_value == pytest.approx(0.0162, abs=5e-5)


def test_mcnemar_small_and_large_discordance() -> None:
    # b = 12, c = 5 (17 discordant, exact): 2 P(X <= 5 | 17) = 2 * 9402 / 131072 = 0.1435.
    assert mcnemar(12, 5).p_value == pytest.approx(2 * 9402 / 131072, abs=1e-12)
    # Symmetric: the p-value does not depend on which model is first.
    assert mcnemar(5, 12).p_value == mcnemar(12, 5).p_value
    # Equal counts: no evidence at all.
    assert mcnemar(5, 5).p_value == 1.0 and mcnemar(40, 40).p_value == 1.0
    assert mcnemar(0, 0).p_value == 1.0
    # Drug example (b = 121, c = 59): corrected chi-square (62 - 1)^2 / 180 = 20.672; the
    # 1-df table puts 19.51 at p = 1e-5 and 23.93 at p = 1e-6.
    large = mcnemar(121, 59)
    assert large.statistic == pytest.approx(3721 / 180)
    assert 1e-6 < large.p_value < 1e-5


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
    lambda: mcnemar(-1, 3), lambda: two_proportion_z(5, 0, 1, 2),
    lambda: two_proportion_z(6, 5, 1, 2), lambda: wilson(3, 2), lambda: p99([]),
    lambda: binom_cdf_half(-1, 3), lambda: in_rollout("s", 101.0, salt="v"),
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
    """Both models score every event; the candidate serves its rollout share of sessions."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.next_event = 0

    def events(self, n: int, *, percent: float, p_champ: float, p_cand: float,
               lat_champ: int = 200, lat_cand: int = 200) -> list[PredictionRecord]:
        records = []
        for _ in range(n):
            self.next_event += 1
            session = f"s{self.rng.integers(5000)}"
            cand_serves = in_rollout(session, percent, salt=CAND)
            pair = [
                _record(f"e{self.next_event}", session, CHAMP,
                        "shadow" if cand_serves else "champion", not cand_serves,
                        int(self.rng.random() < p_champ), _latency(self.rng, lat_champ)),
                _record(f"e{self.next_event}", session, CAND,
                        "challenger" if cand_serves else "shadow", cand_serves,
                        int(self.rng.random() < p_cand), _latency(self.rng, lat_cand)),
            ]
            records.extend(pair if self.next_event % 2 else pair[::-1])
        return records


def _latency(rng: np.random.Generator, base: int) -> int:
    return int(base * (0.5 + rng.random()))


def _record(event_id: str, session: str, version: str, role: str, served: bool, correct: int,
            latency: int, model: str = "intent") -> PredictionRecord:
    return PredictionRecord.model_validate({
        "event_id": event_id, "session_id": session, "event_time": NOW, "kind": "command",
        "model": model, "version": version, "role": role, "served": served, "label": "run",
        "confidence": 0.9, "correct": correct, "latency_us": latency})


def _controller(**settings: object) -> RolloutController:
    return RolloutController("intent", champion=CHAMP, candidate=CAND,
                             settings=LoopSettings.model_validate(settings))


def _run(controller: RolloutController, sim: Sim, *, p_champ: float = 0.97,
         p_cand: dict[str, float] | float = 0.97, lat_cand: dict[str, int] | int = 200,
         max_events: int = 6000) -> list[Decision]:
    decisions = []
    for _ in range(max_events // 50):
        if controller.finished:
            break
        stage = controller.stage
        cand = p_cand if isinstance(p_cand, float) else p_cand.get(stage, 0.97)
        latency = lat_cand if isinstance(lat_cand, int) else lat_cand.get(stage, 200)
        for record in sim.events(50, percent=controller.percent, p_champ=p_champ,
                                 p_cand=cand, lat_cand=latency):
            controller.observe(record)
        decision = controller.decide(NOW)
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
    assert all(d.metrics["paired"] == 300 for d in decisions)  # decided at the minimum, fresh
    assert controller.finished and controller.percent == 100.0
    assert controller.decide(NOW) is None


def test_much_worse_candidate_is_rejected_at_canary() -> None:
    controller = _controller()
    decisions = _run(controller, Sim(3), p_champ=0.97, p_cand=0.80)
    assert _walk(decisions) == [("canary", "reject", 0.0)]
    metrics = decisions[0].metrics
    assert metrics["candidate_served"] == 0  # the canary never served the candidate
    assert metrics["mcnemar_p"] < 0.001
    assert 0.75 < metrics["candidate_accuracy"] < 0.85
    assert "McNemar" in decisions[0].reason and "canary" in decisions[0].reason
    assert decisions[0].to_alert("trainer").severity == "warning"


def test_regression_during_rollout_25_rolls_back() -> None:
    controller = _controller()
    decisions = _run(controller, Sim(4), p_cand={"rollout_25": 0.85})
    assert _walk(decisions) == [("canary", "advance", 5.0), ("rollout_5", "advance", 25.0),
                                ("rollout_25", "rollback", 0.0)]
    assert controller.percent == 0.0 and controller.finished
    assert decisions[-1].to_alert("trainer").severity == "critical"


def test_early_stop_rolls_back_before_the_stage_minimum() -> None:
    controller = _controller(rollout_percents=[50, 100], stage_min_events=3000)
    decisions = _run(controller, Sim(5), p_cand={"rollout_50": 0.75})
    assert _walk(decisions)[-1] == ("rollout_50", "rollback", 0.0)
    last = decisions[-1]
    assert last.metrics["paired"] < 3000
    assert min(last.metrics["candidate_served"], last.metrics["champion_served"]) >= 50
    assert last.metrics["served_z_p"] < 0.05
    assert "early" in last.reason


def test_latency_regression_rolls_back() -> None:
    controller = _controller()
    decisions = _run(controller, Sim(6), lat_cand={"rollout_5": 700})
    assert _walk(decisions) == [("canary", "advance", 5.0), ("rollout_5", "rollback", 0.0)]
    # medians of U(100, 300) ~ 200 vs U(350, 1050) ~ 700: ratio ~3.5 > 2.
    assert 3.0 < decisions[-1].metrics["p50_ratio"] < 4.0
    assert "median latency" in decisions[-1].reason


def test_slow_candidate_is_rejected_at_canary() -> None:
    decisions = _run(_controller(), Sim(7), lat_cand=500)
    assert _walk(decisions) == [("canary", "reject", 0.0)]
    assert decisions[0].metrics["p50_ratio"] > 2.0


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


def test_state_round_trip_mid_stage_gives_the_same_decision() -> None:
    sim = Sim(8)
    controller = _controller()
    _run(controller, sim, max_events=400)  # canary -> rollout_5, then 100 events into it
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
    decision = _run(_controller(), Sim(9), max_events=300)[0]
    assert decision.decision_id == "intent/v2/canary"
    sql = MIGRATION.read_text("utf-8")
    table = sql[sql.index("loop_decisions ("):]
    table = table[:table.index(") ENGINE")]
    columns = set(re.findall(r"^\s+(\w+) ", table, flags=re.MULTILINE)) - {"stored_at"}
    row = decision.to_row()
    assert set(row) == columns
    assert datetime.fromisoformat(row["time"]) == NOW
    StoreOutbox(Settings(data_dir=tmp_path)).append("loop_decisions", row)
    written = json.loads((tmp_path / "outbox" / "store.jsonl").read_text("utf-8"))
    assert written["row"]["metrics"]["paired"] == 300


def test_alert_is_deterministic_and_carries_the_numbers() -> None:
    decision = _run(_controller(), Sim(10), max_events=300)[0]
    alert = decision.to_alert("trainer")
    assert (alert.kind, alert.severity, alert.model, alert.version) == (
        "rollout", "info", "intent", CAND)
    assert alert.alert_id == decision.to_alert("other").alert_id
    assert alert.details["paired"] == 300 and alert.summary == decision.reason


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
    for broken in ({"format": 1}, {**state, "stage_index": 9}, {**state, "outcome": "maybe"},
                   {**state, "evidence": {"b": "x"}}, {**state, "format": 2}):
        with pytest.raises(RolloutError, match="bad rollout state"):
            RolloutController.from_state(broken)
    assert math.isclose(RolloutController.from_state(state).percent, 0.0)


def test_early_stop_looks_again_only_when_the_served_data_doubles() -> None:
    state = _controller(rollout_percents=[50, 100]).state()
    controller = RolloutController.from_state({**state, "stage_index": 1})
    for i in range(60):
        controller.observe(_record(f"a{i}", "s", CHAMP, "champion", True, 1, 100))
        controller.observe(_record(f"a{i}", "s", CAND, "shadow", False, 1, 100))
        controller.observe(_record(f"b{i}", "t", CHAMP, "shadow", False, 1, 100))
        controller.observe(_record(f"b{i}", "t", CAND, "challenger", True, 1, 100))
    assert controller.decide(NOW) is None
    assert controller.evidence.early_look == 120  # looked at 60 served answers each
    for i in range(59):  # now much worse, but the next look waits for 120 each
        controller.observe(_record(f"c{i}", "t", CHAMP, "shadow", False, 1, 100))
        controller.observe(_record(f"c{i}", "t", CAND, "challenger", True, 0, 100))
        controller.observe(_record(f"d{i}", "s", CHAMP, "champion", True, 1, 100))
        controller.observe(_record(f"d{i}", "s", CAND, "shadow", False, 1, 100))
    assert controller.decide(NOW) is None
    controller.observe(_record("c59", "t", CHAMP, "shadow", False, 1, 100))
    controller.observe(_record("c59", "t", CAND, "challenger", True, 0, 100))
    controller.observe(_record("d59", "s", CHAMP, "champion", True, 1, 100))
    decision = controller.decide(NOW)
    assert decision is not None and decision.decision == "rollback" and "early" in decision.reason
    assert decision.metrics["candidate_served_accuracy"] == 0.5
