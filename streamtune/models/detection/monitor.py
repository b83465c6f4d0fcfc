"""Drift alerts from named live signals: one River detector per (signal, scope).

The worker feeds every clean event's signals to the monitor (a batch at a time,
below); a detector that fires becomes an ``Alert`` (kind ``drift``). Three rules keep
alerts few and meaningful:

- scopes other than ``global`` (e.g. ``command_type=start_pump``) get a
  detector only once ``scope_min_events`` values of that scope were counted;
- warm-up: no alert during a detector's first ``warmup_events`` updates;
- cooldown: after an alert for (signal, scope), none for it until both
  ``cooldown_events`` more values and ``cooldown_s`` seconds of event time
  have passed, so one change raises one alert.

``execution_time`` is fed in seconds and watched as ``log1p(seconds)`` (log-normal
times become near-Gaussian); the means in an alert are in seconds. Error rate per
error type: call :meth:`DriftMonitor.observe_error` once per command event
(``None``: no error) and once per error event (its ``error_type``); it feeds the
``error`` signal in scope ``global`` and one 0/1 stream per error type seen so
far, in scope ``error_type=<type>`` (share of outcomes that are that error).

A worker feeds a whole batch at once (:class:`DriftBatch`, :meth:`DriftMonitor.observe_batch`):
each (signal, scope) gets its run of values in one loop, and the error types' 0/1
streams are built from the batch's outcomes as lists; the alerts are those, in the
order, that feeding value by value raises.

Severity: ``critical`` when the failure rate of ``success`` (1 - mean) or
``error`` (mean) more than doubled; ``warning`` otherwise.
"""

from __future__ import annotations

import logging
import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from operator import itemgetter
from typing import Any, Generic, TypeVar

from streamtune.config import DetectionSettings
from streamtune.models.detection.detectors import (
    Detector,
    SignalKind,
    detector_spec,
    takes_bools,
)
from streamtune.schemas.alerts import Alert

log = logging.getLogger(__name__)

SIGNALS: dict[str, SignalKind] = {
    "success": "binary", "intent_correct": "binary", "predictor_correct": "binary",
    "error": "binary", "execution_time": "continuous", "confidence": "continuous",
    "cpu": "continuous", "memory": "continuous",
}
"""The signals the worker feeds, and their kind; more via ``DriftMonitor(signals=...)``."""

GOOD_SIGNALS = frozenset({"success", "intent_correct", "predictor_correct"})
"""Binary signals where 1 is good: detectors see ``1 - value``, so 1 always means a failure
(HDDM_A and DDM test one side: they alert when failures become more frequent)."""

FAILURE_SIGNALS: dict[str, bool] = {"success": False, "error": True}
"""Signals whose failure rate sets the severity: True when the mean is the failure rate."""

EWMA_ALPHA = 0.02
"""Weight of the newest value in the recent mean (about the last 50 values)."""

MAX_ERROR_TYPES = 100
"""Error types that get their own stream; later ones only count in ``error``."""


@dataclass
class _Track:
    """One (signal, scope): its detector once created, counters and two means."""

    count: int = 0
    updates: int = 0
    detector: Detector | None = None
    binary: bool = False
    """Whether ``detector`` takes bools (:func:`takes_bools`, kept: it is asked per value)."""
    mean: float = 0.0
    mean_n: int = 0
    recent: float = 0.0
    alert_update: int | None = None
    alert_at: datetime | None = None


