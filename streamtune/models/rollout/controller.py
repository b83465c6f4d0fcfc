"""The canary -> gradual rollout -> promote | rollback state machine for one candidate.

The trainer feeds it every record of the ``scored`` topic (:meth:`observe`)
and asks it after every step for a verdict (:meth:`decide`); it applies what
comes back. Stages are ``canary`` (candidate in shadow only) then
``rollout_<p>`` for each of ``settings.rollout_percents`` (candidate serves
p % of sessions, see :func:`~streamtune.models.rollout.split.in_rollout`).

Accuracy is judged by one :class:`~streamtune.models.rollout.sequential.NonInferiority`
test on the paired outcomes (both models score every event in every stage),
running through the stages, so its error rates hold for the rollout as a whole:
a candidate ``2δ`` worse is promoted with probability at most
``false_promotion_rate``, one no worse is rolled back by the test with
probability at most ``false_rollback_rate``. A stage

- fails (``reject`` at the canary, ``rollback`` later) as soon as the test says
  "worse than champion - δ";
- once it holds its minimum of paired events, fails when the candidate's p99
  scoring latency is over ``max_p99_latency_ratio`` x the champion's (>= 100
  samples each) or a model left more than ``max_failure_rate`` of the stage's
  events unscored;
- advances (after the last percent: promotes) once the test says "not worse";
- fails when it reaches ``stage_max_events`` paired events with neither verdict.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from streamtune.config import LoopSettings
from streamtune.errors import ConfigError, StreamtuneError
from streamtune.models.rollout.decision import Decision, Verdict
from streamtune.models.rollout.evidence import (
    CANDIDATE,
    CHAMPION,
    SIDES,
    PairBuffer,
    StageEvidence,
)
from streamtune.models.rollout.sequential import NonInferiority
from streamtune.models.rollout.stats import p99, wilson
from streamtune.schemas.predictions import PredictionRecord

LATENCY_MIN_SAMPLES = 100
STATE_FORMAT = 2
_SETTINGS = ("canary_min_events", "rollout_percents", "stage_min_events", "stage_max_events",
             "margin", "margins", "false_promotion_rate", "false_rollback_rate",
             "max_p99_latency_ratio", "max_failure_rate")


class RolloutError(StreamtuneError):
    """A rollout cannot be judged as asked (bad arguments or a bad saved state)."""


class RolloutController:
    """Judges ``candidate`` against ``champion`` of ``model``, stage by stage."""

    def __init__(self, model: str, *, champion: str, candidate: str, settings: LoopSettings,
                 pair_limit: int = 20_000) -> None:
        if not model or not champion or not candidate:
            raise RolloutError("a rollout needs a model, a champion and a candidate version")
        if champion == candidate:
            raise RolloutError(f"{model}: the candidate {candidate} is the champion itself")
        percents = list(settings.rollout_percents)
        if not percents or any(not 0 < p <= 100 for p in percents) or percents != sorted(
                set(percents)):
            raise ConfigError(f"loop.rollout_percents must rise strictly within (0, 100], "
                              f"not {percents}")
        margin = settings.margin_of(model)
        if not 0 < margin < 0.5:
            raise ConfigError(f"loop.margins[{model}] must lie in (0, 0.5), not {margin}")
        self.model, self.champion, self.candidate = model, champion, candidate
        self.settings = settings
        self.percents = percents
        self.stages = ["canary", *(f"rollout_{p}" for p in percents)]
        self.index = 0
        self.outcome: Verdict | None = None
        self.evidence = StageEvidence()
        self.pairs = PairBuffer(pair_limit)
        self.test = NonInferiority(margin=margin, alpha=settings.false_promotion_rate,
                                   beta=settings.false_rollback_rate)

    @property
    def stage(self) -> str:
        """The stage being judged (the last one judged once finished)."""
        return self.stages[self.index]

    @property
    def finished(self) -> bool:
        """Promoted, rejected or rolled back: nothing more to decide."""
        return self.outcome is not None

    @property
    def percent(self) -> float:
        """The share of sessions the candidate serves now."""
        if self.outcome in ("rollback", "reject"):
            return 0.0
        if self.outcome == "promote":
            return 100.0
        return float(self.percents[self.index - 1]) if self.index else 0.0

    def observe(self, record: PredictionRecord) -> None:
        """Take one scored record; other models and versions are ignored."""
        if self.finished or record.model != self.model:
            return
        if record.version == self.champion:
            side = CHAMPION
        elif record.version == self.candidate:
            side = CANDIDATE
        else:
            return
        if record.latency_us > 0:  # 0 is the schema default: not measured
            self.evidence.latencies[side].append(record.latency_us)
        if record.correct < 0:
            return
        halves = self.pairs.add(record.event_id, side, record.correct, worker=record.worker)
        if halves is None:
            return
        if record.served:
            self.evidence.add_served(side, record.correct)
        if min(halves) >= 0:
            self.evidence.add_pair(halves[CHAMPION], halves[CANDIDATE])

    def decide(self, now: datetime) -> Decision | None:
        """The stage's verdict if it has one now, else ``None`` (also once finished)."""
        if now.tzinfo is None:
            raise RolloutError("decide() needs a timezone-aware time (UTC)")
        if self.finished:
            return None
        for side, missing in enumerate(self.pairs.expire(now.timestamp())):
            self.evidence.unanswered[side] += missing
        b, c, ties = self.evidence.take_fresh()
        self.test.update(champion_only=b, candidate_only=c, ties=ties)
        failed: Verdict = "reject" if self.index == 0 else "rollback"
        verdict = self.test.verdict
        if verdict == "worse":
            return self._finish(failed, "worse than the champion by more than the margin",
                                now)
        need = self.settings.canary_min_events if self.index == 0 else \
            self.settings.stage_min_events
        if self.evidence.paired < need:
            return None
        if reason := self._slower() or self._failing():
            return self._finish(failed, reason, now)
        if verdict == "not_worse":
            return self._advance(now)
        if self.evidence.paired >= self.settings.stage_max_events:
            return self._finish(failed, f"undecided after {self.evidence.paired} paired events, "
                                f"the stage's deadline (stage_max_events)", now)
        return None

    def metrics(self) -> dict[str, Any]:
        """The running evidence: the test (whole rollout) and this stage's counts (JSON-ready)."""
        e = self.evidence
        n = e.paired
        metrics: dict[str, Any] = {
            "stage": self.stage, "percent": self.percent, "stage_paired": n,
            "both_right": e.both_right, "champion_only_right": e.b,
            "candidate_only_right": e.c, "both_wrong": e.both_wrong,
            "stage_min_events": (self.settings.canary_min_events if self.index == 0
                                 else self.settings.stage_min_events),
            "stage_max_events": self.settings.stage_max_events,
            **self.test.summary(),
        }
        right = (e.both_right + e.b, e.both_right + e.c)
        for side, name in enumerate(SIDES):
            metrics[f"{name}_accuracy"] = right[side] / n if n else None
            metrics[f"{name}_accuracy_ci95"] = list(wilson(right[side], n)) if n else None
            served = e.served_total[side]
            metrics[f"{name}_served"] = served
            metrics[f"{name}_served_accuracy"] = e.served_right[side] / served if served else None
            metrics[f"{name}_latency_samples"] = len(e.latencies[side])
            metrics[f"{name}_p99_us"] = p99(e.latencies[side]) if e.latencies[side] else None
            metrics[f"{name}_unscored"] = e.unanswered[side]
            metrics[f"{name}_failure_rate"] = e.failure_rate(side)
        enough = min(len(side) for side in e.latencies) >= LATENCY_MIN_SAMPLES
        metrics["p99_ratio"] = (metrics["candidate_p99_us"] / max(metrics["champion_p99_us"], 1)
                                if enough else None)
        metrics["max_p99_latency_ratio"] = self.settings.max_p99_latency_ratio
        metrics["max_failure_rate"] = self.settings.max_failure_rate
        return metrics

    def _slower(self) -> str | None:
        champion, candidate = self.evidence.latencies
        if min(len(champion), len(candidate)) < LATENCY_MIN_SAMPLES:
            return None
        ours, theirs = p99(candidate), p99(champion)
        ratio, limit = ours / max(theirs, 1), self.settings.max_p99_latency_ratio
        if ratio <= limit:
            return None
        return (f"p99 scoring latency {ours:.0f} µs is {ratio:.2f}x the champion's "
                f"{theirs:.0f} µs (limit {limit:.2f}x)")

    def _failing(self) -> str | None:
        limit = self.settings.max_failure_rate
        for side, name in enumerate(SIDES):
            rate = self.evidence.failure_rate(side)
            if rate is not None and rate > limit:
                version = self.champion if side == CHAMPION else self.candidate
                return (f"the {name} {version} left {self.evidence.unanswered[side]} of the "
                        f"stage's events unscored ({rate:.1%}, limit {limit:.1%})")
        return None

    def _advance(self, now: datetime) -> Decision:
        if self.index == len(self.percents):
            return self._finish("promote", "not worse than the champion by more than the "
                                "margin", now)
        metrics = {**self.metrics(), "next_percent": float(self.percents[self.index])}
        reason = (f"{self.candidate} advances from {self.stage} to {self.percents[self.index]}% "
                  f"of sessions: not worse than the champion by more than the margin; "
                  f"{_evidence(metrics, self.champion)}.")
        decision = Decision(self.model, self.candidate, self.champion, self.stage, "advance",
                            reason, now, metrics)
        self.index += 1
        self.evidence = StageEvidence()
        return decision

    def _finish(self, verdict: Verdict, why: str, now: datetime) -> Decision:
        metrics = self.metrics()
        verb = {"promote": "promoted after", "reject": "rejected at",
                "rollback": "rolled back at"}[verdict]
        self.outcome = verdict
        reason = (f"{self.candidate} {verb} {self.stage}: {why}; "
                  f"{_evidence(metrics, self.champion)}.")
        return Decision(self.model, self.candidate, self.champion, self.stage, verdict, reason,
                        now, metrics)

    def state(self) -> dict[str, Any]:
        """JSON-ready state: where the rollout is, what the test and the stage have seen."""
        return {"format": STATE_FORMAT, "model": self.model, "champion": self.champion,
                "candidate": self.candidate,
                "settings": self.settings.model_dump(include=set(_SETTINGS)),
                "stage_index": self.index, "outcome": self.outcome,
                "test": self.test.to_dict(), "evidence": self.evidence.to_dict(),
                "pairs": self.pairs.to_dict()}

    @classmethod
    def from_state(cls, d: dict[str, Any]) -> RolloutController:
        """The controller :meth:`state` saved, with the settings it started with."""
        try:
            if d["format"] != STATE_FORMAT:
                raise ValueError(f"format {d['format']!r}, expected {STATE_FORMAT}")
            controller = cls(d["model"], champion=d["champion"], candidate=d["candidate"],
                             settings=LoopSettings(**d["settings"]),
                             pair_limit=int(d["pairs"]["limit"]))
            index, outcome = int(d["stage_index"]), d["outcome"]
            if not 0 <= index < len(controller.stages):
                raise ValueError(f"stage_index {index} outside the {len(controller.stages)} stages")
            if outcome not in (None, "promote", "rollback", "reject"):
                raise ValueError(f"outcome {outcome!r}")
            controller.index, controller.outcome = index, outcome
            controller.test = NonInferiority.from_dict(d["test"])
            controller.evidence = StageEvidence.from_dict(d["evidence"])
            controller.pairs = PairBuffer.from_dict(d["pairs"])
        except (KeyError, TypeError, ValueError) as exc:
            raise RolloutError(f"bad rollout state: {exc!r}") from exc
        return controller


