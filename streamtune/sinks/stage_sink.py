"""Where a stage that does not own the store lands its rows: a ClickHouse server it inserts
into itself, or, with embedded chdb (whose path only the worker may open), the store outbox
the worker imports within ``OUTBOX_IMPORT_S`` (and once more when it stops)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

from streamtune.config import Settings
from streamtune.errors import StoreUnavailable
from streamtune.sinks.batching import BatchingSink
from streamtune.sinks.clickhouse import ClickHouseSink, TableRow
from streamtune.sinks.migrations import migrate
from streamtune.sinks.outbox import StoreOutbox
from streamtune.sinks.store import ClickHouseStore


class OutboxSink(BatchingSink[TableRow]):
    """Rows to the store outbox, for the worker that owns the embedded store."""

    def __init__(self, outbox: StoreOutbox, **retry: float) -> None:
        super().__init__(**retry)
        self.outbox = outbox

    def write(self, items: list[TableRow]) -> None:
        try:
            self.outbox.append_many(items)
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
