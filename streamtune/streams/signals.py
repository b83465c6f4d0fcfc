"""Live signals of a batch, fed to the drift detectors and the template miner.

Per command: ``success`` and ``execution_time`` (globally and per command
type), the served intent's ``intent_correct`` and ``confidence``, and the
error-rate streams (no error); per error event its ``error_type``; per
resource metric ``cpu`` or ``memory``; per resolved next-command prediction
``predictor_correct``. Command texts (with the served intent confidence) and
error messages go to the template miner. Detector state is saved every
``state_save_s`` and on close, and loaded at start, so it survives restarts.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from streamtune.config import Settings
from streamtune.models.detection import DetectionState, state_path
from streamtune.schemas.alerts import Alert
from streamtune.schemas.events import CommandEvent, ErrorEvent, Event, MetricEvent
from streamtune.streams.scoring import Record

RESOURCE_SIGNALS = {"cpu_usage": "cpu", "memory_used": "memory"}
"""Metric name -> signal watched for resource drift."""


class Watch:
    """The worker's detectors and miner, with their saved state."""

    def __init__(self, settings: Settings, *, source: str) -> None:
        self.path = state_path(settings.data_dir, source)
        self.save_every = settings.detection.state_save_s
        self.state = DetectionState.load(self.path, settings.detection, source=source)
        self._saved_at = time.monotonic()

    def observe(self, events: Sequence[Event], predictions: Sequence[Record]) -> list[Alert]:
        """Feed one batch; return the alerts it raised."""
        drift, patterns = self.state.drift, self.state.patterns
        intents = {p["event_id"]: p for p in predictions
                   if p["model"] == "intent_classifier" and p["served"]}
        alerts: list[Alert] = []
        # a batch arrives grouped by topic (all commands, then all errors...): in that
        # order the error-rate stream would be runs of 0s and 1s and detectors would fire
        for event in sorted(events, key=lambda e: e.event_time):
            key, at = str(event.event_id), event.event_time
            if isinstance(event, CommandEvent):
                scope = f"command_type={event.command_type}"
                for s in ("global", scope):
                    alerts += drift.observe("success", float(event.success), scope=s, key=key,
                                            at=at)
                    alerts += drift.observe("execution_time", event.execution_time, scope=s,
                                            key=key, at=at)
                alerts += drift.observe_error(None, key=key, at=at)
                intent = intents.get(key)
                if intent is not None:
                    alerts += drift.observe("intent_correct", float(intent["correct"] == 1),
                                            key=key, at=at)
                    alerts += drift.observe("confidence", intent["confidence"], key=key, at=at)
                alerts += patterns.observe(
                    "command", event.normalized_input or event.raw_input, key=key, at=at,
                    confidence=None if intent is None else intent["confidence"],
                    label=event.command_type)
            elif isinstance(event, ErrorEvent):
                alerts += drift.observe_error(event.error_type, key=key, at=at)
                alerts += patterns.observe("error", event.error_message, confidence=None,
                                           label=event.error_type, key=key, at=at)
            elif isinstance(event, MetricEvent) and event.metric in RESOURCE_SIGNALS:
                alerts += drift.observe(RESOURCE_SIGNALS[event.metric], event.value,
                                        scope=f"host={event.host}", key=key, at=at)
        for p in predictions:
            if p["model"] == "command_predictor" and p["served"] and p["correct"] >= 0:
                alerts += drift.observe("predictor_correct", float(p["correct"]),
                                        key=p["event_id"], at=p["event_time"])
        if time.monotonic() - self._saved_at > self.save_every:
            self.save()
        return alerts

    def save(self) -> None:
        self.state.save(self.path)
        self._saved_at = time.monotonic()
