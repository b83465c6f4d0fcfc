"""The offline gate before a canary: candidate and champion on the same held-out split.

A candidate whose metric is more than ``max_accuracy_drop`` below the
champion's is rejected before it scores a single live event; otherwise it
advances to the canary (where it serves 0 % of sessions).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from streamtune.config import LoopSettings
from streamtune.models.rollout.decision import Decision, Verdict


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
    rejected = gap > limit + 1e-12
    verdict: Verdict = "reject" if rejected else "advance"
    reason = (f"{candidate} {'rejected' if rejected else 'advances to the canary'} offline: "
              f"{metric} {ours:.4f} vs champion {champion} {theirs:.4f} on the same split "
              f"({abs(gap) * 100:.2f} points {'below' if gap > 0 else 'above'}, allowed drop "
              f"{limit * 100:.2f}).")
    metrics = {"metric": metric, "candidate": ours, "champion": theirs, "gap": gap,
               "allowed_drop": limit, "percent": 0.0, "next_percent": 0.0}
    return Decision(model, candidate, champion, "offline", verdict, reason,
                    now or datetime.now(UTC), metrics)
