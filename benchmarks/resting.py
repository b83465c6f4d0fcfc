"""What the ingest loop's rests save and cost against the dev broker (printed, no assertions).

Against the dev broker, which answers a fetch at once, a caught-up ingest loop rests
(``streams/worker/resting.py``). Here an in-process ``IngestLoop`` with an embedded chdb
store reads from a dev broker of its own, twice in one run: as the worker runs it, and,
as the baseline, with its rests turned off (re-fetching without pause). For each:

- idle: the CPU of this process (the loop's batch thread and librdkafka's threads) and
  of the dev broker, as shares of one core, over ``--idle-seconds`` with nothing to read;
- an event sent during a rest (or, without rests, at the same moments): its delay until
  the loop has committed it, median and largest of ``--events``;
- a burst of ``--burst`` events sent during a rest: the time until the loop has committed
  it, the ingest thread's poll time meanwhile (rests included) and the rests it took.

The other consumers (trainer, augment and second-opinion stages, alert dispatcher) rest
inside ``GroupConsumer`` (``streamtune/consumers.py``): an idle one, polled as the
trainer polls it, is measured the same way beside the baseline without rests.

Run: ``.venv/bin/python benchmarks/resting.py [--idle-seconds 5] [--events 7] [--burst 10000]``
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from procfs import group_ticks
from scratch import scratch_broker

from streamtune.config import Settings, client_config
from streamtune.consumers import SETTLE_S, GroupConsumer
from streamtune.prometheus import PipelineMetrics
from streamtune.schemas.topics import raw_topic
from streamtune.simulator import Simulator
from streamtune.sinks.clickhouse import ClickHouseSink
from streamtune.sinks.migrations import migrate
from streamtune.sinks.store import ClickHouseStore
from streamtune.streams.kafka.admin import create_topics
from streamtune.streams.kafka.producer import EventProducer
from streamtune.streams.worker.ingest import IngestLoop


def _rests(metrics: PipelineMetrics) -> float:
    return sum(s.value for m in metrics.rests.collect() for s in m.samples
               if s.name.endswith("_total"))


def _poll_s(metrics: PipelineMetrics) -> float:
    """Seconds the ingest thread spent polling, rests included."""
    return sum(s.value for m in metrics.batch_stage.collect() for s in m.samples
               if s.name.endswith("_total") and s.labels["stage"] == "poll")


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _idle_shares(broker_pid: int, seconds: float) -> tuple[float, float]:
    """After the consumer settled into its longest rests: the CPU of this process and of the
    dev broker over ``seconds``, as shares of one core."""
    time.sleep(SETTLE_S[1] + 1.0)
    cpu, broker, started = _cpu_s(), group_ticks(broker_pid), time.monotonic()
    time.sleep(seconds)
    elapsed = time.monotonic() - started
    tick = os.sysconf("SC_CLK_TCK")
    return (_cpu_s() - cpu) / elapsed, (group_ticks(broker_pid) - broker) / tick / elapsed


@dataclass
class _Figures:
    idle_share: float
    broker_idle_share: float
    delays: list[float]
    burst_s: float
    burst_poll_s: float
    burst_rests: float


@contextmanager
def _loop(settings: Settings, *, rests: bool) -> Iterator[tuple[PipelineMetrics, list[int]]]:
    """A running ingest loop (without rests for the baseline): its metrics, and the records
    of each batch it has committed."""
    store = ClickHouseStore.from_settings(settings)
    migrate(store)
    metrics = PipelineMetrics()
    loop = IngestLoop(settings, sink=ClickHouseSink(store, metrics=metrics), metrics=metrics,
                      group_id=f"{settings.topics.prefix}streamtune-ingest")
    if not rests:
        loop._rests = None  # the baseline: re-fetch without pause
    batches: list[int] = []
    thread = threading.Thread(target=loop.run, kwargs={"on_batch": batches.append})
    thread.start()
    try:
        yield metrics, batches
    finally:
        loop.stop()
        thread.join(30)


def _until(condition: Callable[[], bool], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the ingest loop did not read what was sent")
        time.sleep(0.002)


def _measure(settings: Settings, broker_pid: int, args: argparse.Namespace, *,
             rests: bool) -> _Figures:
    create_topics(settings)
    events = list(Simulator(7).events(args.events + args.burst + 1))
    with EventProducer.from_settings(settings) as producer, _loop(
            settings, rests=rests) as (metrics, batches):
        producer.send(events[0])
        producer.flush()
        _until(lambda: sum(batches) >= 1)
        idle_share, broker_share = _idle_shares(broker_pid, args.idle_seconds)
        delays = []
        for event in events[1:args.events + 1]:
            read, sent = sum(batches), time.monotonic()
            producer.send(event)
            producer.flush()
            _until(lambda read=read: sum(batches) > read)
            delays.append(time.monotonic() - sent)
            time.sleep(0.37)  # land elsewhere in the rest cycle next time
        burst = [(raw_topic(e.kind, settings.topics.prefix), e.model_dump_json().encode(),
                  e.session_id.encode()) for e in events[args.events + 1:]]
        time.sleep(1.0)  # idle again, in its longest rests
        read, polled, rested = sum(batches), _poll_s(metrics), _rests(metrics)
        sent = time.monotonic()
        for topic, value, key in burst:
            producer.send_bytes(topic, value, key=key)
        producer.flush()
        _until(lambda: sum(batches) >= read + len(burst))
        return _Figures(idle_share, broker_share, delays, time.monotonic() - sent,
                        _poll_s(metrics) - polled, _rests(metrics) - rested)


@dataclass
class _Idle:
    share: float
    broker_share: float
    delays: list[float]


def _measure_group(settings: Settings, broker_pid: int, args: argparse.Namespace, *,
                   rests: bool) -> _Idle:
    """An idle group consumer polled as the trainer polls it (``consume(2000, 0.5)``)."""
    create_topics(settings)
    topic = raw_topic("metric", settings.topics.prefix)
    assigned, stop = threading.Event(), threading.Event()
    group = GroupConsumer({**client_config(settings), "auto.offset.reset": "latest",
                           "group.id": f"{settings.topics.prefix}idle"}, [topic],
                          dev_broker=rests, on_assign=lambda *_: assigned.set())
    received: list[float] = []

    def poll() -> None:
        while not stop.is_set():
            received.extend(time.monotonic() for m in group.consume(2000, 0.5)
                            if m.error() is None)

    thread = threading.Thread(target=poll)
    thread.start()
    try:
        _until(assigned.is_set)  # (the client is the polling thread's alone)
        share, broker_share = _idle_shares(broker_pid, args.idle_seconds)
        delays = []
        with EventProducer.from_settings(settings) as producer:
            for i in range(args.events):
                sent = time.monotonic()
                producer.send_bytes(topic, f"record {i}".encode())
                producer.flush()
                _until(lambda i=i: len(received) > i)
                delays.append(received[i] - sent)
                time.sleep(0.37)
        return _Idle(share, broker_share, delays)
    finally:
        stop.set()
        thread.join(30)
        group.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle-seconds", type=float, default=5.0)
    parser.add_argument("--events", type=int, default=7)
    parser.add_argument("--burst", type=int, default=10_000)
    args = parser.parse_args()
    figures = {}
    with scratch_broker("st-resting-") as (root, broker):
        pid = broker.status().pid or 0
        for rests, name in ((True, "rests (the worker)"), (False, "no rests (baseline)")):
            settings = Settings(_env_file=None, data_dir=root,  # type: ignore[call-arg]
                                kafka={"dev_broker_port": broker.port},
                                topics={"prefix": f"{'rest' if rests else 'norest'}."},
                                store={"database": "rest" if rests else "norest"})
            figures[name] = _measure(settings, pid, args, rests=rests)
        idle = {}
        for rests, name in ((True, "rests (GroupConsumer)"), (False, "no rests (baseline)")):
            settings = Settings(_env_file=None, data_dir=root,  # type: ignore[call-arg]
                                kafka={"dev_broker_port": broker.port},
                                topics={"prefix": f"group{'rest' if rests else 'norest'}."})
            idle[name] = _measure_group(settings, pid, args, rests=rests)
    print(f"ingest loop against the dev broker: idle {args.idle_seconds:.0f} s, "
          f"{args.events} single events, a burst of {args.burst:,}")
    for name, f in figures.items():
        print(f"  {name:<21} idle CPU {f.idle_share:4.0%} of a core (dev broker "
              f"{f.broker_idle_share:4.0%}); an event sent meanwhile: median "
              f"{statistics.median(f.delays):.2f} s, largest {max(f.delays):.2f} s; the burst: "
              f"{f.burst_s:.2f} s, {f.burst_poll_s:.2f} s polling, {f.burst_rests:.0f} rests")
    print(f"an idle group consumer polled as the trainer polls it: idle "
          f"{args.idle_seconds:.0f} s, {args.events} single records")
    for name, g in idle.items():
        print(f"  {name:<21} idle CPU {g.share:4.0%} of a core (dev broker "
              f"{g.broker_share:4.0%}); a record sent meanwhile: median "
              f"{statistics.median(g.delays):.2f} s, largest {max(g.delays):.2f} s")


if __name__ == "__main__":
    main()
