"""Drift detectors, the drift monitor, new-pattern mining and their saved state.

Contract: every detector of the table sees the same seeded shift; the defaults
(HDDM_A on 0/1, ADWIN on values) must also stay silent on the stationary run.
False alarms of the others, measured by ``benchmarks/detectors.py`` (20 seeds,
6000 values, change at 3000; per million values before a change or stationary):
adwin 0, hddm_a 0, hddm_w 0, page_hinkley 0, ddm 256, eddm 1578, kswin 1407.
Over 20 seeds of the error stream below (p 0.1 -> 0.3) the monitor with HDDM_A
raised 2 false alarms in 120k values; seed 0 is one of the 18 clean ones.
"""

from __future__ import annotations

import itertools
import logging
import pickle
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from streamtune.config import DetectionSettings
from streamtune.models.detection import (
    DETECTORS,
    DetectionState,
    DriftMonitor,
    PatternMiner,
    UnknownDetector,
    make_detector,
    state_path,
)
from streamtune.models.detection.detectors import feed as update_detector
from streamtune.models.detection.monitor import DriftBatch
from streamtune.schemas.alerts import Alert
from streamtune.schemas.events import CommandEvent, ErrorEvent
from streamtune.schemas.text import normalize_text
from streamtune.simulator import Simulator
from streamtune.simulator.scenario import NewCommandTypeDrift, Scenario

T0 = datetime(2026, 1, 1, tzinfo=UTC)
N, AT = 6000, 3000


def binary(seed: int, shift: bool, p0: float = 0.1, p1: float = 0.3) -> list[float]:
    rng = random.Random(seed)
    return [float(rng.random() < (p1 if shift and i >= AT else p0)) for i in range(N)]


def gaussian(seed: int, shift: bool) -> list[float]:
    rng = random.Random(seed)
    return [rng.gauss(0.0, 1.0) + (1.0 if shift and i >= AT else 0.0) for i in range(N)]


def feed(monitor: DriftMonitor, signal: str, values: list[float], *, scope: str = "global",
         gap_s: float = 1.0) -> list[tuple[int, Alert]]:
    out = []
    for i, x in enumerate(values):
        at = T0 + timedelta(seconds=i * gap_s)
        out += [(i, a) for a in monitor.observe(signal, x, scope=scope, key=f"e{i}", at=at)]
    return out


# -- the detector table -------------------------------------------------------------------

@pytest.mark.parametrize(("name", "kind"), [(n, k) for n, s in DETECTORS.items()
                                            for k in sorted(s.accepts)])
def test_every_detector_sees_the_shift(name: str, kind: str) -> None:
    detector = make_detector(name, kind)  # type: ignore[arg-type]
    values = binary(0, True) if kind == "binary" else gaussian(0, True)
    first = None
    for i, x in enumerate(values):
        if update_detector(detector, x) and i >= AT:
            first = i
            break
    assert first is not None, f"{name} missed the shift"


@pytest.mark.parametrize(("signal", "make", "bound"), [
    ("error", binary, 600),         # HDDM_A: measured delays 35-260 over 20 seeds
    ("cpu", gaussian, 200),         # ADWIN: measured 39-71
])
def test_defaults_alert_once_after_the_shift_and_never_when_stationary(
        signal: str, make: object, bound: int) -> None:
    assert callable(make)
    shifted = feed(DriftMonitor(DetectionSettings(), source="w"), signal, make(0, True))
    assert [i for i, _ in shifted if i < AT] == []
    assert len(shifted) == 1
    index, alert = shifted[0]
    assert AT <= index <= AT + bound
    assert (alert.kind, alert.signal, alert.scope) == ("drift", signal, "global")
    assert alert.details["direction"] == "up"
    assert feed(DriftMonitor(DetectionSettings(), source="w"), signal, make(0, False)) == []


