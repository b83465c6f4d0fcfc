"""Prometheus metrics of webhook delivery; endpoints are labelled by host, never by URL."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from streamtune.prometheus import LATENCY_BUCKETS


class WebhookMetrics:
    """Delivery outcomes per endpoint host, rows waiting, and the time of each attempt."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.deliveries = Counter(
            "streamtune_webhook_deliveries", "Webhook attempts by outcome (delivered|retry|dead)",
            ["endpoint", "outcome"], registry=registry)
        self.pending = Gauge("streamtune_webhook_pending",
                             "Alert deliveries waiting to be sent or retried", registry=registry)
        self.seconds = Histogram("streamtune_webhook_seconds", "Duration of one webhook POST",
                                 ["endpoint"], buckets=LATENCY_BUCKETS, registry=registry)
