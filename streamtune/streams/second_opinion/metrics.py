"""The second-opinion stage's Prometheus metrics, served on its own ``settings.metrics_port``."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from streamtune.prometheus import LATENCY_BUCKETS, ProcessMetrics


class SecondOpinionMetrics(ProcessMetrics):
    """What the stage read, asked and landed, with the process's CPU and memory."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        super().__init__(registry)
        r = self.registry
        self.read = Counter("streamtune_second_opinion_read", "Scored records read",
                            registry=r)
        self.asked = Counter("streamtune_second_opinion_asked",
                             "Served intent answers below their level, answered again",
                             registry=r)
        self.disagreed = Counter("streamtune_second_opinion_disagreed",
                                 "Second opinions with another label than the served one",
                                 registry=r)
        self.teacher_seconds = Histogram("streamtune_second_opinion_teacher_seconds",
                                         "The teacher's time per batch",
                                         buckets=LATENCY_BUCKETS, registry=r)
        self.last_batch = Gauge("streamtune_second_opinion_last_batch_timestamp_seconds",
                                "Wall-clock time the last batch was committed (0: none yet)",
                                registry=r)
