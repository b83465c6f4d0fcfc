"""Pipeline throughput and latency of one worker, beside the raw consume rate of the same broker.

Starts its own dev broker, then in one run:

1. baseline: a confluent-kafka consumer reads N pre-produced raw events (no processing);
2. throughput, twice: a real ``streamtune worker`` process, started and warmed up first, lands
   N events produced at once (validate, clean, redact, de-duplicate, annotate, score, window,
   ClickHouse insert, commit; augmentation is a stage of its own:
   ``benchmarks/augment_stage.py``) — timed from the first event sent to the last one
   committed; its CPU is counted until the worker's detectors were also fed the events they
   held for event-time order (up to ``reorder_idle_s`` later, the idle worker's CPU
   meanwhile included). The first run's events are timed as a live stream at
   ``--live-rate`` events/s (20,000 events span a second of event time, as they do for a
   worker taking them live); the second's keep the simulator's times (~7 event-minutes per
   20,000 events: a backlog caught up at ~200x real time, each window key closed several
   times a second);
3. latency: events are produced at a fixed rate into a running worker, each stamped with its
   send time; ``ingested_at - event_time`` of the stored rows gives produce -> row-visible
   latency (p50/p99); a few metric events first make sure the worker has joined its group,
   and the events are generated before the clock starts.

Peak worker RSS and the CPU time of the worker (all threads) are read from /proc, with
the peak of the anonymous part of RSS (heaps and buffers, chdb's too) and the pages of
embedded chdb's library resident (mapped code, which a worker with a ClickHouse server
does not load) apart, at each offered rate too. Events per worker CPU-second is the figure
that holds when the machine is shared and wall-clock rates swing. Where that CPU went (the
batch thread, librdkafka's threads, faust's event loop on the main thread, chdb's own
threads, the other Python threads: webhooks, the window agent's writes) and the dev
broker's CPU are printed as shares of one core over the run; then embedded chdb's own work
(the CPU its inserts took in the threads that called them,
``streamtune_store_engine_cpu_seconds``, and its threads) and the worker's events per
CPU-second without it, the part of its work a ClickHouse server would do; the records the
worker wrote to Kafka per raw event, and the ingest thread's time per step of its batches
(``streamtune_batch_stage_seconds``) as shares of the run's wall time; at each offered
rate, the worker's CPU and those steps per event.

With ``--detect-stage`` the workers leave detection to a ``streamtune detect`` process,
with ``--augment-stage`` a ``streamtune augment`` process runs beside them; each such
stage's rate (raw events of the run per second, until its group has caught up), raw
events per stage CPU-second with its threads' parts (its loop, librdkafka, the others),
and peak RSS are printed under the worker's.
Run: ``.venv/bin/python benchmarks/pipeline.py [--detect-stage] [--augment-stage]``.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, Producer, TopicPartition
from procfs import group_ticks, status_mb, thread_ticks
from scratch import scratch_broker

from streamtune.config import Settings
from streamtune.native import compiled
from streamtune.prometheus import scrape, scrape_series
from streamtune.schemas.events import Event
from streamtune.schemas.topics import SOURCES, catalogue, raw_topic
from streamtune.simulator import Simulator
from streamtune.streams.augment.stage import augment_group, augment_topics
from streamtune.streams.detect.stage import detect_group, detect_topics
from streamtune.streams.kafka.admin import create_topics, group_caught_up
from streamtune.streams.kafka.dev_broker import DevBroker, free_port

STAGES: dict[str, tuple[Callable[[Settings], str], Callable[[Settings], list[str]]]] = {
    "augment": (augment_group, augment_topics), "detect": (detect_group, detect_topics)}
"""The stages the benchmark can run beside the worker: each one's group and topics."""


def _settings(root: Path, port: int, prefix: str, *, detect_stage: bool = False) -> Settings:
    return Settings(_env_file=None, data_dir=root / prefix,  # type: ignore[call-arg]
                    kafka={"dev_broker_port": port}, topics={"prefix": prefix},
                    detection={"stage": detect_stage})


