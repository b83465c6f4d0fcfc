"""The worker's live-learning stage: score each batch, watch its signals, raise alerts.

Between batches :meth:`LiveStage.refresh` applies model-control messages
(hot swap). For a processed batch :meth:`LiveStage.run` returns prediction
records (to the ``predictions`` table and the ``scored`` topic) and alerts
(to the ``alerts`` table and topic). Both are written and published with the
batch, before its offsets are committed, so a crash replays them and the
tables fold the replay by identity.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

from streamtune.config import Settings
from streamtune.models.control import ControlReader
from streamtune.prometheus import PipelineMetrics
from streamtune.schemas.alerts import Alert
from streamtune.schemas.events import Event
from streamtune.sinks.rows import alert_row, json_text
from streamtune.streams.live.scoring import InlineScorer, Record
from streamtune.streams.live.serving import ServingTable
from streamtune.streams.live.signals import NOTHING_SERVED, Served, Watch

log = logging.getLogger(__name__)


@dataclass
class LiveOutput:
    """What the live stage adds to a batch."""

    predictions: list[Record] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    served: Served = NOTHING_SERVED
    """The predictions' share of the detectors' input (clean records carry its intents)."""

    def table_rows(self) -> list[tuple[str, dict[str, Any]]]:
        rows: list[tuple[str, dict[str, Any]]] = [
            ("predictions", {**p, "outputs": json_text(p["outputs"])}) for p in self.predictions]
        rows += [("alerts", alert_row(a)) for a in self.alerts]
        return rows


class LiveStage:
    """Scoring, detection and alerting of one worker."""

    def __init__(self, settings: Settings, *, metrics: PipelineMetrics,
                 control: ControlReader | None = None) -> None:
        self.settings = settings
        self.metrics = metrics
        source = settings.worker_id
        self.serving = ServingTable(settings, source=source)
        self.scorer = InlineScorer(settings, self.serving, worker=source)
        self.watch = Watch(settings, source=source) if (
            settings.detection.enabled and not settings.detection.stage) else None
        metrics.detection_in_stage.set(settings.detection.enabled and settings.detection.stage)
        self.control = control
        self._pending_alerts = self.serving.load_champions()
        self._publish_serving()

    def refresh(self) -> None:
        """Apply model-control messages that arrived (between batches only)."""
        if self.control is None:
            return
        changed = False
        for serving in self.control.poll():
            self._pending_alerts += self.serving.apply(serving)
            changed = True
        if changed:
            self._publish_serving()

    def run(self, events: list[Event],
            sources: Sequence[Hashable] | None = None) -> LiveOutput:
        """Score and watch one batch's clean events (``sources``: each one's partition)."""
        out = self._output()
        if self.settings.scoring.enabled:
            out.predictions = self.scorer.score(events)
            if out.predictions:
                out.served = Served.of(out.predictions)
        if self.watch is not None:
            out.alerts += self.watch.observe(events, out.served, sources)
        self._count(out)
        return out

    def expect(self, sources: Sequence[Hashable]) -> None:
        """Source partitions just assigned (see ``Watch.expect``)."""
        if self.watch is not None:
            self.watch.expect(sources)

    def idle(self, *, drain: bool = False) -> LiveOutput:
        """Alerts of held events released without a batch: partitions gone idle, or all
        of them (``drain``, at shutdown)."""
        out = self._output()
        if self.watch is not None:
            out.alerts += self.watch.drain() if drain else self.watch.release()
        self._count(out)
        return out

    def _output(self) -> LiveOutput:
        """A new output, holding the alerts that waited for one (model loads, swaps)."""
        out, self._pending_alerts = LiveOutput(alerts=self._pending_alerts), []
        return out

    def close(self) -> None:
        if self.watch is not None:
            self.watch.save()
        if self.control is not None:
            self.control.close()

    def _count(self, out: LiveOutput) -> None:
        m = self.metrics
        if self.watch is not None:
            m.detection_held.set(len(self.watch.order))
        for kept, entries in self.scorer.kept().items():
            m.remembered.labels(kept).set(entries)
        for p in out.predictions:
            m.predictions.labels(p["model"], p["role"]).inc()
            if p["served"] and p["correct"] >= 0 and p.get("replaces", -1) == -1:
                m.live_correct.labels(p["model"], "right" if p["correct"] else "wrong").inc()
        for alert in out.alerts:
            m.alerts.labels(alert.kind, alert.severity).inc()
            log.warning("alert %s [%s] %s", alert.kind, alert.severity, alert.title)

    def _publish_serving(self) -> None:
        gauge = self.metrics.serving
        gauge.clear()
        for name, slot in self.serving.slots.items():
            if slot.champion is not None:
                gauge.labels(name, slot.champion.version, "champion").set(100 - slot.percent)
            if slot.candidate is not None:
                gauge.labels(name, slot.candidate.version, "candidate").set(slot.percent)
