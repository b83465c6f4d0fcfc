"""Contract of every drift detector: the same checks over each (detector, signal kind).

Like river's ``check_estimator``, the checks are written once and run over every
entry of ``DETECTORS`` and every kind of signal it accepts, so a detector added to the
table is checked without a new test. A detector is used two ways: bare
(``make_detector`` + ``feed``) and behind a :class:`DriftMonitor` (the worker's
path, with its checks and saved state); both are checked.

Streams are seeded: 0/1 failures at p 0.1 -> 0.5, and N(0, 1) -> N(2, 1), with the
change at ``AT``. Measured on river 0.26, seed 0: every detector fires 14-91 values
after the change; on the stationary stream DDM and EDDM fire 4 times in 1200 values,
the others never (ADWIN and HDDM_A, the "quiet" ones, must not).

Not here: false-alarm rates over many seeds (``benchmarks/detectors.py``), the
monitor's warm-up, cooldown and scopes (``test_detection.py``).
"""

from __future__ import annotations

import math
import pickle
import random
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

import pytest
from river import base

from streamtune.config import DetectionSettings
from streamtune.models.detection import DETECTORS, DetectionState, DriftMonitor, state_path
from streamtune.models.detection.detectors import (
    SIGNAL_KINDS,
    SignalKind,
    detector_spec,
    feed,
    make_detector,
)
from streamtune.models.detection.monitor import GOOD_SIGNALS, SIGNALS

N, AT = 1200, 600
SHIFT_BOUND = 400
"""Most values after the change before a detector fires (measured: 14-91)."""
MAX_FALSE_ALARM_SHARE = 0.01
"""Most firings per value on a stationary noisy stream (measured: at most 4 / 1200)."""

CASES = [(name, kind) for name, spec in DETECTORS.items() for kind in sorted(spec.accepts)]
IDS = [f"{name}-{kind}" for name, kind in CASES]
T0 = datetime(2026, 1, 1, tzinfo=UTC)

# A signal of each kind the monitor feeds as it is (no 1 - x, no log1p).
PLAIN = {kind: next(s for s, k in SIGNALS.items()
                    if k == kind and s not in GOOD_SIGNALS and s != "execution_time")
         for kind in SIGNAL_KINDS}


def stream(kind: SignalKind, seed: int, *, shift: bool) -> tuple[float, ...]:
    rng = random.Random(seed)
    if kind == "binary":
        return tuple(float(rng.random() < (0.5 if shift and i >= AT else 0.1))
                     for i in range(N))
    return tuple(rng.gauss(0.0, 1.0) + (2.0 if shift and i >= AT else 0.0) for i in range(N))


def firings(detector: base.DriftDetector | base.BinaryDriftDetector,
            values: tuple[float, ...], offset: int = 0) -> list[int]:
    return [offset + i for i, x in enumerate(values) if feed(detector, x)]


@cache
def shifted_firings(name: str, kind: SignalKind) -> tuple[int, ...]:
    """Where a fresh detector fires on the shifted stream (computed once, shared)."""
    return tuple(firings(make_detector(name, kind), stream(kind, 0, shift=True)))


def settings_for(name: str, kind: SignalKind, **changes: object) -> DetectionSettings:
    field = "binary_detector" if kind == "binary" else "continuous_detector"
    return DetectionSettings(**{field: name, **changes})  # type: ignore[arg-type]


def eager(name: str, kind: SignalKind) -> DetectionSettings:
    """The detector behind a monitor that alerts on every firing (no warm-up, no cooldown)."""
    return settings_for(name, kind, warmup_events=0, cooldown_events=0, cooldown_s=0.0)


def observe_all(monitor: DriftMonitor, signal: str, values: tuple[float, ...],
                offset: int = 0) -> list[tuple[int, str, dict[str, object]]]:
    out = []
    for i, x in enumerate(values, start=offset):
        at = T0 + timedelta(seconds=i)
        out += [(i, str(a.alert_id), a.details)
                for a in monitor.observe(signal, x, key=f"e{i}", at=at)]
    return out


def test_the_family_is_complete() -> None:
    assert CASES, "no detectors registered"
    assert {kind for _, kind in CASES} == set(SIGNAL_KINDS)  # every kind has a detector
    assert set(PLAIN.values()) <= set(SIGNALS)


# -- identity ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "kind"), CASES, ids=IDS)
def test_name_and_spec_round_trip(name: str, kind: SignalKind) -> None:
    spec = detector_spec(name, kind)
    assert spec is DETECTORS[name] and spec.name == name and spec.note
    first, second = make_detector(name, kind), make_detector(name, kind)
    assert first is not second  # a fresh detector per call, never a shared one
    assert isinstance(first, base.DriftDetector | base.BinaryDriftDetector)
    assert type(first) is type(spec.factory())
    assert not first.drift_detected
    if "continuous" in spec.accepts:  # feed() would read a value as 0/1 for a binary one
        assert not isinstance(first, base.BinaryDriftDetector)
    monitor = DriftMonitor(settings_for(name, kind), source="w")
    assert monitor._detector_name(kind) == name  # noqa: SLF001 - the name settings chose