def _produce(settings: Settings, count: int, *, rate: float | None = None,
             kinds: frozenset[str] | None = None, on_start: Callable[[], None] | None = None,
             event_rate: float | None = None) -> float:
    """Produce ``count`` simulated events: at once, or at ``rate`` events/s stamped with
    their send time; ``on_start`` is called when the first one is about to go out.

    ``event_rate`` (events produced at once): their event times spaced as those of a
    stream of that many events per second (:func:`_live_times`), not the simulator's.
    Returns the seconds of event time the events span."""
    producer = Producer({"bootstrap.servers": settings.kafka.servers, "linger.ms": 5,
                         "compression.type": "lz4"})
    # generated (and, unpaced, encoded) before the clock starts: the simulator must not
    # compete with the worker
    stream = Simulator(3).events(count if kinds is None else 10**9)
    events = list(islice((e for e in stream if kinds is None or e.kind in kinds), count))
    if event_rate is not None:
        events = _live_times(events, event_rate)
    prefix = settings.topics.prefix
    encoded = [] if rate is not None else [
        (raw_topic(e.kind, prefix), e.model_dump_json().encode(), e.session_id.encode())
        for e in events]
    if on_start is not None:
        on_start()
    started = time.perf_counter()
    for i, event in enumerate(events):
        if rate is not None:
            while time.perf_counter() - started < i / rate:
                time.sleep(0.0005)
            event = event.model_copy(update={"event_time": datetime.now(UTC)})
            producer.produce(raw_topic(event.kind, prefix), event.model_dump_json().encode(),
                             key=event.session_id.encode())
        else:
            topic, value, key = encoded[i]
            producer.produce(topic, value, key=key)
        producer.poll(0)
    producer.flush(60)
    times = [event.event_time for event in events]
    return (max(times) - min(times)).total_seconds()


def _live_times(events: list[Event], event_rate: float) -> list[Event]:
    """The events with their event times squeezed, order kept, to span what a stream of
    ``event_rate`` events/s spans in event time (20,000 events at 20,000 events/s: 1 s).

    The simulator writes ~3,000 events per event-minute: replayed at once, 20,000 of them
    span ~7 minutes of event time, so the worker closes ~7 windows per key in a 2-second
    run (a backlog caught up at ~200x real time). A worker taking 20,000 events/s live
    sees event time advance a second per second, and closes each window once a minute."""
    start = min(event.event_time for event in events)
    span = max(event.event_time for event in events) - start
    if not span:
        return events
    squeeze = (len(events) / event_rate) / span.total_seconds()
    return [event.model_copy(update={"event_time": start + (event.event_time - start) * squeeze})
            for event in events]