def test_error_rate_doubling_is_critical_and_its_means_are_reported() -> None:
    [(_, alert)] = feed(DriftMonitor(DetectionSettings(), source="w"), "error", binary(0, True))
    assert alert.severity == "critical"
    assert alert.details["detector"] == "adwin"
    assert 0.07 < alert.details["mean_before"] < 0.13
    assert 0.2 < alert.details["mean_after"] < 0.4
    [(_, moved)] = feed(DriftMonitor(DetectionSettings(), source="w"), "cpu", gaussian(0, True))
    assert moved.severity == "warning"


def test_success_drop_is_seen_through_the_failure_rate() -> None:
    success = [1.0 - x for x in binary(0, True)]
    [(index, alert)] = feed(DriftMonitor(DetectionSettings(), source="w"), "success", success)
    assert index >= AT
    assert alert.details["direction"] == "down"
    assert alert.severity == "critical"


def test_unknown_detector_names_the_known_ones() -> None:
    with pytest.raises(UnknownDetector, match="known: adwin, ddm, eddm, hddm_a"):
        make_detector("cusum", "binary")
    with pytest.raises(ValueError, match="cannot watch continuous"):
        make_detector("hddm_a", "continuous")
    with pytest.raises(ValueError, match="unknown drift detector 'nope'"):
        DriftMonitor(DetectionSettings(binary_detector="nope"), source="w")


# -- the monitor --------------------------------------------------------------------------

def _early_jump() -> list[float]:
    rng = random.Random(3)
    return [float(rng.random() < (0.05 if i < 50 else 0.6)) for i in range(3000)]


def test_no_alert_during_warm_up() -> None:
    assert feed(DriftMonitor(DetectionSettings(), source="w"), "error", _early_jump()) == []
    eager = feed(DriftMonitor(DetectionSettings(warmup_events=0), source="w"), "error",
                 _early_jump())
    assert len(eager) == 1 and 50 <= eager[0][0] < 300


def test_cooldown_needs_both_events_and_seconds() -> None:
    rng = random.Random(0)
    ramp = [rng.gauss(0, 1) + max(0.0, (i - AT) / 500) for i in range(N)]  # keeps moving

    def alerts(cooldown_events: int, cooldown_s: float) -> list[int]:
        settings = DetectionSettings(cooldown_events=cooldown_events, cooldown_s=cooldown_s)
        return [i for i, _ in feed(DriftMonitor(settings, source="w"), "cpu", ramp, gap_s=0.1)]

    assert len(alerts(0, 0)) >= 3
    assert len(alerts(0, 300)) == 1                   # 300 s = 3000 events here
    spaced = alerts(2000, 0)
    assert len(spaced) >= 2 and all(b - a >= 2000 for a, b in itertools.pairwise(spaced))
    assert alerts(2000, 300) == spaced[:1]


def test_a_second_change_after_the_cooldown_raises_a_second_alert() -> None:
    rng = random.Random(5)
    values = [rng.gauss(0, 1) + (1.0 if i >= AT else 0.0) + (1.0 if i >= 2 * AT else 0.0)
              for i in range(3 * AT)]
    alerts = feed(DriftMonitor(DetectionSettings(), source="w"), "cpu", values)
    assert len(alerts) == 2
    assert AT <= alerts[0][0] < AT + 200 and 2 * AT <= alerts[1][0] < 2 * AT + 200
    assert alerts[0][1].alert_id != alerts[1][1].alert_id


def test_scoped_detector_only_after_scope_min_events() -> None:
    monitor = DriftMonitor(DetectionSettings(scope_min_events=500), source="w")
    scope = "command_type=start_pump"
    feed(monitor, "execution_time", [1.0] * 499, scope=scope)
    feed(monitor, "execution_time", [1.0] * 10)
    assert monitor.detectors() == {("execution_time", "global"): 10}
    feed(monitor, "execution_time", [1.0], scope=scope)
    assert monitor.detectors()[("execution_time", scope)] == 1


