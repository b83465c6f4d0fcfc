"""The augment stage's Prometheus metrics, served on its own ``settings.metrics_port``.

The augmentation counters keep the names the worker exported
(``streamtune_augmented_rows``, ``streamtune_augmentation_qc_*``), so dashboards
read them unchanged; the stage's own figures are ``streamtune_augment_*``.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from streamtune.prometheus import LATENCY_BUCKETS, ProcessMetrics


class AugmentMetrics(ProcessMetrics):
    """Every metric of the augment stage, with the process's CPU and memory (``process_*``)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        super().__init__(registry)
        r = self.registry
        self.events_in = Counter("streamtune_augment_events_in", "Clean events read",
                                 ["topic"], registry=r)
        self.chosen = Counter("streamtune_augment_events_chosen",
                              "Events the budget chose to augment", ["tier"], registry=r)
        self.skipped = Counter("streamtune_augment_events_skipped",
                               "Events the budget left out", ["reason"], registry=r)
        self.undecodable = Counter("streamtune_augment_undecodable",
                                   "Clean-topic records that did not decode (left out)",
                                   registry=r)
        self.rows_out = Counter("streamtune_augment_rows_out", "Rows landed", ["table"],
                                registry=r)
        self.land_failures = Counter("streamtune_augment_land_failures",
                                     "Failed attempts to land a batch's rows", registry=r)
        self.batch_latency = Histogram("streamtune_augment_batch_seconds",
                                       "Read-to-commit time of a batch",
                                       buckets=LATENCY_BUCKETS, registry=r)
        self.last_batch = Gauge("streamtune_augment_last_batch_timestamp_seconds",
                                "Wall-clock time the last batch was committed (0: none yet)",
                                registry=r)
        self.consumer_lag = Gauge("streamtune_augment_consumer_lag", "Records behind the end",
                                  ["topic", "partition"], registry=r)
        self.augmented = Counter("streamtune_augmented_rows", "Augmented rows accepted",
                                 ["technique"], registry=r)
        self.qc_checked = Counter("streamtune_augmentation_qc_checked",
                                  "Augmented rows checked by a quality gate",
                                  ["technique", "gate", "outcome"], registry=r)
        self.qc_pass_rate = Gauge("streamtune_augmentation_qc_pass_rate",
                                  "Pass rate of a gate in the last batch",
                                  ["technique", "gate"], registry=r)
