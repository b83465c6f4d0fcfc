"""One rollout decision: what was decided at which stage, why, and the numbers behind it.

The trainer applies it (registry promote/rollback, model-control message),
stores it as a ``loop_decisions`` row (:meth:`Decision.to_row`) and raises it
as a ``rollout`` alert (:meth:`Decision.to_alert`). ``decision_id`` is
``model/candidate/stage``, so a decision made again after a restart or replay
folds onto the same row and the same alert.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from streamtune.schemas.alerts import Alert, AlertSeverity

Verdict = Literal["advance", "promote", "rollback", "reject", "hold"]
SEVERITY: dict[str, AlertSeverity] = {
    "advance": "info", "promote": "info", "hold": "info",
    "reject": "warning", "rollback": "critical",
}


@dataclass(frozen=True)
class Decision:
    """A verdict on ``candidate`` against ``champion`` at ``stage`` (``canary``, ``rollout_25``...).

    ``metrics`` is JSON-ready; ``metrics["next_percent"]`` is the candidate's
    serving share once an ``advance`` is applied.
    """

    model: str
    candidate: str
    champion: str
    stage: str
    decision: Verdict
    reason: str
    time: datetime
    metrics: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.time.tzinfo is None:
            raise ValueError("a decision time must be timezone-aware (UTC)")

    @property
    def decision_id(self) -> str:
        """``model/candidate/stage``: one decision per stage of one candidate."""
        return f"{self.model}/{self.candidate}/{self.stage}"

    @property
    def percent(self) -> float:
        """The candidate's serving share after this decision (0 when rolled back or rejected)."""
        if self.decision in ("rollback", "reject"):
            return 0.0
        if self.decision == "promote":
            return 100.0
        key = "next_percent" if self.decision == "advance" else "percent"
        return float(self.metrics.get(key, 0.0))

    def to_row(self) -> dict[str, Any]:
        """The ``loop_decisions`` row (for ``StoreOutbox.append("loop_decisions", row)``)."""
        return {"decision_id": self.decision_id, "time": self.time.isoformat(),
                "model": self.model, "candidate": self.candidate, "champion": self.champion,
                "stage": self.stage, "decision": self.decision, "reason": self.reason,
                "metrics": dict(self.metrics)}

    def to_alert(self, source: str) -> Alert:
        """A ``rollout`` alert: info (advance, promote), warning (reject), critical (rollback)."""
        title = f"{self.model} {self.candidate}: {self.decision} at {self.stage}"
        return Alert.raise_(kind="rollout", severity=SEVERITY[self.decision], title=title[:300],
                            key=self.decision_id, signal=self.decision, scope=self.model[:200],
                            summary=self.reason[:4000], model=self.model[:100],
                            version=self.candidate[:100], raised_at=self.time,
                            source=source[:200], details=dict(self.metrics))
