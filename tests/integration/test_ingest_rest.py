"""Against the dev broker, a caught-up ingest loop rests instead of re-fetching without pause,
and an event or a burst sent while it rests is still read at once."""

from __future__ import annotations

import contextlib
import resource
import statistics
import threading
import time
from collections.abc import Iterator

from streamtune.config import Settings
from streamtune.prometheus import PipelineMetrics
from streamtune.schemas.events import Event
from streamtune.simulator import Simulator
from streamtune.sinks.clickhouse import ClickHouseSink
from streamtune.sinks.store import ClickHouseStore
from streamtune.streams.kafka.admin import create_topics
from streamtune.streams.kafka.producer import EventProducer
from streamtune.streams.worker.ingest import IngestLoop
from streamtune.streams.worker.resting import SETTLE_S
from tests.support.worker_harness import wait_for


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _read(metrics: PipelineMetrics) -> float:
    return sum(s.value for m in metrics.events_in.collect() for s in m.samples
               if s.name.endswith("_total"))


@contextlib.contextmanager
def _running_loop(settings: Settings, store: ClickHouseStore, first: Event
                  ) -> Iterator[tuple[PipelineMetrics, EventProducer]]:
    """An ingest loop in its thread that has joined its group and read ``first``."""
    assert settings.kafka.embedded
    create_topics(settings)
    metrics = PipelineMetrics()
    loop = IngestLoop(settings, sink=ClickHouseSink(store, metrics=metrics), metrics=metrics,
                      group_id=f"{settings.topics.prefix}streamtune-ingest")
    thread = threading.Thread(target=loop.run, daemon=True)
    thread.start()
    try:
        with EventProducer.from_settings(settings) as producer:
            producer.send(first)
            producer.flush()
            wait_for(lambda: _read(metrics) >= 1, timeout=60, what="the loop joined and read")
            yield metrics, producer
    finally:
        loop.stop()
        thread.join(30)


def test_an_idle_loop_rests_and_reads_what_arrives_meanwhile_at_once(
        settings: Settings, store: ClickHouseStore) -> None:
    events = iter(Simulator(5).events(100))
    with _running_loop(settings, store, next(events)) as (metrics, producer):
        time.sleep(SETTLE_S + 0.5)  # no rests while a fresh assignment settles
        cpu, started = _cpu_s(), time.monotonic()
        time.sleep(3.0)
        idle_cpu = (_cpu_s() - cpu) / (time.monotonic() - started)
        # re-fetching without pause, librdkafka alone took ~60 % of a core here
        assert idle_cpu < 0.35, f"idle ingest loop used {idle_cpu:.0%} of a core"

        delays = []
        for _ in range(5):
            read = _read(metrics)
            sent = time.monotonic()
            producer.send(next(events))
            producer.flush()
            wait_for(lambda read=read: _read(metrics) > read, timeout=10,
                     what="the event sent during a rest")
            delays.append(time.monotonic() - sent)
            time.sleep(0.37)  # land somewhere else in the rest cycle next time
    # a resumed librdkafka consumer fetches only on its broker thread's next wake-up,
    # up to a second later, unless the loop wakes it
    assert statistics.median(delays) < 0.8, delays


def _poll_s(metrics: PipelineMetrics) -> float:
    return sum(s.value for m in metrics.batch_stage.collect() for s in m.samples
               if s.name.endswith("_total") and s.labels["stage"] == "poll")


def test_a_burst_that_arrives_during_a_rest_is_read_without_more_rests(
        settings: Settings, store: ClickHouseStore) -> None:
    """The first poll after a rest can come back empty while a large fetch is still on its
    way; a loop that rested again then (and pausing drops fetched records) kept missing
    the burst for seconds, waking and resting again and again."""
    burst = 10_000
    events = iter(Simulator(6).events(3 * burst + 1))
    with _running_loop(settings, store, next(events)) as (metrics, producer):
        waits = []
        for _ in range(3):
            time.sleep(SETTLE_S + 1.0)  # settled, and resting in its longest rests
            read, polled = _read(metrics), _poll_s(metrics)
            for _ in range(burst):
                producer.send(next(events))
            producer.flush()
            wait_for(lambda read=read: _read(metrics) >= read + burst, timeout=120,
                     what="the burst")
            waits.append(_poll_s(metrics) - polled)
    # time spent polling and resting while each burst was read: the rest it arrived in
    # (0.5 s at most), short rests between partial batches and the polls themselves
    # (~1 s in all here); the loop that rested again took 10 s, or over 2 minutes
    assert max(waits) < 2.5, waits
