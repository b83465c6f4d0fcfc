"""A batch the ingest loop could not commit is redone from the committed offsets, by this
very loop too (a recovery re-reads them; static membership gives a worker its partitions
back after a rebalance): its events count once in the window deltas the loop sends.

De-duplication remembered them when the batch was first processed; judged replays when
redone, they were left out of the redone batch's deltas, which replace the first ones.
Kafka refusing one commit and then failing one fetch cannot be had from the dev broker on
demand, so a consumer that does each once stands in for it (the only test double here).
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any, ClassVar

import orjson
import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException

from streamtune.config import Settings
from streamtune.prometheus import PipelineMetrics
from streamtune.schemas.topics import SOURCES
from streamtune.simulator import Simulator
from streamtune.sinks.clickhouse import ClickHouseSink
from streamtune.sinks.store import ClickHouseStore
from streamtune.streams.kafka.admin import create_topics
from streamtune.streams.kafka.producer import EventProducer
from streamtune.streams.worker import ingest
from streamtune.streams.worker.app import DeltaLogReader
from streamtune.streams.worker.ingest import IngestLoop
from streamtune.streams.worker.windows import (
    WindowDelta,
    WindowKey,
    WindowState,
    window_start_ms,
)
from tests.support.worker_harness import caught_up, wait_for

BATCH = 100


class _RefusesOneCommitThenFailsOneFetch(Consumer):  # type: ignore[misc]
    """The first commit is refused as during a rebalance; the next fetch fails as when the
    broker goes away, so the loop recovers and re-reads from the committed offsets."""

    refused: ClassVar[list[str]] = []

    def commit(self, *args: Any, **kwargs: Any) -> Any:
        if not self.refused:
            self.refused.append("commit")
            raise KafkaException(KafkaError(KafkaError.REBALANCE_IN_PROGRESS))
        return super().commit(*args, **kwargs)

    def consume(self, *args: Any, **kwargs: Any) -> Any:
        if self.refused == ["commit"]:
            self.refused.append("fetch")
            raise KafkaException(KafkaError(KafkaError._TRANSPORT))
        return super().consume(*args, **kwargs)


def _folded_deltas(settings: Settings) -> dict[tuple[str, int], int]:
    """Events per (source, window start), folding every delta the loop sent as the window
    agent does: per window, each window-deltas partition's records in order."""
    reader = DeltaLogReader(settings, timeout_s=30)
    states: dict[str, WindowState] = {}
    for partition in range(settings.topics.partitions):
        for _, value in reader.read(partition, 0, 1 << 62):
            message = orjson.loads(value)
            if message["type"] != "deltas":
                continue
            for data in message["deltas"]:
                delta = WindowDelta.from_json(data)
                states.setdefault(data["key"], WindowState()).apply(delta)
    counted: Counter[tuple[str, int]] = Counter()
    for table_key, state in states.items():
        key = WindowKey.parse(table_key)
        counted[(key.source, key.start_ms)] += state.total().events
    return dict(counted)


@pytest.mark.timeout(300)
def test_a_batch_redone_by_the_same_loop_counts_once_in_the_window_deltas(
        settings: Settings, store: ClickHouseStore, monkeypatch: pytest.MonkeyPatch) -> None:
    create_topics(settings)
    events = list(Simulator(23).events(4 * BATCH))
    with EventProducer.from_settings(settings) as producer:
        for event in events:
            producer.send(event)
    monkeypatch.setattr(_RefusesOneCommitThenFailsOneFetch, "refused", [])
    monkeypatch.setattr(ingest, "Consumer", _RefusesOneCommitThenFailsOneFetch)
    small = settings.model_copy(update={"pipeline": settings.pipeline.model_copy(
        update={"batch_max_events": BATCH})})
    metrics = PipelineMetrics()
    loop = IngestLoop(small, sink=ClickHouseSink(store, metrics=metrics), metrics=metrics,
                      group_id=f"{settings.topics.prefix}streamtune-ingest")
    thread = threading.Thread(target=loop.run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: caught_up(settings), timeout=120, what="every event committed")
    finally:
        loop.stop()
        thread.join(30)
    assert _RefusesOneCommitThenFailsOneFetch.refused == ["commit", "fetch"]
    assert loop.recoveries == 1
    window_s = settings.pipeline.window_seconds
    expected = Counter((SOURCES[e.kind], window_start_ms(e.event_time, window_s))
                       for e in events)
    assert _folded_deltas(settings) == dict(expected)
    assert store.count("commands") == sum(e.kind == "command" for e in events)
