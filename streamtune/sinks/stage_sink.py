"""Where a stage that does not own the store lands its rows: a ClickHouse server it inserts
into itself, or, with embedded chdb (whose path only the worker may open), the store outbox
the worker imports within ``pipeline.outbox_import_s`` (and once more when it stops); and how such a
stage's process runs (:func:`run_stage_process`)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Protocol, TypeVar
from urllib.parse import urlsplit

from streamtune.config import Settings
from streamtune.errors import StoreUnavailable
from streamtune.processes import stop_on_signals, tune_gc
from streamtune.prometheus import ProcessMetrics
from streamtune.sinks.batching import BatchingSink, SinkUnavailable
from streamtune.sinks.clickhouse import ClickHouseSink, TableRow
from streamtune.sinks.migrations import migrate
from streamtune.sinks.outbox import StoreOutbox
from streamtune.sinks.rows import row_by_row
from streamtune.sinks.store import ClickHouseStore

log = logging.getLogger(__name__)


class _Stoppable(Protocol):
    def stop(self) -> None: ...


S = TypeVar("S", bound=_Stoppable)


class OutboxSink(BatchingSink[TableRow]):
    """Rows to the store outbox, for the worker that owns the embedded store."""

    def __init__(self, outbox: StoreOutbox, **retry: float) -> None:
        super().__init__(**retry)
        self.outbox = outbox

    def write(self, items: list[TableRow]) -> None:
        try:
            self.outbox.append_many(row_by_row(items))
        except OSError as exc:
            raise StoreUnavailable(f"store outbox {self.outbox.path}: {exc}") from exc


@contextmanager
def stage_sink(settings: Settings) -> Iterator[tuple[BatchingSink[TableRow], str]]:
    """The stage's sink (a server store is migrated first and closed at the end), and
    where it lands rows, in words."""
    first, most = settings.pipeline.sink_retry_initial_s, settings.pipeline.sink_retry_max_s
    if urlsplit(settings.store_url).scheme not in {"http", "https"}:
        yield (OutboxSink(StoreOutbox(settings), retry_initial_s=first, retry_max_s=most),
               "through the store outbox (the worker imports it)")
        return
    store = ClickHouseStore.from_settings(settings)
    try:
        migrate(store)
        yield (ClickHouseSink(store, retry_initial_s=first, retry_max_s=most),
               f"inserting into {store.database}")
    finally:
        store.close()


def run_stage_process(settings: Settings, metrics: ProcessMetrics,
                      make: Callable[[BatchingSink[TableRow]], S],
                      run: Callable[[S], object], *, what: str) -> int:
    """Run a stage until SIGTERM/SIGINT, with its sink (:func:`stage_sink`), signals,
    metrics endpoint and GC set up and ``what`` it does said in one line; 1 when it stopped
    with rows not landed (its batch is replayed), else 0."""
    with stage_sink(settings) as (sink, target):
        stage = make(sink)
        stop_on_signals(stage.stop)
        metrics.serve(settings.metrics_port)
        tune_gc()
        port = settings.metrics_port
        log.info("%s, landing rows %s, %s", what, target,
                 f"metrics on port {port}" if port else "no metrics endpoint")
        try:
            run(stage)
        except SinkUnavailable as exc:
            log.error("stopped with rows not landed (the batch will be replayed): %s", exc)
            return 1
        return 0
