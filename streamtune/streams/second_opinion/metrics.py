"""The second-opinion stage's Prometheus metrics, served on its own ``settings.metrics_port``."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

from streamtune.prometheus import LATENCY_BUCKETS
from streamtune.streams.stage_loop import StageMetrics


class SecondOpinionMetrics(StageMetrics):
    """Every stage's figures (``streamtune_second_opinion_*``: records read, lag, ...), and
    what it asked the teacher."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        super().__init__("second_opinion", read="Scored records read", registry=registry)
        r = self.registry
        self.asked = Counter("streamtune_second_opinion_asked",
                             "Served intent answers below their level, answered again",
                             registry=r)
        self.disagreed = Counter("streamtune_second_opinion_disagreed",
                                 "Second opinions with another label than the served one",
                                 registry=r)
        self.teacher_seconds = Histogram("streamtune_second_opinion_teacher_seconds",
                                         "The teacher's time per batch",
                                         buckets=LATENCY_BUCKETS, registry=r)