def _consume_rate(settings: Settings, count: int) -> float:
    consumer = Consumer({"bootstrap.servers": settings.kafka.servers, "group.id": "bench-raw",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([raw_topic(k, settings.topics.prefix) for k in SOURCES])
    seen, started = 0, None
    while seen < count:
        batch = consumer.consume(5000, 1.0)
        if batch and started is None:
            started = time.perf_counter()
        seen += sum(1 for m in batch if m.error() is None)
    consumer.close()
    return count / (time.perf_counter() - (started or time.perf_counter()))


def _thread_part(name: str, *, main: bool, stage: bool, python: str) -> str:
    """The part a thread of a worker (or of a stage, whose loop is its main thread) is in;
    ``python``: the process's name, which threads Python starts without naming them keep."""
    if name == "st-ingest":
        return "batch thread"
    if name.startswith("rdk:"):
        return "librdkafka"
    if main:
        return "stage loop" if stage else "faust loop"
    if stage:
        return "other threads"
    return CHDB_THREADS if name != python else PYTHON_THREADS


CHDB_THREADS = "chdb's threads (merges)"
PYTHON_THREADS = "other Python threads (webhooks, window writes)"


def _records_written(settings: Settings) -> int:
    """Records in every topic the worker writes (not the raw ones it reads)."""
    raw = {raw_topic(kind, settings.topics.prefix) for kind in SOURCES}
    topics = [spec.name for spec in catalogue(settings) if spec.name not in raw]
    consumer = Consumer({"bootstrap.servers": settings.kafka.servers, "group.id": "bench-ends"})
    try:
        metadata = consumer.list_topics(timeout=10).topics
        return sum(consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                   for topic in topics if topic in metadata
                   for p in metadata[topic].partitions)
    finally:
        consumer.close()


class _Worker:
    """A ``streamtune worker`` process, or with ``command`` one of :data:`STAGES` a stage."""

    def __init__(self, settings: Settings, command: str = "worker") -> None:
        self.port = free_port()
        env = {k: v for k, v in os.environ.items()  # the native switch: as in this process
               if not k.startswith("STREAMTUNE_") or k == "STREAMTUNE_NATIVE"}
        env |= {"STREAMTUNE_DATA_DIR": str(settings.data_dir),
                "STREAMTUNE_KAFKA__DEV_BROKER_PORT": str(settings.kafka.dev_broker_port),
                "STREAMTUNE_TOPICS__PREFIX": settings.topics.prefix,
                "STREAMTUNE_DETECTION__STAGE": str(settings.detection.stage).lower(),
                "STREAMTUNE_METRICS_PORT": str(self.port)}
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.log = (settings.data_dir / f"{command}.log").open("ab")
        self.process = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "streamtune", command], env=env, stdout=self.log,
            stderr=subprocess.STDOUT, start_new_session=True)
        self.peak_anon_mb = 0.0
        self.stage = command != "worker"

    def read(self) -> float:
        return scrape(self.port).get("streamtune_events_in_total", 0.0)

    def batches(self) -> float:
        """Batches the ingest loop committed so far."""
        return scrape(self.port).get("streamtune_batch_seconds_count", 0.0)

    def engine_cpu(self) -> float:
        """CPU seconds the worker's threads spent inside embedded chdb's inserts so far."""
        return scrape(self.port).get("streamtune_store_engine_cpu_seconds_total", 0.0)

    def stages(self) -> dict[str, float]:
        """Seconds the worker's ingest thread spent so far per step of its batches."""
        prefix = 'streamtune_batch_stage_seconds_total{stage="'
        return {sample[len(prefix):-2]: value for sample, value in scrape_series(self.port).items()
                if sample.startswith(prefix)}

    def cpu_parts(self) -> dict[str, float]:
        """CPU seconds used so far by the worker's threads, by part."""
        tick = os.sysconf("SC_CLK_TCK")
        parts: dict[str, float] = {}
        python = Path(f"/proc/{self.process.pid}/comm").read_text().strip()
        for tid, name, used in thread_ticks(self.process.pid):
            part = _thread_part(name, main=tid == str(self.process.pid), stage=self.stage,
                                python=python)
            parts[part] = parts.get(part, 0.0) + used / tick
        return parts

    def peak_rss_mb(self) -> float:
        return status_mb(self.process.pid, "VmHWM")

    def sample_memory(self) -> None:
        """Keep the largest anonymous RSS seen (the kernel keeps the peak of RSS only)."""
        self.peak_anon_mb = max(self.peak_anon_mb, status_mb(self.process.pid, "RssAnon"))

    def chdb_code_mb(self) -> float:
        """Resident pages of chdb's shared library: mapped code, not the worker's data."""
        kb, inside = 0, False
        for line in Path(f"/proc/{self.process.pid}/smaps").read_text().splitlines():
            if not line.split(" ", 1)[0].endswith(":"):  # a mapping's header, not a field
                inside = "_chdb" in line
            elif inside and line.startswith("Rss:"):
                kb += int(line.split()[1])
        return kb / 1024

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(120)
        self.log.close()


@dataclass
class _Run:
    rate: float
    per_cpu: float
    rss_mb: float
    anon_mb: float
    """The largest anonymous RSS seen (heaps and buffers: Python's, librdkafka's, chdb's)."""
    chdb_code_mb: float
    """Resident pages of embedded chdb's library at the end (absent with a server)."""
    window_s: float
    """Seconds the CPU was counted over: until the worker's detectors were fed every event
    (the rate's clock stops at the last commit)."""
    shares: dict[str, float]
    """Share of one core each part used over ``window_s``, the dev broker's included."""
    stages: dict[str, float]
    """Share of ``window_s`` the ingest thread spent in each step of its batches."""
    events_per_batch: float
    """Raw events per batch the ingest loop committed, on average."""
    records_per_event: float
    """Records the worker wrote to Kafka (clean, dead letters, scored, alerts, window deltas
    and ticks, the window table's changelog) per raw event, as of its last commit."""
    beside: dict[str, _Stage]
    """The figures of each stage that ran beside the worker (augment, detect), by name."""
    event_span_s: float
    """The seconds of event time the run's events span."""
    engine_cpu_s: float
    """CPU seconds the worker's threads spent inside embedded chdb's inserts."""