@pytest.mark.parametrize(("name", "kind"), CASES, ids=IDS)
def test_a_kind_it_cannot_watch_is_refused_naming_those_that_can(name: str,
                                                                 kind: SignalKind) -> None:
    for other in set(SIGNAL_KINDS) - DETECTORS[name].accepts:
        can = sorted(n for n, s in DETECTORS.items() if other in s.accepts)
        with pytest.raises(ValueError, match=f"{name!r} cannot watch {other}") as info:
            make_detector(name, other)
        assert f"(those that can: {', '.join(can)})" in str(info.value)
        with pytest.raises(ValueError, match=f"{name!r} cannot watch {other}"):
            DriftMonitor(settings_for(name, other), source="w")


# -- behaviour on streams ---------------------------------------------------------------------

@pytest.mark.parametrize(("name", "kind"), CASES, ids=IDS)
def test_a_constant_stream_never_fires(name: str, kind: SignalKind) -> None:
    levels = (0.0, 1.0) if kind == "binary" else (0.5, -3.0)
    for level in levels:
        assert firings(make_detector(name, kind), (level,) * (N // 2)) == [], level


@pytest.mark.parametrize(("name", "kind"), CASES, ids=IDS)
def test_a_stationary_noisy_stream_raises_few_alarms_and_quiet_ones_none(
        name: str, kind: SignalKind) -> None:
    fired = firings(make_detector(name, kind), stream(kind, 0, shift=False))
    assert len(fired) <= MAX_FALSE_ALARM_SHARE * N, fired
    if "quiet" in DETECTORS[name].note:  # what the table promises of itself
        assert fired == []


@pytest.mark.parametrize(("name", "kind"), CASES, ids=IDS)
def test_a_clear_shift_is_detected_within_a_bounded_delay(name: str, kind: SignalKind) -> None:
    after = [i for i in shifted_firings(name, kind) if i >= AT]
    assert after, f"{name} missed the shift"
    assert after[0] - AT <= SHIFT_BOUND, after[0]


@pytest.mark.parametrize(("name", "kind"), CASES, ids=IDS)
def test_the_same_input_gives_the_same_detections(name: str, kind: SignalKind) -> None:
    again = tuple(firings(make_detector(name, kind), stream(kind, 0, shift=True)))
    assert again == shifted_firings(name, kind)
    assert again  # something to compare: the shift is seen


@pytest.mark.parametrize(("name", "kind"), CASES, ids=IDS)
def test_a_pickled_detector_continues_like_the_uninterrupted_one(name: str,
                                                                 kind: SignalKind) -> None:
    values = stream(kind, 0, shift=True)
    for split in (AT // 2, AT + 5):  # before the change, and while it is being seen
        detector = make_detector(name, kind)
        seen = firings(detector, values[:split])
        resumed = pickle.loads(pickle.dumps(detector))  # noqa: S301 - our own bytes
        seen += firings(resumed, values[split:], offset=split)
        assert tuple(seen) == shifted_firings(name, kind), split


# -- behind the monitor -----------------------------------------------------------------------

@pytest.mark.parametrize(("name", "kind"), CASES, ids=IDS)
def test_saved_and_restored_state_continues_exactly(name: str, kind: SignalKind,
                                                    tmp_path: Path) -> None:
    settings, signal = eager(name, kind), PLAIN[kind]
    values = stream(kind, 0, shift=True)
    whole = observe_all(DriftMonitor(settings, source="w"), signal, values)
    # with warm-up and cooldown off, the monitor alerts exactly where the detector fires
    assert tuple(i for i, _, _ in whole) == shifted_firings(name, kind)
    assert all(d["detector"] == name for _, _, d in whole)

    split = AT - 50
    first = DetectionState.fresh(settings, "w")
    part = observe_all(first.drift, signal, values[:split])
    path = state_path(tmp_path, "w")
    first.save(path)
    resumed = DetectionState.load(path, settings, "w")
    assert resumed.drift is not first.drift
    assert resumed.drift.detectors() == {(signal, "global"): split}
    part += observe_all(resumed.drift, signal, values[split:], offset=split)
    assert part == whole


@pytest.mark.parametrize(("name", "kind"), CASES, ids=IDS)
def test_bad_values_are_refused_before_they_reach_the_detector(name: str,
                                                               kind: SignalKind) -> None:
    monitor = DriftMonitor(eager(name, kind), source="w")
    signal = PLAIN[kind]
    for i in range(5):
        monitor.observe(signal, 0.0, key=f"e{i}", at=T0)
    bad = [math.nan, math.inf, -math.inf] + ([0.5, 2.0, -1.0] if kind == "binary" else [])
    for value in bad:
        with pytest.raises(ValueError, match=f"{signal}: bad value .* for a {kind} signal"):
            monitor.observe(signal, value, key="bad", at=T0)
    # not a number at all: refused as clearly, not fed
    for value in ("1", None):
        with pytest.raises(ValueError, match=f"{signal}: bad value"):
            monitor.observe(signal, value, key="bad", at=T0)  # type: ignore[arg-type]
    assert monitor.detectors() == {(signal, "global"): 5}
