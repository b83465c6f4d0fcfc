"""The augment stage's Prometheus metrics, served on its own ``settings.metrics_port``.

The augmentation counters keep the names the worker exported
(``streamtune_augmented_rows``, ``streamtune_augmentation_qc_*``), so dashboards
read them unchanged; the stage's own figures are ``streamtune_augment_*``.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

from streamtune.streams.stage_loop import StageMetrics


class AugmentMetrics(StageMetrics):
    """Every metric of the augment stage (``streamtune_augment_*`` and the augmentation's)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        super().__init__("augment", read="Clean events read", registry=registry)
        r = self.registry
        self.chosen = Counter("streamtune_augment_events_chosen",
                              "Events the budget chose to augment", ["tier"], registry=r)
        self.skipped = Counter("streamtune_augment_events_skipped",
                               "Events the budget left out", ["reason"], registry=r)
        self.rows_out = Counter("streamtune_augment_rows_out", "Rows landed", ["table"],
                                registry=r)
        self.augmented = Counter("streamtune_augmented_rows", "Augmented rows accepted",
                                 ["technique"], registry=r)
        self.qc_checked = Counter("streamtune_augmentation_qc_checked",
                                  "Augmented rows checked by a quality gate",
                                  ["technique", "gate", "outcome"], registry=r)
        self.qc_pass_rate = Gauge("streamtune_augmentation_qc_pass_rate",
                                  "Pass rate of a gate in the last batch",
                                  ["technique", "gate"], registry=r)
