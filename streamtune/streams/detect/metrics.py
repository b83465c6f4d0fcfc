"""The detect stage's Prometheus metrics, served on its own ``settings.metrics_port``.

``streamtune_alerts_total`` and ``streamtune_detection_held_events`` keep the names the
worker exports when it watches in-process, so dashboards read either; the stage's own
figures are ``streamtune_detect_*``.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

from streamtune.streams.stage_loop import StageMetrics


class DetectMetrics(StageMetrics):
    """Every metric of the detect stage (``streamtune_detect_*`` and the detectors')."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        super().__init__("detect", read="Records read", registry=registry)
        r = self.registry
        self.alerts = Counter("streamtune_alerts", "Alerts raised", ["kind", "severity"],
                              registry=r)
        self.held = Gauge("streamtune_detection_held_events",
                          "Events held back for event-time order", registry=r)
