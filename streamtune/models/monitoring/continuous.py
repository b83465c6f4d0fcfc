"""Continuous evaluation: the hourly accuracy check, the daily suite, and when each is due.

:func:`hourly_evaluation` judges a model version's last complete hour of live
accuracy against ``loop.eval_threshold`` and against the 24 hours before it
(a one-sided two-proportion z-test, so a dip within noise is not a
regression). :func:`daily_suite` runs the full offline evaluation
(:func:`~streamtune.models.evaluation.evaluate_model`) and turns its headline
figures into ``evaluations`` rows. :class:`Schedule` remembers when each job
last ran, on disk, so a restarted trainer does not run everything again.

Examples
--------
>>> result = hourly_evaluation(live, "intent_classifier", "v3", now=now,
...                            loop=settings.loop)                 # doctest: +SKIP
>>> for row in result.to_rows(): outbox.append("evaluations", row)  # doctest: +SKIP
>>> alert = result.to_alert("trainer")                              # doctest: +SKIP
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from streamtune.config import LoopSettings, Settings
from streamtune.models.monitoring.live import HOUR, LiveAccuracy, aware, hour_start
from streamtune.models.rollout.stats import normal_sf, two_proportion_z
from streamtune.schemas.alerts import Alert
from streamtune.sinks.disk import write_json_atomic

Status = Literal["passed", "failed", "insufficient"]
BASELINE = timedelta(hours=24)


@dataclass(frozen=True)
class EvaluationResult:
    """One hourly evaluation of one model version."""

    model: str
    version: str
    hour: datetime
    evaluated_at: datetime
    correct: int
    events: int
    threshold: float
    status: Status
    baseline_correct: int
    baseline_events: int
    z: float | None
    p_value: float | None
    regressed: bool
    schedule: str = "hourly"

    @property
    def accuracy(self) -> float | None:
        """Accuracy of the hour, None without labelled events."""
        return self.correct / self.events if self.events else None

    @property
    def baseline_accuracy(self) -> float | None:
        """Accuracy of the 24 hours before, None without labelled events."""
        return self.baseline_correct / self.baseline_events if self.baseline_events else None

    @property
    def drop(self) -> float | None:
        """Baseline accuracy minus the hour's, None when either is unknown."""
        if self.accuracy is None or self.baseline_accuracy is None:
            return None
        return self.baseline_accuracy - self.accuracy

    @property
    def evaluation_id(self) -> str:
        """Deterministic id: the same hour evaluated again replaces its rows."""
        return f"{self.model}/{self.version}/{self.schedule}/{self.hour.isoformat()}"

    def details(self) -> dict[str, Any]:
        """The numbers behind the verdict (JSON-ready)."""
        return {"status": self.status, "accuracy": self.accuracy,
                "baseline_accuracy": self.baseline_accuracy, "drop": self.drop,
                "z": self.z, "p_value": self.p_value, "regressed": self.regressed,
                "baseline_events": self.baseline_events,
                "evaluated_at": self.evaluated_at.isoformat()}

    def to_rows(self) -> list[dict[str, Any]]:
        """Rows for the ``evaluations`` table: ``accuracy`` (of the hour, gated by the
        threshold) and ``baseline`` (of the 24 h before; passed = not regressed).
        A value without events is written as 0.0 with ``events`` 0."""
        common = {"evaluation_id": self.evaluation_id, "time": self.hour.isoformat(),
                  "schedule": self.schedule, "model": self.model, "version": self.version,
                  "threshold": self.threshold, "details": self.details()}
        return [{**common, "metric": "accuracy", "value": self.accuracy or 0.0,
                 "passed": self.status == "passed", "events": self.events},
                {**common, "metric": "baseline", "value": self.baseline_accuracy or 0.0,
                 "passed": not self.regressed, "events": self.baseline_events}]

    def to_alert(self, source: str) -> Alert | None:
        """A ``regression`` alert: critical when regressed, warning when only below the
        threshold; None when the hour passed or had too few labelled events."""
        if not self.regressed and self.status != "failed":
            return None
        acc = f"{self.accuracy:.3f}" if self.accuracy is not None else "n/a"
        if self.regressed:
            title = f"{self.model} {self.version} regressed: accuracy {acc} " \
                    f"vs {self.baseline_accuracy:.3f} over the previous 24 h"
        else:
            title = f"{self.model} {self.version} accuracy {acc} below {self.threshold:.3f}"
        summary = (f"hour {self.hour.isoformat()}: {self.correct}/{self.events} correct; "
                   f"previous 24 h: {self.baseline_correct}/{self.baseline_events}")
        return Alert.raise_(kind="regression", severity="critical" if self.regressed else "warning",
                            title=title, summary=summary, signal="accuracy", scope=self.model,
                            key=self.evaluation_id, model=self.model, version=self.version,
                            raised_at=self.evaluated_at, source=source, details=self.details())


