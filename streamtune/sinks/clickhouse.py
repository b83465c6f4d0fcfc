"""The ClickHouse sink: buffered rows for many tables, written per table on flush.

Rows carry their identity (``event_id``, ``augmented_id``, window key...), so
a replayed batch rewrites the same rows and ReplacingMergeTree folds them.
The store serialises calls, so the ingest thread and the window agent share a sink.
"""

from __future__ import annotations

import time

from streamtune.prometheus import PipelineMetrics
from streamtune.sinks.batching import BatchingSink
from streamtune.sinks.rows import Row, RowWriter
from streamtune.sinks.store import ClickHouseStore

TableRow = tuple[str, Row]


class ClickHouseSink(BatchingSink[TableRow]):
    """Buffers ``(table, fields)`` pairs; ``flush`` inserts them table by table."""

    def __init__(
        self,
        store: ClickHouseStore,
        *,
        metrics: PipelineMetrics | None = None,
        retry_initial_s: float = 0.2,
        retry_max_s: float = 10.0,
    ) -> None:
        super().__init__(retry_initial_s=retry_initial_s, retry_max_s=retry_max_s)
        self.store = store
        self.rows = RowWriter(store)
        self.metrics = metrics

    def write(self, items: list[TableRow]) -> None:
        started = time.perf_counter()
        written = self.rows.write(items)
        if self.metrics is not None:
            self.metrics.sink_latency.observe(time.perf_counter() - started)
            self.metrics.sink_batch_rows.observe(len(items))
            for table, count in written.items():
                self.metrics.events_out.labels(table).inc(count)