@dataclass
class _Stage:
    """A stage beside the worker, over the same run."""

    rate: float
    """Raw events per second of wall time, from the first sent to its last commit."""
    per_cpu: float
    """Raw events per CPU-second of the stage's process."""
    rss_mb: float
    cpu_us: dict[str, float]
    """The stage's CPU per raw event by part (its threads), µs."""


def _throughput(settings: Settings, broker: DevBroker, count: int,
                beside: list[str], *, event_rate: float | None) -> _Run:
    """Events/s (wall), events per worker CPU-second, peak RSS, CPU shares.

    The worker is started and warmed up first; the clock runs from the moment the ``count``
    events start going out to the moment the worker has committed the last of them.
    ``event_rate``: the events' times those of a live stream at that rate, else the
    simulator's (see :func:`_produce`)."""
    worker = _Worker(settings)
    running = {name: _Worker(settings, name) for name in beside}
    broker_group = broker.status().pid or 0
    tick = os.sysconf("SC_CLK_TCK")
    try:
        _warm_up(worker, settings, running)
        marks: dict[str, Any] = {}

        def start_clock() -> None:
            written = _records_written(settings)
            marks.update(started=time.perf_counter(), before=worker.cpu_parts(),
                         broker=group_ticks(broker_group), stages=worker.stages(),
                         written=written, batches=worker.batches(),
                         engine=worker.engine_cpu(),
                         stage={name: stage.cpu_parts() for name, stage in running.items()})

        event_span_s = _produce(settings, count, on_start=start_clock, event_rate=event_rate)
        _wait_caught_up(settings, on_wait=worker.sample_memory)
        elapsed = time.perf_counter() - marks["started"]
        if not settings.detection.stage:
            _wait_detected(worker)
        window = time.perf_counter() - marks["started"]  # the CPU's: held events detected
        after, steps = worker.cpu_parts(), worker.stages()  # before the stages are waited for
        engine_cpu_s = worker.engine_cpu() - marks["engine"]
        figures = {name: _stage_figures(settings, name, stage, count, marks)
                   for name, stage in running.items()}
        written = _records_written(settings) - marks["written"]
        used = _grown(marks["before"], after)
        shares = {part: seconds / window for part, seconds in used.items()}
        shares["dev broker"] = (group_ticks(broker_group) - marks["broker"]) / tick / window
        stages = {stage: seconds / window
                  for stage, seconds in _grown(marks["stages"], steps).items()}
        batches = worker.batches() - marks["batches"]
        return _Run(count / elapsed, count / max(sum(used.values()), 1e-9),
                    worker.peak_rss_mb(), worker.peak_anon_mb, worker.chdb_code_mb(), window,
                    shares,
                    stages, count / max(batches, 1), written / count, figures, event_span_s,
                    engine_cpu_s)
    finally:
        worker.stop()
        for process in running.values():
            process.stop()


def _stage_caught_up(settings: Settings, name: str) -> bool:
    group, topics = STAGES[name]
    return group_caught_up(settings, group(settings), topics(settings))


def _stage_figures(settings: Settings, name: str, stage: _Worker, count: int,
                   marks: dict[str, Any]) -> _Stage:
    """Once the stage's group has caught up: its rate and CPU since the clock started, per
    raw event of the run (its CPU until it fed any events it held for order too)."""
    while not _stage_caught_up(settings, name):
        time.sleep(0.2)
    elapsed = time.perf_counter() - marks["started"]
    _wait_detected(stage)  # at once for a stage that holds nothing (no such gauge)
    used = _grown(marks["stage"][name], stage.cpu_parts())
    return _Stage(count / elapsed, count / max(sum(used.values()), 1e-9), stage.peak_rss_mb(),
                  {part: seconds / count * 1e6 for part, seconds in used.items()})


