"""The detect stage's Prometheus metrics, served on its own ``settings.metrics_port``.

``streamtune_alerts_total`` and ``streamtune_detection_held_events`` keep the names the
worker exports when it watches in-process, so dashboards read either; the stage's own
figures are ``streamtune_detect_*``.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from streamtune.prometheus import LATENCY_BUCKETS, ProcessMetrics


class DetectMetrics(ProcessMetrics):
    """Every metric of the detect stage, with the process's CPU and memory (``process_*``)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        super().__init__(registry)
        r = self.registry
        self.events_in = Counter("streamtune_detect_events_in", "Records read", ["topic"],
                                 registry=r)
        self.undecodable = Counter("streamtune_detect_undecodable",
                                   "Records that did not decode (left out)", registry=r)
        self.alerts = Counter("streamtune_alerts", "Alerts raised", ["kind", "severity"],
                              registry=r)
        self.held = Gauge("streamtune_detection_held_events",
                          "Events held back for event-time order", registry=r)
        self.land_failures = Counter("streamtune_detect_land_failures",
                                     "Failed attempts to land a batch's alerts", registry=r)
        self.batch_latency = Histogram("streamtune_detect_batch_seconds",
                                       "Read-to-commit time of a batch",
                                       buckets=LATENCY_BUCKETS, registry=r)
        self.last_batch = Gauge("streamtune_detect_last_batch_timestamp_seconds",
                                "Wall-clock time the last batch was committed (0: none yet)",
                                registry=r)
        self.consumer_lag = Gauge("streamtune_detect_consumer_lag", "Records behind the end",
                                  ["topic", "partition"], registry=r)
