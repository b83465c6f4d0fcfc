"""Against the dev broker, a caught-up ingest loop rests instead of re-fetching without pause,
and an event sent while it rests is still read at once."""

from __future__ import annotations

import resource
import statistics
import threading
import time

from streamtune.config import Settings
from streamtune.simulator import Simulator
from streamtune.sinks.clickhouse import ClickHouseSink
from streamtune.sinks.metrics import PipelineMetrics
from streamtune.sinks.store import ClickHouseStore
from streamtune.streams.admin import create_topics
from streamtune.streams.ingest import SETTLE_S, IngestLoop
from streamtune.streams.producer import EventProducer
from tests.integration.worker_harness import wait_for


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _read(metrics: PipelineMetrics) -> float:
    return sum(s.value for m in metrics.events_in.collect() for s in m.samples
               if s.name.endswith("_total"))


def test_an_idle_loop_rests_and_reads_what_arrives_meanwhile_at_once(
        settings: Settings, store: ClickHouseStore) -> None:
    assert settings.kafka.embedded
    create_topics(settings)
    metrics = PipelineMetrics()
    loop = IngestLoop(settings, sink=ClickHouseSink(store, metrics=metrics), metrics=metrics,
                      group_id=f"{settings.topics.prefix}streamtune-ingest")
    thread = threading.Thread(target=loop.run, daemon=True)
    thread.start()
    events = iter(Simulator(5).events(100))
    try:
        with EventProducer.from_settings(settings) as producer:
            producer.send(next(events))
            producer.flush()
            wait_for(lambda: _read(metrics) >= 1, timeout=60, what="the loop joined and read")
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
    finally:
        loop.stop()
        thread.join(30)
    # a resumed librdkafka consumer fetches only on its broker thread's next wake-up,
    # up to a second later, unless the loop wakes it
    assert statistics.median(delays) < 0.8, delays
