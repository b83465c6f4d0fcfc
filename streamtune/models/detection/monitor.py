"""Drift alerts from named live signals: one River detector per (signal, scope).

The worker feeds every clean event's signals to :meth:`DriftMonitor.observe`;
a detector that fires becomes an ``Alert`` (kind ``drift``). Three rules keep
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

Severity: ``critical`` when the failure rate of ``success`` (1 - mean) or
``error`` (mean) more than doubled; ``warning`` otherwise.
"""

from __future__ import annotations

import logging
import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

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

    def add(self, raw: float) -> None:
        self.count += 1
        self.mean_n += 1
        self.mean += (raw - self.mean) / self.mean_n
        self.recent = raw if self.mean_n == 1 else self.recent + EWMA_ALPHA * (raw - self.recent)


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
        kind = self.signals.get(signal)
        if kind is None:
            known = ", ".join(sorted(self.signals))
            raise ValueError(f"unknown signal {signal!r} (known: {known})")
        if at.tzinfo is None or at.utcoffset() is None:
            raise ValueError("at must be timezone-aware")
        if (type(value) not in (float, int) and not isinstance(value, numbers.Real)
                or not math.isfinite(value)
                or (kind == "binary" and value not in (0.0, 1.0))):
            raise ValueError(f"{signal}: bad value {value!r} for a {kind} signal")
        if signal == "execution_time" and value < 0:
            raise ValueError(f"execution_time: negative value {value!r}")
        alert = self._feed(signal, kind, value, scope, key, at)
        return [] if alert is None else [alert]

    def _feed(self, signal: str, kind: SignalKind, value: float, scope: str, key: str,
              at: datetime) -> Alert | None:
        """:meth:`observe` for arguments already checked (called ~10 times per event)."""
        track = self._tracks.get((signal, scope))
        if track is None:
            track = self._tracks[(signal, scope)] = _Track()
        track.add(value)
        detector = track.detector
        if detector is None:
            if scope != "global" and track.count < self.settings.scope_min_events:
                return None
            detector = track.detector = detector_spec(self._detector_name(kind), kind).factory()
            track.binary = takes_bools(detector)
        x = math.log1p(value) if signal == "execution_time" else value
        if signal in GOOD_SIGNALS:
            x = 1.0 - x
        detector.update(x == 1.0 if track.binary else x)  # type: ignore[arg-type]
        track.updates += 1
        if not detector.drift_detected or not self._may_alert(track, at):
            return None
        alert = self._alert(signal, scope, key, at, track)
        track.alert_update, track.alert_at = track.updates, at
        track.mean, track.mean_n = track.recent, 1  # the new regime is the next baseline
        return alert

    def observe_error(self, error_type: str | None, *, key: str, at: datetime) -> list[Alert]:
        """One outcome: ``None`` for a command without error, else an error event's type."""
        if error_type is not None and not error_type:
            raise ValueError("error_type must be None or a non-empty string")
        alerts = self.observe("error", 0.0 if error_type is None else 1.0, key=key, at=at)
        if error_type is not None and error_type not in self._error_types:
            if len(self._error_types) < MAX_ERROR_TYPES:
                self._error_types.add(error_type)
                self._error_scopes = _error_scopes(self._error_types)
            else:
                log.warning("more than %d error types; %r only counts in 'error'",
                            MAX_ERROR_TYPES, error_type)
        feed_one = self._feed  # called per command and error type: skip observe's checks
        for seen, scope in self._error_scopes:
            alert = feed_one("error", "binary", 1.0 if seen == error_type else 0.0, scope,
                             key, at)
            if alert is not None:
                alerts.append(alert)
        return alerts

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
