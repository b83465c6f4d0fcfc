"""The offline gate before a canary: candidate and champion on the same held-out split.

A candidate whose metric is more than ``max_accuracy_drop`` below the
champion's is rejected before it scores a single live event. So is one whose
test macro-F1 is more than ``baseline_margin`` below the TF-IDF + logistic
regression baseline's that training recorded beside it (``baseline.macro_f1``,
for the head of ``metric``), unless ``baseline_gate`` is off or the candidate's
metrics hold no baseline (the parameter extractor's). Otherwise it advances to
the canary (where it serves 0 % of sessions).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from streamtune.config import LoopSettings
from streamtune.models.rollout.decision import Decision, Verdict

BASELINE = "baseline.macro_f1"
"""The baseline's test macro-F1 in a version's metrics (see ``models/training/run.py``)."""
_EPS = 1e-12


def offline_verdict(model: str, candidate_metrics: Mapping[str, float],
                    champion_metrics: Mapping[str, float], *, metric: str, settings: LoopSettings,
                    candidate: str = "candidate", champion: str = "champion",
                    now: datetime | None = None) -> Decision:
    """``advance`` or ``reject`` at stage ``offline`` by ``metric`` (e.g. ``accuracy``)."""
    missing = [name for name, m in (("candidate", candidate_metrics),
                                    ("champion", champion_metrics)) if metric not in m]
    if missing:
        raise ValueError(f"{model}: no {metric!r} in the {' and '.join(missing)} metrics")
    ours, theirs = float(candidate_metrics[metric]), float(champion_metrics[metric])
    gap = theirs - ours
    limit = settings.max_accuracy_drop
    metrics: dict[str, Any] = {"metric": metric, "candidate": ours, "champion": theirs,
                               "gap": gap, "allowed_drop": limit}
    floor = _baseline(model, candidate_metrics, metric, settings)
    below = floor is not None and floor["baseline_gap"] > settings.baseline_margin + _EPS
    rejected = gap > limit + _EPS or below
    verdict: Verdict = "reject" if rejected else "advance"
    reason = (f"{candidate} {'rejected' if rejected else 'advances to the canary'} offline: "
              f"{metric} {ours:.4f} vs champion {champion} {theirs:.4f} on the same split "
              f"({abs(gap) * 100:.2f} points {'below' if gap > 0 else 'above'}, allowed drop "
              f"{limit * 100:.2f})")
    if floor is not None:
        shortfall = floor["baseline_gap"]
        reason += (f"; {floor['macro_f1_metric']} {floor['macro_f1']:.4f} vs TF-IDF + LR "
                   f"baseline {floor['baseline']:.4f} ({abs(shortfall) * 100:.2f} points "
                   f"{'below' if shortfall > 0 else 'above'}, allowed "
                   f"{settings.baseline_margin * 100:.2f} below)")
        metrics.update(floor)
    metrics.update({"percent": 0.0, "next_percent": 0.0})
    return Decision(model, candidate, champion, "offline", verdict, reason + ".",
                    now or datetime.now(UTC), metrics)


def _baseline(model: str, candidate_metrics: Mapping[str, float], metric: str,
              settings: LoopSettings) -> dict[str, Any] | None:
    """The candidate's macro-F1 beside the baseline's, when the gate applies."""
    if not settings.baseline_gate or BASELINE not in candidate_metrics:
        return None
    head = metric.rpartition(".")[0]
    name = f"{head}.macro_f1" if head else "macro_f1"
    if name not in candidate_metrics:
        raise ValueError(f"{model}: no {name!r} in the candidate metrics to set beside "
                         f"the baseline's")
    ours, baseline = float(candidate_metrics[name]), float(candidate_metrics[BASELINE])
    return {"macro_f1_metric": name, "macro_f1": ours, "baseline": baseline,
            "baseline_gap": baseline - ours, "baseline_margin": settings.baseline_margin}