def _evidence(m: dict[str, Any], champion: str) -> str:
    """The numbers behind a verdict, in one clause."""
    low, high = m["diff_interval"]
    estimate = m["diff_estimate"]
    text = (f"{m['test']}, margin {m['margin'] * 100:.1f} points, set for at most "
            f"{m['alpha_false_promotion']:.0%} false promotions (candidate "
            f"{2 * m['margin'] * 100:.0f} points worse) and {m['beta_false_rollback']:.0%} false "
            f"rollbacks (no worse): {m['pairs']} paired events vs champion {champion}, ")
    if estimate is None:
        text += "no labelled pairs yet"
    else:
        text += (f"difference {estimate * 100:+.2f} points, interval ({low * 100:+.1f}, "
                 f"{high * 100:+.1f}), evidence not worse {m['evidence_not_worse']:.3g} / worse "
                 f"{m['evidence_worse']:.3g} (thresholds {m['thresholds'][0]:.3g} / "
                 f"{m['thresholds'][1]:.3g})")
    if m["p99_ratio"] is not None:
        text += f"; p99 latency {m['candidate_p99_us']:.0f} vs {m['champion_p99_us']:.0f} µs"
    unscored = m["candidate_unscored"] + m["champion_unscored"]
    return text + (f"; unscored events {m['champion_unscored']} champion / "
                   f"{m['candidate_unscored']} candidate" if unscored else "")