class DriftMonitor:
    """Per-(signal, scope) River detectors over the live signals of one worker."""

    def __init__(self, settings: DetectionSettings, *, source: str,
                 signals: Mapping[str, SignalKind] | None = None) -> None:
        self.settings = settings
        self.source = source
        self.signals = {**SIGNALS, **(signals or {})}
        for kind in set(self.signals.values()):
            detector_spec(self._detector_name(kind), kind)  # a bad name fails here, once
        self._tracks: dict[tuple[str, str], _Track] = {}
        self._error_types: set[str] = set()
        self._error_scopes: list[tuple[str, str]] = []
        """(error type, its scope) in name order, for every type in ``_error_types``."""

    def observe(self, signal: str, value: float, *, scope: str = "global", key: str,
                at: datetime) -> list[Alert]:
        """Feed one value of ``signal`` in ``scope``; the alerts it raises (0 or 1)."""
        batch = DriftBatch()
        batch.add(signal, value, scope=scope, key=key, at=at)
        return [alert for _, alert in self.observe_batch(batch)]

    def observe_error(self, error_type: str | None, *, key: str, at: datetime) -> list[Alert]:
        """One outcome: ``None`` for a command without error, else an error event's type."""
        batch = DriftBatch()
        batch.add_outcome(error_type, key=key, at=at)
        return [alert for _, alert in self.observe_batch(batch)]

    def observe_batch(self, batch: DriftBatch) -> list[tuple[tuple[int, str], Alert]]:
        """Feed a batch, each (signal, scope) its run of values in one loop; the alerts,
        each with its arrival rank, in the order feeding value by value raises them.

        Raises ``ValueError`` for a bad value before anything is fed.
        """
        runs = [(signal, self._checked(signal, scope, run), scope, run)
                for (signal, scope), run in batch.runs.items()]
        if batch.outcomes:
            _check_times(batch.outcomes.ats)
        found: list[tuple[tuple[int, str], Alert]] = []
        for signal, kind, scope, run in runs:
            self._feed(signal, kind, scope, run, found)
        if batch.outcomes:
            self._feed_outcomes(batch.outcomes, found)
        found.sort(key=itemgetter(0))
        return found

    def _checked(self, signal: str, scope: str, run: _Run[float]) -> SignalKind:
        """The signal's kind, once every value of its run is valid for it."""
        kind = self.signals.get(signal)
        if kind is None:
            known = ", ".join(sorted(self.signals))
            raise ValueError(f"unknown signal {signal!r} (known: {known})")
        _check_times(run.ats)
        for value in run.values:
            if (type(value) not in (float, int) and not isinstance(value, numbers.Real)
                    or not math.isfinite(value)
                    or (kind == "binary" and value not in (0.0, 1.0))):
                raise ValueError(f"{signal}: bad value {value!r} for a {kind} signal")
            if signal == "execution_time" and value < 0:
                raise ValueError(f"execution_time: negative value {value!r}")
        return kind

    def _feed(self, signal: str, kind: SignalKind, scope: str, run: _Run[float],
              found: list[tuple[tuple[int, str], Alert]], tiebreak: str = "") -> None:
        """Feed a run of checked values to the (signal, scope) detector, adding the alerts
        it raises to ``found`` (ranked by arrival, then ``tiebreak``)."""
        track = self._tracks.get((signal, scope))
        if track is None:
            track = self._tracks[(signal, scope)] = _Track()
        log_scale, flip = signal == "execution_time", signal in GOOD_SIGNALS
        scoped_min = 0 if scope == "global" else self.settings.scope_min_events
        detector, binary = track.detector, track.binary
        count, updates = track.count, track.updates
        mean, mean_n, recent = track.mean, track.mean_n, track.recent
        for i, value in enumerate(run.values):  # per value: the loop holds the track's counters
            count += 1
            mean_n += 1
            mean += (value - mean) / mean_n
            recent = value if mean_n == 1 else recent + EWMA_ALPHA * (value - recent)
            if detector is None:
                if count < scoped_min:
                    continue
                detector = track.detector = detector_spec(
                    self._detector_name(kind), kind).factory()
                binary = track.binary = takes_bools(detector)
            x = math.log1p(value) if log_scale else value
            if flip:
                x = 1.0 - x
            detector.update(x == 1.0 if binary else x)  # type: ignore[arg-type]
            updates += 1
            if detector.drift_detected:
                track.count, track.updates = count, updates
                track.mean, track.mean_n, track.recent = mean, mean_n, recent
                at = run.ats[i]
                if self._may_alert(track, at):
                    found.append(((run.ranks[i], tiebreak),
                                  self._alert(signal, scope, run.keys[i], at, track)))
                    track.alert_update, track.alert_at = updates, at
                    mean, mean_n = recent, 1  # the new regime is the next baseline
        track.count, track.updates = count, updates
        track.mean, track.mean_n, track.recent = mean, mean_n, recent

    def _feed_outcomes(self, outcomes: _Run[str | None],
                       found: list[tuple[tuple[int, str], Alert]]) -> None:
        """The ``error`` stream in scope ``global``, then one 0/1 stream per error type
        known (each from the outcome that made it known)."""
        types = outcomes.values
        self._feed("error", "binary", "global",
                   _Run(outcomes.ranks, [0.0 if t is None else 1.0 for t in types],
                        outcomes.keys, outcomes.ats), found)
        first: dict[str, int] = {}
        for i, error_type in enumerate(types):
            if error_type is None or error_type in self._error_types or error_type in first:
                continue
            if len(self._error_types) < MAX_ERROR_TYPES:
                self._error_types.add(error_type)
                first[error_type] = i
            else:
                first[error_type] = -1  # over the limit, never fed: warned once a batch
                log.warning("more than %d error types; %r only counts in 'error'",
                            MAX_ERROR_TYPES, error_type)
        if first:
            self._error_scopes = _error_scopes(self._error_types)
        for seen, scope in self._error_scopes:
            start = first.get(seen, 0)
            run = _Run(outcomes.ranks[start:], [1.0 if t == seen else 0.0 for t in types[start:]],
                       outcomes.keys[start:], outcomes.ats[start:])
            self._feed("error", "binary", scope, run, found, tiebreak=scope)

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Unpickle, also state saved before ``_error_scopes`` and ``_Track.binary`` existed."""
        self.__dict__.update(state)
        self._error_scopes = _error_scopes(self._error_types)
        for track in self._tracks.values():
            track.binary = takes_bools(track.detector)

    def detectors(self) -> dict[tuple[str, str], int]:
        """(signal, scope) -> updates, for every track that has a detector."""
        return {k: t.updates for k, t in self._tracks.items() if t.detector is not None}

    def _detector_name(self, kind: SignalKind) -> str:
        s = self.settings
        return s.binary_detector if kind == "binary" else s.continuous_detector

    def _may_alert(self, track: _Track, at: datetime) -> bool:
        if track.updates <= self.settings.warmup_events:
            return False
        if track.alert_update is None or track.alert_at is None:
            return True
        events_ok = track.updates - track.alert_update >= self.settings.cooldown_events
        seconds_ok = (at - track.alert_at).total_seconds() >= self.settings.cooldown_s
        return events_ok and seconds_ok

    def _alert(self, signal: str, scope: str, key: str, at: datetime, track: _Track) -> Alert:
        before, after = track.mean, track.recent
        severity: Any = "warning"
        if signal in FAILURE_SIGNALS:
            is_rate = FAILURE_SIGNALS[signal]
            fail_before = before if is_rate else 1.0 - before
            fail_after = after if is_rate else 1.0 - after
            if fail_after > 2.0 * fail_before:
                severity = "critical"
        direction = "up" if after > before else "down"
        name = self._detector_name(self.signals[signal])
        title = f"{signal} drift ({scope[:150]}): mean {before:.4g} -> {after:.4g} ({direction})"
        return Alert.raise_(
            kind="drift", severity=severity, title=title, key=key, signal=signal, scope=scope,
            source=self.source, raised_at=at,
            summary=f"{name} detected a change of {signal} in {scope} after "
                    f"{track.updates} values",
            details={"detector": name, "events_seen": track.count, "detector_updates":
                     track.updates, "mean_before": before, "mean_after": after,
                     "direction": direction, "key": f"{signal}/{scope}/{key}"})


def _error_scopes(error_types: set[str]) -> list[tuple[str, str]]:
    return [(t, f"error_type={t}") for t in sorted(error_types)]


def _check_times(ats: list[datetime]) -> None:
    for at in ats:
        if at.tzinfo is None or at.utcoffset() is None:
            raise ValueError("at must be timezone-aware")


V = TypeVar("V")


@dataclass(slots=True)
class _Run(Generic[V]):
    """Values in a batch, in arrival order, with their arrival ranks, keys and event times:
    one (signal, scope)'s, or the outcomes (``None``: a command without error; else an
    error type)."""

    ranks: list[int] = field(default_factory=list)
    values: list[V] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    ats: list[datetime] = field(default_factory=list)


class DriftBatch:
    """A batch of detector inputs in arrival order, for :meth:`DriftMonitor.observe_batch`.

    Values are grouped by (signal, scope) as they come, so the monitor feeds each
    detector its run in one loop (error types' 0/1 streams are built from the
    outcomes there); each keeps its arrival rank, which orders the alerts.
    """

    def __init__(self) -> None:
        self.runs: dict[tuple[str, str], _Run[float]] = {}
        self.outcomes: _Run[str | None] = _Run()
        self._next = 0

    def add(self, signal: str, value: float, *, scope: str = "global", key: str,
            at: datetime) -> None:
        """One value of ``signal`` in ``scope``."""
        run = self.runs.get((signal, scope))
        if run is None:
            run = self.runs[(signal, scope)] = _Run()
        run.ranks.append(self._next)
        self._next += 1
        run.values.append(value)
        run.keys.append(key)
        run.ats.append(at)

    def add_outcome(self, error_type: str | None, *, key: str, at: datetime) -> None:
        """One outcome: ``None`` for a command without error, else an error event's type."""
        if error_type is not None and not error_type:
            raise ValueError("error_type must be None or a non-empty string")
        outcomes = self.outcomes
        outcomes.ranks.append(self._next)
        self._next += 1
        outcomes.values.append(error_type)
        outcomes.keys.append(key)
        outcomes.ats.append(at)

    def rank(self) -> int:
        """The next arrival rank (also for alerts raised beside the batch, in between)."""
        rank, self._next = self._next, self._next + 1
        return rank
