"""Against the dev broker, a caught-up ingest loop rests instead of re-fetching without pause,
and an event or a burst sent while it rests is read at its next wake.

Counted, not timed: rests come from ``streamtune_ingest_rests``. What the rests save and
cost in CPU and delay is measured by ``benchmarks/resting.py``.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

from prometheus_client import Counter

from streamtune.config import Settings
from streamtune.prometheus import PipelineMetrics
from streamtune.schemas.events import Event
from streamtune.schemas.topics import raw_topic
from streamtune.simulator import Simulator
from streamtune.sinks.clickhouse import ClickHouseSink
from streamtune.sinks.store import ClickHouseStore
from streamtune.streams.kafka.admin import create_topics
from streamtune.streams.kafka.producer import EventProducer
from streamtune.streams.worker.ingest import IngestLoop
from tests.support.worker_harness import wait_for


def _total(counter: Counter) -> float:
    return sum(s.value for m in counter.collect() for s in m.samples
               if s.name.endswith("_total"))


@dataclass
class _Running:
    """An ingest loop at work: its metrics, a producer, and per batch read (in order) the
    records it held and the rests begun by the time it was done."""

    metrics: PipelineMetrics
    producer: EventProducer
    batches: list[tuple[int, float]] = field(default_factory=list)

    def rests(self) -> float:
        return _total(self.metrics.rests)

    def next_rest(self) -> float:
        """Wait until a rest begins; the rests counted by then."""
        rested = self.rests()
        wait_for(lambda: self.rests() > rested, timeout=10, what="the next rest",
                 interval=0.01)
        return self.rests()


@contextlib.contextmanager
def _running_loop(settings: Settings, store: ClickHouseStore, first: Event
                  ) -> Iterator[_Running]:
    """An ingest loop in its thread that has joined its group, read ``first`` and rested."""
    assert settings.kafka.embedded
    create_topics(settings)
    metrics = PipelineMetrics()
    loop = IngestLoop(settings, sink=ClickHouseSink(store, metrics=metrics), metrics=metrics,
                      group_id=f"{settings.topics.prefix}streamtune-ingest")
    with EventProducer.from_settings(settings) as producer:
        running = _Running(metrics, producer)
        thread = threading.Thread(target=loop.run, daemon=True, kwargs={
            "on_batch": lambda count: running.batches.append((count, running.rests()))})
        thread.start()
        try:
            producer.send(first)
            producer.flush()
            wait_for(lambda: running.batches, timeout=60, what="the loop joined and read")
            # a loop that re-fetched without pause would never rest
            wait_for(lambda: running.rests() >= 3, timeout=30, what="an idle loop resting")
            yield running
        finally:
            loop.stop()
            thread.join(30)


def test_an_event_sent_during_a_rest_is_read_at_the_next_wake(
        settings: Settings, store: ClickHouseStore) -> None:
    """A resumed librdkafka consumer fetches only on its broker thread's next wake-up, up
    to a second later, unless the loop wakes it: the wake's poll then finds nothing, and
    the loop rests again before the event is read."""
    events = iter(Simulator(5).events(6))
    with _running_loop(settings, store, next(events)) as running:
        empty_wakes = []
        for event in events:
            rested, batches = running.next_rest(), len(running.batches)
            running.producer.send(event)
            running.producer.flush()
            wait_for(lambda batches=batches: len(running.batches) > batches, timeout=10,
                     what="the event sent during a rest")
            count, rests_by_then = running.batches[batches]
            assert count == 1
            # the poll that read it is followed by a rest too
            empty_wakes.append(rests_by_then - rested - 1)
    # one of five may be sent late in its rest on a busy machine, and be read a rest later
    assert sorted(empty_wakes)[:4] == [0, 0, 0, 0], empty_wakes


def test_a_burst_that_arrives_during_a_rest_is_read_without_more_rests(
        settings: Settings, store: ClickHouseStore) -> None:
    """Resting again and again while the burst waits (a wake that does not make librdkafka
    fetch took 7-44 rests per burst here) is caught; the rule against resting after the
    first empty poll while records wait is pinned in ``tests/unit/streams/test_resting.py``."""
    burst = 10_000
    first, *burst_events = Simulator(6).events(3 * burst + 1)
    encoded = [(raw_topic(e.kind, settings.topics.prefix), e.model_dump_json().encode(),
                e.session_id.encode()) for e in burst_events]  # each burst sent in ms
    with _running_loop(settings, store, first) as running:
        rests = []
        for start in range(0, 3 * burst, burst):
            rested, batches = running.next_rest(), len(running.batches)
            for topic, value, key in encoded[start:start + burst]:
                running.producer.send_bytes(topic, value, key=key)
            running.producer.flush()
            wait_for(lambda batches=batches: sum(
                count for count, _ in running.batches[batches:]) >= burst,
                timeout=120, what="the burst")
            rests.append(running.batches[-1][1] - rested)
    # rests between the partial batches at the burst's end, with less than half a batch
    # left: a handful
    assert max(rests) <= 6, rests