def hourly_evaluation(live: LiveAccuracy, model: str, version: str, *, now: datetime,
                      loop: LoopSettings, min_events: int = 50,
                      min_drop: float = 0.02) -> EvaluationResult:
    """Evaluate ``version`` of ``model`` on the last complete hour before ``now``.

    Passed when accuracy >= ``loop.eval_threshold`` over at least ``min_events``
    labelled events (else "insufficient"). Regressed when the hour's accuracy is
    below that of every served version of ``model`` in the 24 hours before, by
    more than ``min_drop`` and significantly (one-sided p < ``loop.significance``),
    with at least ``min_events`` on each side.
    """
    end = hour_start(now)
    start = end - HOUR
    correct, events = live.accuracy(model, since=start, until=end, version=version)
    base_correct, base_events = live.accuracy(model, since=start - BASELINE, until=start)
    status: Status = ("insufficient" if events < min_events else
                      "passed" if correct >= loop.eval_threshold * events else "failed")
    z = p_value = None
    regressed = False
    if events and base_events:
        test = two_proportion_z(base_correct, base_events, correct, events)
        z, p_value = test.statistic, normal_sf(test.statistic)  # one-sided: a drop
        drop = base_correct / base_events - correct / events
        regressed = (min(events, base_events) >= min_events and drop > min_drop
                     and p_value < loop.significance)
    return EvaluationResult(model=model, version=version, hour=start, evaluated_at=now,
                            correct=correct, events=events, threshold=loop.eval_threshold,
                            status=status, baseline_correct=base_correct,
                            baseline_events=base_events, z=z, p_value=p_value,
                            regressed=regressed)


def daily_rows(result: Mapping[str, Any], *, now: datetime,
               threshold: float) -> list[dict[str, Any]]:
    """``evaluations`` rows (schedule "daily") from a full evaluation ``result``: one per
    headline figure; each head's accuracy (the extractor's clean micro-F1) is gated by
    ``threshold``, the other figures are recorded with threshold 0 and passed."""
    from streamtune.models.evaluation import headline  # ~1 s import: only when run

    model, version = result["model"]["name"], result["model"]["version"]
    gated = {f"{head}.accuracy" for head in result.get("accuracy", {})}
    gated.add("clean.model.micro_f1")
    evaluation_id = f"{model}/{version}/daily/{now.date().isoformat()}"
    details = {"dataset": result.get("dataset", {}), "evaluated_at": now.isoformat()}
    rows = []
    for metric, value in headline(result).items():
        gate = metric in gated
        rows.append({"evaluation_id": evaluation_id, "time": now.isoformat(),
                     "schedule": "daily", "model": model, "version": version,
                     "metric": metric, "value": float(value),
                     "threshold": threshold if gate else 0.0,
                     "passed": bool(value >= threshold) if gate else True,
                     "events": int(result.get("examples", result.get("rows", 0))),
                     "details": {**details, "gated": gate}})
    return rows


def daily_suite(settings: Settings, model: str, *, now: datetime, ref: str = "champion",
                dataset_id: str | None = None) -> list[dict[str, Any]]:
    """Run the full evaluation of registry version ``ref`` (writing its report beside the
    model, as ``streamtune evaluate`` does) and return its :func:`daily_rows`."""
    from streamtune.models.evaluation import evaluate_model  # ~1 s import: only when run

    result, _, _ = evaluate_model(settings, model, ref, dataset_id, progress=False)
    return daily_rows(result, now=now, threshold=settings.loop.eval_threshold)


class Schedule:
    """When each job last ran, persisted as JSON at ``path``.

    Parameters
    ----------
    path
        The state file; read if it exists, rewritten (atomically) on every :meth:`mark`.
    intervals
        Seconds between runs per job name.
    """

    def __init__(self, path: Path, *, intervals: Mapping[str, float]) -> None:
        bad = {job: s for job, s in intervals.items() if not s > 0}
        if bad:
            raise ValueError(f"job intervals must be positive seconds: {bad}")
        self.path = path
        self.intervals = dict(intervals)
        self.last: dict[str, datetime] = {}
        if path.exists():
            try:
                state = json.loads(path.read_text("utf-8"))
                self.last = {str(job): aware(datetime.fromisoformat(at))
                             for job, at in state.items()}
            except (ValueError, TypeError, AttributeError) as exc:
                raise ValueError(f"{path}: not a schedule state file ({exc})") from exc

    @classmethod
    def for_loop(cls, path: Path, loop: LoopSettings) -> Schedule:
        """The loop's jobs: ``hourly``, ``daily`` and ``weekly_review``."""
        return cls(path, intervals={"hourly": loop.hourly_eval_s, "daily": loop.daily_suite_s,
                                    "weekly_review": loop.weekly_review_s})

    def due(self, job: str, now: datetime) -> bool:
        """Whether ``job`` never ran, or its interval has passed (or the clock went back)."""
        interval = self._interval(job)
        last = self.last.get(job)
        if last is None:
            return True
        elapsed = (aware(now) - last).total_seconds()
        return elapsed >= interval or elapsed < 0

    def mark(self, job: str, now: datetime) -> None:
        """Record that ``job`` ran at ``now`` and save the state."""
        self._interval(job)
        self.last[job] = aware(now)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.path, {j: t.isoformat() for j, t in self.last.items()})

    def _interval(self, job: str) -> float:
        if job not in self.intervals:
            raise ValueError(f"unknown job {job!r} (jobs: {sorted(self.intervals)})")
        return self.intervals[job]