def _grown(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """Per key of ``after``, how much its counter grew since ``before`` (absent: from 0)."""
    return {key: value - before.get(key, 0.0) for key, value in after.items()}


def _warm_up(worker: _Worker, settings: Settings,
             stages: dict[str, _Worker] | None = None) -> None:
    """Wait until the worker (and each stage beside it) has joined its group and landed a
    few metric events (not in the commands table the latency is read from)."""
    stages = stages or {}
    while not scrape(worker.port) or not all(scrape(s.port) for s in stages.values()):
        time.sleep(0.2)
    _produce(settings, WARM_UP_EVENTS, kinds=frozenset({"metric"}))
    deadline = time.monotonic() + 120
    while worker.read() < WARM_UP_EVENTS and time.monotonic() < deadline:
        time.sleep(0.1)
    while time.monotonic() < deadline and not all(
            _stage_caught_up(settings, name) for name in stages):
        time.sleep(0.2)


def _wait_detected(worker: _Worker) -> None:
    """Wait until the detectors of ``worker`` (a worker, or a detect stage) were fed every
    event: those held for event-time order go when every partition has passed them or
    gone idle (``reorder_idle_s``)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and scrape(worker.port).get(
            "streamtune_detection_held_events", 0.0) > 0:
        worker.sample_memory()
        time.sleep(0.2)


def _wait_caught_up(settings: Settings, on_wait: Callable[[], None] = lambda: None) -> None:
    group = f"{settings.topics.prefix}streamtune-ingest"
    topics = [raw_topic(k, settings.topics.prefix) for k in SOURCES]
    # each check opens a consumer and asks the broker for every partition's offsets:
    # often enough for a timing, not so often that it loads the broker
    while not group_caught_up(settings, group, topics):
        on_wait()
        time.sleep(0.2)


@dataclass
class _Latency:
    p50: float
    p99: float
    cpu_us: dict[str, float]
    """The worker's CPU per event by part (its threads) while it took the offered rate."""
    stages: dict[str, float]
    """The ingest thread's wall time per step of its batches (polls and rests left out),
    µs per event."""
    rss_mb: float
    """The worker's peak RSS over the run: with a long run, a worker in its steady state
    (its de-duplication memory filled, the store's tables grown and merging)."""
    anon_mb: float
    """The largest anonymous RSS seen over the run (sampled every half second)."""
    chdb_code_mb: float
    """Resident pages of embedded chdb's library at the end."""


def _latency(settings: Settings, count: int, rate: float) -> _Latency:
    import clickhouse_connect

    worker = _Worker(settings)
    done = threading.Event()
    sampler = threading.Thread(target=lambda: _sample_until(worker, done), daemon=True)
    try:
        _warm_up(worker, settings)
        cpu, stages = worker.cpu_parts(), worker.stages()
        sampler.start()
        _produce(settings, count, rate=rate)
        _wait_caught_up(settings)
        cpu = {part: s / count * 1e6 for part, s in _grown(cpu, worker.cpu_parts()).items()}
        stages = {stage: s / count * 1e6
                  for stage, s in _grown(stages, worker.stages()).items()}
        rss_mb, chdb_code_mb = worker.peak_rss_mb(), worker.chdb_code_mb()
    finally:
        done.set()
        if sampler.is_alive():
            sampler.join()
        worker.stop()
    client = clickhouse_connect.get_client(dsn=settings.store_url)
    (p50, p99), = client.query(
        "SELECT quantiles(0.5, 0.99)(dateDiff('millisecond', event_time, ingested_at)) "
        "FROM streamtune.commands").result_rows[0]
    client.close()
    return _Latency(p50 / 1000, p99 / 1000, cpu, stages, rss_mb, worker.peak_anon_mb,
                    chdb_code_mb)


def _sample_until(worker: _Worker, done: threading.Event) -> None:
    """Sample the worker's anonymous RSS every half second until ``done``."""
    while not done.wait(0.5):
        worker.sample_memory()


WARM_UP_EVENTS = 20

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--latency-rates", default="1000,5000,10000",
                        help="offered loads (events/s), comma-separated")
    parser.add_argument("--latency-seconds", type=float, default=10.0)
    parser.add_argument("--live-rate", type=float, default=20_000.0,
                        help="the first throughput run's events are timed as a live stream "
                             "at this rate (events/s); the second keeps the simulator's times")
    parser.add_argument("--detect-stage", action="store_true",
                        help="detection in a `streamtune detect` stage, not in the worker")
    parser.add_argument("--augment-stage", action="store_true",
                        help="an augment stage beside the worker in the throughput run")
    args = parser.parse_args()
    with scratch_broker("st-pipeline-") as (root, broker):
        baseline_settings = _settings(root, broker.port, "baseline.")
        create_topics(baseline_settings)
        _produce(baseline_settings, args.events)
        baseline = _consume_rate(baseline_settings, args.events)
        beside = [name for name, on in (("augment", args.augment_stage),
                                        ("detect", args.detect_stage)) if on]
        runs = {}
        for name, event_rate in (("live", args.live_rate), ("replay", None)):
            settings = _settings(root, broker.port, f"throughput-{name}.",
                                 detect_stage=args.detect_stage)
            create_topics(settings)
            runs[name] = _throughput(settings, broker, args.events, beside,
                                     event_rate=event_rate)
        latencies = {}
        for rate in (float(r) for r in args.latency_rates.split(",")):
            lat_settings = _settings(root, broker.port, f"latency{rate:.0f}.",
                                     detect_stage=args.detect_stage)
            create_topics(lat_settings)
            latencies[rate] = _latency(lat_settings, int(rate * args.latency_seconds), rate)
    print(f"{args.events:,} simulated events, dev broker, one worker (hot path "
          f"{'compiled by mypyc' if compiled() else 'plain Python'})"
          + (", detection in a detect stage" if args.detect_stage else "")
          + (", an augment stage beside it" if args.augment_stage else ""))
    print(f"  raw confluent-kafka consume                {baseline:>10,.0f} events/s   1.00x")
    titles = {"live": f"timed as a live stream at {args.live_rate:,.0f} events/s",
              "replay": "the simulator's times, replayed as a backlog"}
    for name, run in runs.items():
        print(f"  {titles[name]} (event times span {run.event_span_s:,.0f} s, caught up at "
              f"{run.event_span_s * run.rate / args.events:,.1f}x real time):")
        _print_run(run, baseline, args.events)
    for rate, latency in latencies.items():
        print(f"  latency at {rate:>6,.0f} events/s offered for {args.latency_seconds:.0f} s: "
              f"produce -> row visible p50 {latency.p50:.2f} s, p99 {latency.p99:.2f} s, "
              f"worker peak RSS {latency.rss_mb:,.0f} MB")
        print(f"      memory: peak anonymous RSS {latency.anon_mb:,.0f} MB; chdb's library "
              f"{latency.chdb_code_mb:,.0f} MB resident at the end")
        print(f"      worker CPU {sum(latency.cpu_us.values()):,.0f} µs per event (" + ", ".join(
            f"{part} {us:,.0f}" for part, us in latency.cpu_us.items() if us >= 1) + ")")
        print("      ingest thread's steps, µs per event: " + ", ".join(
            f"{stage} {us:,.0f}" for stage, us in latency.stages.items() if stage != "poll"))


