"""River drift detectors by name, so settings can choose them, and the signals each accepts.

``binary`` detectors watch 0/1 streams where 1 is a failure (the monitor flips
success-like signals); HDDM_A, HDDM_W and DDM only see increases of failures.
``continuous`` ones watch real values (execution time, confidence, resource
use). Measured on river 0.26 (``benchmarks/detectors.py``): ADWIN and HDDM_A
raise no false alarms on stationary streams; PageHinkley with its defaults,
EDDM and KSWIN are noisy and are here for comparison. In river 0.26
``update()`` returns None; read ``drift_detected`` after it.

Examples
--------
>>> detector = make_detector("adwin", "continuous")
>>> feed(detector, 0.5)
False
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from river import base, stats

from streamtune.models.detection.river_drift import drift_package

if TYPE_CHECKING:
    from river import drift
else:
    drift = drift_package()  # river.drift without its eager imports (river_drift.py)


def _copy(mean: stats.Mean) -> stats.Mean:
    twin = stats.Mean.__new__(stats.Mean)
    twin.__dict__.update(mean.__dict__)
    return twin


class FastHDDMA(drift.binary.HDDMA):
    """river's HDDM_A with cheap copies of its running means (same detections).

    river 0.26 copies a mean with ``clone(include_attributes=True)`` whenever a
    new minimum is reached, which on rare-event streams is nearly every update
    (~60 µs); a copy of the mean's two floats gives the same state.
    """

    def __init__(self, drift_confidence: float = 0.001, warning_confidence: float = 0.005,
                 two_sided_test: bool = False) -> None:
        super().__init__(drift_confidence, warning_confidence,  # type: ignore[no-untyped-call]
                         two_sided_test)

    def _hoeffding_bound(self, n: float) -> float:
        return math.sqrt(1.0 / (2 * n) * math.log(1.0 / self.drift_confidence))

    def update(self, x: bool) -> None:
        if self.drift_detected:
            self._reset()  # type: ignore[no-untyped-call]
        z = self._z
        z.update(x)
        if self._x_min.n == 0:
            self._x_min = _copy(z)
        if self._x_max.n == 0:
            self._x_max = _copy(z)
        eps_z = self._hoeffding_bound(z.n)
        if self._x_min.get() + self._hoeffding_bound(self._x_min.n) >= z.get() + eps_z:
            self._x_min = _copy(z)
        if self._x_max.get() - self._hoeffding_bound(self._x_max.n) <= z.get() - eps_z:
            self._x_max = _copy(z)
        drift = self._mean_incr(self.drift_confidence)
        warning = not drift and self._mean_incr(self.warning_confidence)
        if self.two_sided_test:
            if self._mean_decr(self.drift_confidence):
                drift = True
            elif self._mean_decr(self.warning_confidence):
                warning = True
        self._drift_detected, self._warning_detected = drift, warning


SignalKind = Literal["binary", "continuous"]
SIGNAL_KINDS: tuple[SignalKind, ...] = ("binary", "continuous")


@dataclass(frozen=True)
class DetectorSpec:
    """How to build one detector and which kinds of signal it accepts."""

    name: str
    factory: Callable[[], base.DriftDetector | base.BinaryDriftDetector]
    accepts: frozenset[SignalKind]
    note: str


_BOTH: frozenset[SignalKind] = frozenset(SIGNAL_KINDS)
_BINARY: frozenset[SignalKind] = frozenset({"binary"})
_CONTINUOUS: frozenset[SignalKind] = frozenset({"continuous"})

DETECTORS: dict[str, DetectorSpec] = {spec.name: spec for spec in (
    DetectorSpec("adwin", drift.ADWIN, _BOTH, "adaptive window; quiet, default for values"),
    DetectorSpec("hddm_a", FastHDDMA, _BINARY, "Hoeffding bound on averages; "
                 "quiet, default for 0/1 streams"),
    DetectorSpec("hddm_w", drift.binary.HDDMW, _BINARY, "Hoeffding bound, weighted averages"),
    DetectorSpec("ddm", drift.binary.DDM, _BINARY, "error-rate test; sees increases only"),
    DetectorSpec("eddm", drift.binary.EDDM, _BINARY, "distance between errors; noisy"),
    DetectorSpec("page_hinkley", drift.PageHinkley, _BOTH, "cumulative sum; noisy defaults"),
    DetectorSpec("kswin", lambda: drift.KSWIN(seed=7), _CONTINUOUS,
                 "Kolmogorov-Smirnov window test; noisy"),
)}
"""Every detector settings may name, by name."""


class UnknownDetector(ValueError):
    """A detector name that is not in :data:`DETECTORS`."""


def detector_spec(name: str, kind: SignalKind) -> DetectorSpec:
    """The spec of ``name``; a clear error for an unknown name or a kind it cannot watch."""
    spec = DETECTORS.get(name)
    if spec is None:
        known = ", ".join(sorted(DETECTORS))
        raise UnknownDetector(f"unknown drift detector {name!r} (known: {known})")
    if kind not in spec.accepts:
        fits = ", ".join(sorted(n for n, s in DETECTORS.items() if kind in s.accepts))
        raise ValueError(f"drift detector {name!r} cannot watch {kind} signals "
                         f"(those that can: {fits})")
    return spec


Detector = base.DriftDetector | base.BinaryDriftDetector


def takes_bools(detector: Detector | None) -> bool:
    """Whether ``detector`` is updated with bools (River's binary detectors) not floats."""
    return isinstance(detector, base.BinaryDriftDetector)


def feed(detector: Detector, x: float) -> bool:
    """Update ``detector`` with ``x`` (a bool for binary detectors); whether it fired."""
    detector.update(x == 1.0 if takes_bools(detector) else x)  # type: ignore[arg-type]
    return bool(detector.drift_detected)


def make_detector(name: str, kind: SignalKind) -> Detector:
    """A fresh detector ``name`` for a signal of ``kind``."""
    return detector_spec(name, kind).factory()
