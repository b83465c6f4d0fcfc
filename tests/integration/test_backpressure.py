"""While ClickHouse refuses writes the ingest loop stops consuming and commits nothing;
when it is back, everything lands once.

An in-process chdb cannot be taken down, so the outage is a thin wrapper over the
real store that refuses calls while ``down`` is set (the only test double here).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from streamtune.config import Settings
from streamtune.errors import StoreUnavailable
from streamtune.prometheus import PipelineMetrics
from streamtune.schemas import EVENT_MODELS
from streamtune.schemas.topics import SOURCES
from streamtune.simulator import Simulator
from streamtune.sinks.clickhouse import ClickHouseSink
from streamtune.sinks.store import ClickHouseStore
from streamtune.streams.kafka.admin import create_topics
from streamtune.streams.kafka.producer import EventProducer
from streamtune.streams.worker.ingest import IngestLoop
from tests.support.worker_harness import caught_up, wait_for


class OutageStore:
    """The real store, except that inserts fail while ``down`` is set."""

    def __init__(self, store: ClickHouseStore) -> None:
        self._store = store
        self.down = threading.Event()
        self.refused = 0

    def insert(self, table: str, rows: Sequence[Sequence[Any]], columns: Sequence[str]) -> None:
        if self.down.is_set():
            self.refused += 1
            raise StoreUnavailable("connection refused (simulated outage)")
        self._store.insert(table, rows, columns)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def test_store_outage_pauses_consumption_and_loses_nothing(
        settings: Settings, store: ClickHouseStore) -> None:
    create_topics(settings)
    events = list(Simulator(31).events(1500))
    with EventProducer.from_settings(settings) as producer:
        for event in events:
            producer.send(event)
    outage = OutageStore(store)
    outage.down.set()
    metrics = PipelineMetrics()
    sink = ClickHouseSink(outage, metrics=metrics, retry_initial_s=0.05,  # type: ignore[arg-type]
                          retry_max_s=0.2)
    group = f"{settings.topics.prefix}streamtune-ingest"
    loop = IngestLoop(settings.model_copy(update={"pipeline": settings.pipeline.model_copy(
        update={"batch_max_events": 200})}), sink=sink, metrics=metrics, group_id=group)
    thread = threading.Thread(target=loop.run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: outage.refused >= 5 and metrics.paused._value.get() == 1,  # noqa: SLF001
                 timeout=60, what="writes refused, partitions paused")
        refused = outage.refused  # paused, the loop keeps retrying and reads nothing more
        wait_for(lambda: outage.refused >= refused + 5, timeout=60, what="five more retries")
        assert metrics.paused._value.get() == 1  # noqa: SLF001 - reading our own gauge
        assert len(sink) <= 200 * 2  # one batch held (plus its augmented rows), no more
        assert store.count("commands") == 0
        assert not caught_up(settings)
        read_while_down = sum(
            s.value for m in metrics.events_in.collect() for s in m.samples
            if s.name.endswith("_total"))
        assert read_while_down <= 200

        outage.down.clear()
        wait_for(lambda: caught_up(settings), timeout=120, what="catching up after the outage")
        assert metrics.paused._value.get() == 0  # noqa: SLF001
    finally:
        loop.stop()
        thread.join(30)
    for kind in EVENT_MODELS:
        assert store.count(SOURCES[kind]) == sum(e.kind == kind for e in events), kind
    assert metrics.sink_failures._value.get() >= 5  # noqa: SLF001