def _print_run(run: _Run, baseline: float, events: int) -> None:
    print(f"  worker                                     {run.rate:>10,.0f} events/s   "
          f"{run.rate / baseline:.3f}x   {run.per_cpu:>6,.0f} events per worker CPU-s   "
          f"peak RSS {run.rss_mb:,.0f} MB")
    print(f"      memory: peak anonymous RSS {run.anon_mb:,.0f} MB (heaps and buffers); "
          f"chdb's library {run.chdb_code_mb:,.0f} MB resident (mapped code, shared, not "
          "loaded with a ClickHouse server)")
    print("      CPU, share of one core (µs per event): " + ", ".join(
        f"{part} {share:.0%} ({share * run.window_s / events * 1e6:.0f})"
        for part, share in run.shares.items() if share >= 0.005))
    threads_s = run.shares.get(CHDB_THREADS, 0.0) * run.window_s
    own_s = events / run.per_cpu - run.engine_cpu_s - threads_s  # the worker's CPU, chdb's out
    print(f"      embedded chdb's own work: its inserts {run.engine_cpu_s / events * 1e6:.0f} "
          f"µs per event (in the threads above), its threads {threads_s / events * 1e6:.0f}; "
          f"the worker without it (as with a ClickHouse server): "
          f"{events / max(own_s, 1e-9):,.0f} events per worker CPU-s")
    print(f"      broker records written per raw event: {run.records_per_event:.2f}")
    print("      ingest thread, share of the run's time: " + ", ".join(
        f"{stage} {share:.0%}" for stage, share in run.stages.items())
        + f"; {run.events_per_batch:,.0f} events per batch on average")
    for name, stage in run.beside.items():
        print(f"  {name + ' stage':<41}{stage.rate:>10,.0f} events/s   "
              f"{stage.rate / baseline:.3f}x   {stage.per_cpu:>6,.0f} raw events per stage "
              f"CPU-s   peak RSS {stage.rss_mb:,.0f} MB")
        print("      CPU, µs per raw event: " + ", ".join(
            f"{part} {us:,.0f}" for part, us in stage.cpu_us.items() if us >= 0.5))


if __name__ == "__main__":
    main()
