"""Retraining triggers: which alerts (and the schedule) retrain which models, debounced.

==================  ===============================================  ==================
trigger             raised by                                        retrains
==================  ===============================================  ==================
performance_drop    drift of ``intent_correct``/``confidence``,      intent_classifier
                    ``predictor_correct``; a regression alert         command_predictor
error_rate          drift of ``success`` or ``error``                 error_recovery
new_pattern         a new command template / error message            intent_classifier /
                                                                      error_recovery
resource            drift of ``cpu``/``memory``                       intent_classifier
schedule            every ``schedule_hours``                          every served model
==================  ===============================================  ==================

Only drift for the worse counts (confidence or accuracy down, errors or
resource use up). Triggers pile up while a training or rollout runs; the next training starts
once nothing is in flight and ``debounce_s`` passed since the last one, and
it covers every model asked for meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from streamtune.config import LoopSettings
from streamtune.schemas.alerts import Alert

WORSE: dict[str, str] = {
    "intent_correct": "down", "confidence": "down", "predictor_correct": "down",
    "success": "down", "error": "up", "cpu": "up", "memory": "up",
}
"""The direction in which each signal's drift is bad news; drift the other way trains nothing."""

SIGNAL_TRIGGERS: dict[str, tuple[str, str]] = {
    "intent_correct": ("performance_drop", "intent_classifier"),
    "confidence": ("performance_drop", "intent_classifier"),
    "predictor_correct": ("performance_drop", "command_predictor"),
    "success": ("error_rate", "error_recovery"),
    "error": ("error_rate", "error_recovery"),
    "cpu": ("resource", "intent_classifier"),
    "memory": ("resource", "intent_classifier"),
}
"""Drift signal -> (trigger, model it retrains)."""


def trigger_of(alert: Alert) -> tuple[str, str] | None:
    """The (trigger, model) an alert asks for, or None."""
    if alert.kind == "drift":
        if alert.details.get("direction", WORSE.get(alert.signal)) != WORSE.get(alert.signal):
            return None
        return SIGNAL_TRIGGERS.get(alert.signal)
    if alert.kind == "new_pattern":
        stream = str(alert.details.get("stream") or alert.signal)
        return ("new_pattern", "error_recovery" if stream == "error" else "intent_classifier")
    if alert.kind == "regression" and alert.model:
        return ("performance_drop", alert.model)
    return None


@dataclass
class Triggers:
    """Pending retraining requests: model -> the reasons collected for it."""

    settings: LoopSettings
    models: list[str]
    pending: dict[str, list[str]] = field(default_factory=dict)
    last_training: datetime | None = None
    _before: datetime | None = None
    last_schedule: datetime | None = None

    def add(self, alert: Alert) -> str | None:
        """Record an alert's request; return the trigger it counts as (None if ignored)."""
        found = trigger_of(alert)
        if found is None or found[0] not in self.settings.triggers or found[1] not in self.models:
            return None
        trigger, model = found
        self.pending.setdefault(model, []).append(f"{trigger}: {alert.title}")
        return trigger

    def tick(self, now: datetime) -> None:
        """Add the scheduled retraining when it is due."""
        hours = self.settings.schedule_hours
        if not hours or "schedule" not in self.settings.triggers:
            return
        if self.last_schedule is None:
            self.last_schedule = now
        elif now - self.last_schedule >= timedelta(hours=hours):
            self.last_schedule = now
            for model in self.models:
                self.pending.setdefault(model, []).append("schedule")

    def take(self, now: datetime) -> dict[str, list[str]]:
        """The models to train now (and why), or {} when debounced or nothing is pending."""
        if not self.pending:
            return {}
        if self.last_training is not None and (
                now - self.last_training).total_seconds() < self.settings.debounce_s:
            return {}
        taken, self.pending = self.pending, {}
        self._before, self.last_training = self.last_training, now
        return taken

    def nothing_trained(self) -> None:
        """The last :meth:`take` trained nothing (too few events yet): it does not count
        for the debounce, so a bootstrap is retried as soon as it is asked again."""
        self.last_training = self._before
