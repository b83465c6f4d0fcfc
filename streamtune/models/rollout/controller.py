"""The canary -> gradual rollout -> promote | rollback state machine for one candidate.

The trainer feeds it every record of the ``scored`` topic (:meth:`observe`)
and asks it now and then for a verdict (:meth:`decide`); it applies what comes
back. Stages are ``canary`` (candidate in shadow only) then ``rollout_<p>`` for
each of ``settings.rollout_percents`` (candidate serves p % of sessions, see
:func:`~streamtune.models.rollout.split.in_rollout`). Each stage judges its own
evidence, once it holds its minimum of paired labelled events:

- reject (canary) / rollback: the candidate is worse by more than
  ``max_accuracy_drop`` and McNemar says the difference is significant, or its
  median scoring latency exceeds ``max_latency_ratio`` x the champion's (>= 100
  samples each; the median, because a batch slowed by a busy machine is no verdict);
- otherwise advance to the next percent; after the last one, promote.

In a rollout stage an early stop rolls back before the minimum: the
candidate's accuracy on the sessions it served is more than
``2 x max_accuracy_drop`` below the champion's on its sessions, with a
two-proportion z-test p < ``significance / 5`` (>= 50 served answers each;
stricter, because it looks several times and sees only the served groups). It
looks when the smaller served group reaches 50, then each time it doubles, so
how often :meth:`decide` is called does not multiply its false alarms.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from streamtune.config import LoopSettings
from streamtune.errors import ConfigError, StreamtuneError
from streamtune.models.rollout.decision import Decision, Verdict
from streamtune.models.rollout.evidence import CANDIDATE, CHAMPION, PairBuffer, StageEvidence
from streamtune.models.rollout.stats import mcnemar, p99, percentile, two_proportion_z, wilson
from streamtune.schemas.predictions import PredictionRecord

LATENCY_MIN_SAMPLES = 100
EARLY_STOP_MIN = 50
EARLY_STOP_STRICTNESS = 5
"""The early stop tests at ``significance / 5``: it looks often, on fewer answers."""
STATE_FORMAT = 1
_SETTINGS = ("canary_min_events", "rollout_percents", "stage_min_events", "max_accuracy_drop",
             "significance", "max_latency_ratio")


class RolloutError(StreamtuneError):
    """A rollout cannot be judged as asked (bad arguments or a bad saved state)."""


class RolloutController:
    """Judges ``candidate`` against ``champion`` of ``model``, stage by stage."""

    def __init__(self, model: str, *, champion: str, candidate: str, settings: LoopSettings,
                 pair_limit: int = 10_000) -> None:
        if not model or not champion or not candidate:
            raise RolloutError("a rollout needs a model, a champion and a candidate version")
        if champion == candidate:
            raise RolloutError(f"{model}: the candidate {candidate} is the champion itself")
        percents = list(settings.rollout_percents)
        if not percents or any(not 0 < p <= 100 for p in percents) or percents != sorted(
                set(percents)):
            raise ConfigError(f"loop.rollout_percents must rise strictly within (0, 100], "
                              f"not {percents}")
        self.model, self.champion, self.candidate = model, champion, candidate
        self.settings = settings
        self.percents = percents
        self.stages = ["canary", *(f"rollout_{p}" for p in percents)]
        self.index = 0
        self.outcome: Verdict | None = None
        self.evidence = StageEvidence()
        self.pairs = PairBuffer(pair_limit)

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
        halves = self.pairs.add(record.event_id, side, record.correct)
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
        metrics = self.metrics()
        failed: Verdict = "reject" if self.index == 0 else "rollback"
        if self.index and (reason := self._early_stop(metrics)):
            return self._finish("rollback", reason, metrics, now)
        loop = self.settings
        need = loop.canary_min_events if self.index == 0 else loop.stage_min_events
        if self.evidence.paired < need:
            return None
        reason = self._worse(metrics) or self._slower(metrics)
        if reason:
            return self._finish(failed, reason, metrics, now)
        summary = _summary(metrics, self.champion)
        if self.index == len(self.percents):
            return self._finish("promote", f"{self.candidate} promoted after {self.stage}: "
                                f"{summary}.", metrics, now)
        metrics["next_percent"] = float(self.percents[self.index])
        decision = Decision(self.model, self.candidate, self.champion, self.stage, "advance",
                            f"{self.candidate} advances from {self.stage} to "
                            f"{self.percents[self.index]}% of sessions: {summary}.", now, metrics)
        self.index += 1
        self.evidence = StageEvidence()
        return decision

    def metrics(self) -> dict[str, Any]:
        """The current stage's numbers (JSON-ready; ``None`` where there is no data yet)."""
        e = self.evidence
        n = e.paired
        right = (e.both_right + e.b, e.both_right + e.c)
        test = mcnemar(e.b, e.c)
        metrics: dict[str, Any] = {
            "stage": self.stage, "percent": self.percent, "paired": n,
            "both_right": e.both_right, "champion_only_right": e.b,
            "candidate_only_right": e.c, "both_wrong": e.both_wrong,
            "mcnemar_p": test.p_value, "mcnemar_exact": test.exact,
        }
        for side, name in ((CHAMPION, "champion"), (CANDIDATE, "candidate")):
            metrics[f"{name}_accuracy"] = right[side] / n if n else None
            metrics[f"{name}_accuracy_ci95"] = list(wilson(right[side], n)) if n else None
            served = e.served_total[side]
            metrics[f"{name}_served"] = served
            metrics[f"{name}_served_accuracy"] = e.served_right[side] / served if served else None
            metrics[f"{name}_latency_samples"] = len(e.latencies[side])
            metrics[f"{name}_p99_us"] = p99(e.latencies[side]) if e.latencies[side] else None
            metrics[f"{name}_p50_us"] = (percentile(e.latencies[side], 0.5)
                                         if e.latencies[side] else None)
        enough = min(len(side) for side in e.latencies) >= LATENCY_MIN_SAMPLES
        metrics["p99_ratio"] = (metrics["candidate_p99_us"] / metrics["champion_p99_us"]
                                if enough else None)
        metrics["p50_ratio"] = (metrics["candidate_p50_us"] / metrics["champion_p50_us"]
                                if enough else None)
        if min(e.served_total) > 0:
            z = two_proportion_z(e.served_right[CANDIDATE], e.served_total[CANDIDATE],
                                 e.served_right[CHAMPION], e.served_total[CHAMPION])
            metrics["served_z"], metrics["served_z_p"] = z.statistic, z.p_value
        else:
            metrics["served_z"] = metrics["served_z_p"] = None
        return metrics

    def _early_stop(self, m: dict[str, Any]) -> str | None:
        limit = 2 * self.settings.max_accuracy_drop
        smaller = min(m["champion_served"], m["candidate_served"])
        if smaller < max(EARLY_STOP_MIN, self.evidence.early_look):
            return None
        self.evidence.early_look = 2 * smaller  # look again once the data doubles
        gap = m["champion_served_accuracy"] - m["candidate_served_accuracy"]
        if gap <= limit or m["served_z_p"] >= self.settings.significance / EARLY_STOP_STRICTNESS:
            return None
        return (f"{self.candidate} rolled back early at {self.stage}: accuracy "
                f"{m['candidate_served_accuracy']:.3f} on the {m['candidate_served']} answers it "
                f"served vs champion {self.champion} {m['champion_served_accuracy']:.3f} on "
                f"{m['champion_served']}, {gap * 100:.1f} points below (limit {limit * 100:.1f}), "
                f"z-test p={m['served_z_p']:.2g}.")

    def _worse(self, m: dict[str, Any]) -> str | None:
        drop = self.settings.max_accuracy_drop
        gap = (m["champion_only_right"] - m["candidate_only_right"]) / m["paired"]
        if gap <= drop + 1e-12 or m["mcnemar_p"] >= self.settings.significance:
            return None
        verb = "rejected at" if self.index == 0 else "rolled back at"
        return (f"{self.candidate} {verb} {self.stage}: accuracy {m['candidate_accuracy']:.3f} vs "
                f"champion {self.champion} {m['champion_accuracy']:.3f} on {m['paired']} paired "
                f"events, {gap * 100:.1f} points below (allowed {drop * 100:.1f}), "
                f"McNemar p={m['mcnemar_p']:.2g}.")

    def _slower(self, m: dict[str, Any]) -> str | None:
        ratio = m["p50_ratio"]  # the median: one batch slowed by a busy machine is no verdict
        if ratio is None or ratio <= self.settings.max_latency_ratio:
            return None
        verb = "rejected at" if self.index == 0 else "rolled back at"
        return (f"{self.candidate} {verb} {self.stage}: median latency "
                f"{m['candidate_p50_us']:.0f} µs is {ratio:.2f}x champion {self.champion}'s "
                f"{m['champion_p50_us']:.0f} µs (p99 {m['candidate_p99_us']:.0f} vs "
                f"{m['champion_p99_us']:.0f} µs) "
                f"(limit {self.settings.max_latency_ratio:.2f}x).")

    def _finish(self, verdict: Verdict, reason: str, metrics: dict[str, Any],
                now: datetime) -> Decision:
        self.outcome = verdict
        return Decision(self.model, self.candidate, self.champion, self.stage, verdict, reason,
                        now, metrics)

    def state(self) -> dict[str, Any]:
        """JSON-ready state: where the rollout is and what the current stage has seen."""
        return {"format": STATE_FORMAT, "model": self.model, "champion": self.champion,
                "candidate": self.candidate,
                "settings": self.settings.model_dump(include=set(_SETTINGS)),
                "stage_index": self.index, "outcome": self.outcome,
                "evidence": self.evidence.to_dict(), "pairs": self.pairs.to_dict()}

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
            controller.evidence = StageEvidence.from_dict(d["evidence"])
            controller.pairs = PairBuffer.from_dict(d["pairs"])
        except (KeyError, TypeError, ValueError) as exc:
            raise RolloutError(f"bad rollout state: {exc!r}") from exc
        return controller


def _summary(m: dict[str, Any], champion: str) -> str:
    text = (f"accuracy {m['candidate_accuracy']:.3f} vs champion {champion} "
            f"{m['champion_accuracy']:.3f} on {m['paired']} paired events "
            f"(McNemar p={m['mcnemar_p']:.2g})")
    if m["p50_ratio"] is None:
        return text + ", latency not compared yet"
    return (text + f", median latency {m['candidate_p50_us']:.0f} vs "
            f"{m['champion_p50_us']:.0f} µs")