def test_error_rate_per_error_type() -> None:
    monitor = DriftMonitor(DetectionSettings(), source="w")
    rng = random.Random(2)
    alerts: list[Alert] = []
    for i in range(8000):
        p_timeout = 0.03 if i < 4000 else 0.15
        draw = rng.random()
        kind = "timeout" if draw < p_timeout else "conflict" if draw < p_timeout + 0.03 else None
        alerts += monitor.observe_error(kind, key=f"e{i}", at=T0 + timedelta(seconds=i))
    scopes = {(a.signal, a.scope) for a in alerts}
    assert ("error", "error_type=timeout") in scopes
    assert ("error", "error_type=conflict") not in scopes
    assert {("error", "global"), ("error", "error_type=conflict")} <= set(monitor.detectors())


def _mixed_inputs(seed: int, count: int) -> list[tuple[str, object, str]]:
    """(signal or "outcome", value or error type, scope) in arrival order: success and
    execution time globally and per command type, outcomes whose error types appear one
    by one, CPU per host; their rates change a third of the way in and again later."""
    rng = random.Random(seed)
    out: list[tuple[str, object, str]] = []
    for i in range(count):
        phase = (i > count // 3) + (i > 2 * count // 3)
        scope = f"command_type={rng.choice(['start_pump', 'stop_pump'])}"
        failing = rng.random() < (0.1, 0.45, 0.2)[phase]
        for where in ("global", scope):
            out += [("success", float(not failing), where),
                    ("execution_time", rng.expovariate(1.0) * (1, 4, 2)[phase], where)]
        known = ["timeout", "conflict", "auth", "disk"][:1 + i * 4 // count]
        error = rng.choice(known) if rng.random() < (0.1, 0.4, 0.15)[phase] else None
        out.append(("outcome", error, "global"))
        out.append(("cpu", rng.random() * (1, 3, 1)[phase], f"host=h{i % 2}"))
    return out


def test_a_batch_raises_the_alerts_feeding_value_by_value_raises_in_the_same_order() -> None:
    settings = DetectionSettings(warmup_events=30, scope_min_events=40, cooldown_events=40,
                                 cooldown_s=1.0)
    one_by_one = DriftMonitor(settings, source="w")
    batched = DriftMonitor(settings, source="w")
    inputs = _mixed_inputs(3, 3000)
    expected: list[Alert] = []
    got: list[Alert] = []
    for start in range(0, len(inputs), 997):  # batches cut anywhere, values of many tracks each
        batch = DriftBatch()
        for i, (signal, value, scope) in enumerate(inputs[start:start + 997], start):
            at = T0 + timedelta(seconds=i // 6)
            if signal == "outcome":
                batch.add_outcome(value, key=f"e{i}", at=at)  # type: ignore[arg-type]
                expected += one_by_one.observe_error(value, key=f"e{i}",  # type: ignore[arg-type]
                                                     at=at)
            else:
                batch.add(signal, value, scope=scope, key=f"e{i}", at=at)  # type: ignore[arg-type]
                expected += one_by_one.observe(signal, value, scope=scope,  # type: ignore[arg-type]
                                               key=f"e{i}", at=at)
        got += [alert for _, alert in batched.observe_batch(batch)]
    scopes = {alert.scope for alert in expected}
    assert len(expected) >= 10 and {"global", "host=h0", "error_type=timeout"} <= scopes
    assert [(a.alert_id, a.title) for a in got] == [(a.alert_id, a.title) for a in expected]
    assert batched.detectors() == one_by_one.detectors()
    assert {k: (t.count, t.mean, t.recent) for k, t in batched._tracks.items()} == {  # noqa: SLF001
        k: (t.count, t.mean, t.recent) for k, t in one_by_one._tracks.items()}  # noqa: SLF001
    # auth, third of four, became known mid-run: its stream starts at its first outcome
    first_auth = next(i for i, (s, v, _) in enumerate(inputs) if v == "auth")
    outcomes_from = sum(s == "outcome" for s, _, _ in inputs[first_auth:])
    assert batched._tracks[("error", "error_type=auth")].count == outcomes_from  # noqa: SLF001


def test_a_bad_value_refuses_the_whole_batch_before_any_detector_sees_it() -> None:
    monitor = DriftMonitor(DetectionSettings(), source="w")
    batch = DriftBatch()
    batch.add("cpu", 0.5, key="e0", at=T0)
    batch.add_outcome("timeout", key="e1", at=T0)
    batch.add("execution_time", -1.0, key="e2", at=T0)
    with pytest.raises(ValueError, match="execution_time: negative value"):
        monitor.observe_batch(batch)
    assert monitor._tracks == {}  # noqa: SLF001


def test_state_pickled_before_the_error_scope_cache_still_feeds_every_error_type() -> None:
    monitor = DriftMonitor(DetectionSettings(), source="w")
    for i, kind in enumerate(["timeout", None, "conflict"]):
        monitor.observe_error(kind, key=f"e{i}", at=T0)
    older = {k: v for k, v in monitor.__dict__.items() if k != "_error_scopes"}
    restored = pickle.loads(pickle.dumps(older))  # noqa: S301 - our own bytes
    loaded = DriftMonitor.__new__(DriftMonitor)
    loaded.__setstate__(restored)
    loaded.observe_error("timeout", key="e3", at=T0)
    monitor.observe_error("timeout", key="e3", at=T0)
    assert loaded.detectors() == monitor.detectors()
    # conflict's stream starts when it is first seen: its own event, then the last timeout
    assert loaded._tracks[("error", "error_type=conflict")].count == 2  # noqa: SLF001


@pytest.mark.parametrize(("signal", "value", "message"), [
    ("latency", 1.0, "unknown signal 'latency' \\(known: confidence, cpu"),
    ("success", 0.5, "bad value 0.5 for a binary signal"),
    ("cpu", float("nan"), "bad value nan"),
    ("execution_time", -1.0, "negative value"),
])
def test_bad_values_are_refused_clearly(signal: str, value: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DriftMonitor(DetectionSettings(), source="w").observe(signal, value, key="k", at=T0)


def test_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        DriftMonitor(DetectionSettings(), source="w").observe(
            "cpu", 1.0, key="k", at=datetime(2026, 1, 1))  # noqa: DTZ001


# -- new patterns --------------------------------------------------------------------------

def mine(miner: PatternMiner, sim: Simulator, n: int, new_type: str = "") -> list[Alert]:
    alerts = []
    for e in sim.events(n):
        if isinstance(e, CommandEvent):
            confidence = 0.3 if e.command_type == new_type else 0.95
            alerts += miner.observe("command", normalize_text(e.raw_input), confidence=confidence,
                                    label=e.command_type, key=str(e.event_id), at=e.event_time)
        elif isinstance(e, ErrorEvent):
            alerts += miner.observe("error", e.error_message, confidence=None,
                                    label=e.error_type, key=str(e.event_id), at=e.event_time)
    return alerts


def test_new_command_type_raises_one_new_pattern_alert() -> None:
    scenario = Scenario(new_command_type=NewCommandTypeDrift(at=4000))
    sim = Simulator(3, scenario=scenario, start=T0)
    miner = PatternMiner(DetectionSettings(), source="w")
    [alert] = mine(miner, sim, 8000, "isolate_segment")
    assert (alert.kind, alert.severity, alert.signal) == ("new_pattern", "warning", "command")
    details = alert.details
    assert set(details["labels"]) == {"isolate_segment"}
    # the simulator's commands come at ~25/s: 1 + 25 // pattern_rate_per_count recurrences
    assert details["count"] == 3
    assert details["mean_confidence"] == pytest.approx(0.3)
    assert "<*>" in details["template"]
    assert details["first_line"] == details["examples"][0]
    assert details["nearest_known"] and details["nearest_known"] != details["template"]
    assert 1 <= len(details["examples"]) <= 5
    assert all("seg" in x or "sg" in x or "eg" in x for x in details["examples"])
    assert datetime.fromisoformat(details["first_seen"]) >= T0


def test_stationary_stream_raises_no_new_pattern() -> None:
    sim = Simulator(3, start=T0)
    assert mine(PatternMiner(DetectionSettings(), source="w"), sim, 8000) == []


def at(i: int, gap_s: float = 1.0) -> datetime:
    return T0 + timedelta(seconds=i * gap_s)


def test_new_pattern_needs_low_confidence_and_recurrence_on_a_fast_source() -> None:
    miner = PatternMiner(DetectionSettings(pattern_warmup_events=0), source="w")
    assert miner.learn("command", ["start pump-3", "open valve-12 now"]) == 2
    sure = [miner.observe("command", f"purge line-{i} with argon", confidence=0.9, key=f"a{i}",
                          at=at(i)) for i in range(40)]
    assert all(not a for a in sure)
    # one line a second: the first line of a new template alerts
    [alert] = miner.observe("command", "flush tank-1 with nitrogen gas", confidence=0.2,
                            key="b", at=at(40))
    assert alert.details["template"] == "flush <*> with nitrogen gas"
    assert alert.details["count"] == 1
    known = [miner.observe("command", f"start pump-{i}", confidence=0.1, key=f"c{i}",
                           at=at(41 + i)) for i in range(40)]
    assert all(not a for a in known)
    fast = PatternMiner(DetectionSettings(pattern_warmup_events=500), source="w")
    texts = [f"disk-{i} full" for i in range(500)] + [f"fan-{i} stalled" for i in range(40)]
    alerts = [fast.observe("error", x, confidence=None, key=f"d{i}", at=at(i, 0.001))
              for i, x in enumerate(texts)]
    assert [i - 500 for i, a in enumerate(alerts) if a] == [19]  # 500/s: pattern_min_count


def test_a_confident_template_alerts_when_the_model_flags_it_out_of_scope() -> None:
    miner = PatternMiner(DetectionSettings(pattern_warmup_events=0), source="w")
    miner.learn("command", ["start pump-3", "open valve-12 now"])
    confident = miner.observe("command", "book a table for two tonight", confidence=0.95,
                              key="a", at=at(0))
    assert confident == []
    [alert] = miner.observe("command", "what is the weather in paris", confidence=0.95,
                            key="b", at=at(1), out_of_scope=True)
    assert alert.details["out_of_scope"] == 1 and alert.details["mean_confidence"] == 0.95
    assert "1 out of scope for the model" in alert.summary


def test_warm_up_ends_by_time_or_volume_and_alerts_name_the_nearest_template() -> None:
    settings = DetectionSettings(pattern_warmup_events=1000, pattern_warmup_s=60)
    miner = PatternMiner(settings, source="w")
    lines = [f"job {i} done in {i % 7} s" for i in range(60)]
    alerts = [miner.observe("error", x, confidence=None, key=str(i), at=at(i))
              for i, x in enumerate(lines)]
    assert not any(alerts)
    [alert] = miner.observe("error", "job 99 failed: password=hunter2 rejected",
                            confidence=None, key="k", at=at(61))
    assert alert.details["nearest_known"] == "job <*> done in <*> s"
    assert alert.details["first_line"] == "job 99 failed: password=[REDACTED:password] rejected"
    assert miner.observe("error", "job 7 failed: password=x rejected", confidence=None,
                         key="k2", at=at(62)) == []


def test_pattern_miner_refuses_bad_input() -> None:
    miner = PatternMiner(DetectionSettings(), source="w")
    with pytest.raises(ValueError, match="unknown pattern stream 'logs'"):
        miner.observe("logs", "x", confidence=None, key="k", at=T0)
    with pytest.raises(ValueError, match="confidence must be in"):
        miner.observe("command", "x", confidence=1.5, key="k", at=T0)


# -- saved state ---------------------------------------------------------------------------

def run_all(state: DetectionState, sim: Simulator, n: int) -> list[Alert]:
    alerts = []
    for e in sim.events(n):
        key, at = str(e.event_id), e.event_time
        if isinstance(e, CommandEvent):
            alerts += state.drift.observe("success", float(e.success), key=key, at=at)
            alerts += state.drift.observe("execution_time", e.execution_time, key=key, at=at)
            alerts += state.drift.observe_error(None, key=key, at=at)
            alerts += state.patterns.observe("command", normalize_text(e.raw_input),
                                             confidence=None, label=e.command_type,
                                             key=key, at=at)
        elif isinstance(e, ErrorEvent):
            alerts += state.drift.observe_error(e.error_type, key=key, at=at)
    return alerts


def test_state_round_trip_gives_the_same_alerts(tmp_path: Path) -> None:
    settings = DetectionSettings(pattern_warmup_events=1000, cooldown_s=0)
    scenario = Scenario.standard(6000)

    whole = run_all(DetectionState.fresh(settings, "w"), Simulator(4, scenario=scenario,
                                                                   start=T0), 6000)
    kinds = {a.kind for a in whole}
    assert kinds == {"drift", "new_pattern"}

    sim = Simulator(4, scenario=scenario, start=T0)
    first = DetectionState.fresh(settings, "w")
    part = run_all(first, sim, 3000)
    path = state_path(tmp_path, "w")
    first.save(path)
    resumed = DetectionState.load(path, settings, "w")
    part += run_all(resumed, sim, 3000)
    assert [(a.alert_id, a.details) for a in part] == [(a.alert_id, a.details) for a in whole]


def test_missing_corrupt_or_foreign_state_starts_fresh(tmp_path: Path,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    settings = DetectionSettings()
    path = state_path(tmp_path, "w/1")
    assert path.name == "w_1.pkl"
    with caplog.at_level(logging.WARNING):
        assert DetectionState.load(path, settings, "w").drift.detectors() == {}
        path.parent.mkdir(parents=True)
        path.write_bytes(b"\x80\x04 not a pickle")
        assert DetectionState.load(path, settings, "w").drift.detectors() == {}
        used = DetectionState.fresh(settings, "w")
        feed(used.drift, "cpu", [0.5] * 10)
        used.save(path)
        assert DetectionState.load(path, settings, "w").drift.detectors() == {
            ("cpu", "global"): 10}
        assert DetectionState.load(path, settings, "other").drift.detectors() == {}
        changed = DetectionSettings(warmup_events=10)
        assert DetectionState.load(path, changed, "w").drift.detectors() == {}
    messages = " | ".join(r.getMessage() for r in caplog.records)
    for why in ("no detection state", "unreadable", "saved for source 'w', not 'other'",
                "detection settings changed"):
        assert why in messages
    assert [p.name for p in path.parent.iterdir()] == ["w_1.pkl"]


@pytest.mark.parametrize("two_sided", [False, True])
def test_fast_hddm_a_detects_exactly_like_river(two_sided: bool) -> None:
    from river.drift.binary import HDDMA

    from streamtune.models.detection.detectors import FastHDDMA

    rng = random.Random(1)
    xs = [rng.random() < (0.05 if i < 3000 else 0.2 if i < 6000 else 0.02) for i in range(9000)]
    ours = FastHDDMA(two_sided_test=two_sided)
    river_s = HDDMA(two_sided_test=two_sided)  # type: ignore[no-untyped-call]
    seen = []
    for x in xs:
        ours.update(x)
        river_s.update(x)  # type: ignore[no-untyped-call]
        seen.append((ours.drift_detected, ours.warning_detected))
        assert seen[-1] == (river_s.drift_detected, river_s.warning_detected)
    assert any(drift for drift, _ in seen)
