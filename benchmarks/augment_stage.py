"""Throughput of the augment stage alone: events/s and events per CPU-second of its process.

Starts its own dev broker, cleans N simulated events in this process as a worker
does (validate, clean, redact, annotate) and, with a ``streamtune augment``
process started and warmed up, publishes them to ``clean.commands`` /
``clean.errors`` at once; the clock runs from the first one sent to the last
one committed by the stage's group. The stage's CPU time (all its threads) is
read from /proc: events per CPU-second holds when the machine is shared. Rows
go to the store outbox (the embedded default: no store insert is timed).
Run: ``.venv/bin/python benchmarks/augment_stage.py [--events N] [--budget B]``.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from confluent_kafka import Producer
from procfs import stat_fields, status_mb, ticks
from scratch import scratch_broker

from streamtune.config import Settings
from streamtune.prometheus import scrape
from streamtune.schemas.topics import SOURCES, clean_topic
from streamtune.simulator import Simulator
from streamtune.sinks.rows import event_json
from streamtune.streams.augment.stage import augment_group, augment_topics
from streamtune.streams.kafka.admin import create_topics, group_caught_up
from streamtune.streams.kafka.dev_broker import free_port
from streamtune.streams.worker.batch import BatchProcessor, RawRecord

WARM_UP_EVENTS = 300


def _clean_records(settings: Settings, count: int, seed: int) -> list[tuple[str, bytes, bytes]]:
    """``(topic, value, key)`` of the clean command and error events of ``count`` simulated
    events, as a worker publishes them."""
    events = list(Simulator(seed).events(count))
    records = [RawRecord(f"raw.{SOURCES[e.kind]}", 0, i, e.model_dump_json().encode())
               for i, e in enumerate(events)]
    clean = BatchProcessor(settings).process(records, augment=False).events
    return [(clean_topic(e.kind, settings.topics.prefix), event_json(e), e.session_id.encode())
            for e, _ in clean if e.kind in ("command", "error")]


def _send(settings: Settings, records: list[tuple[str, bytes, bytes]]) -> None:
    producer = Producer({"bootstrap.servers": settings.kafka.servers, "linger.ms": 5,
                         "compression.type": "lz4"})
    for topic, value, key in records:
        producer.produce(topic, value, key=key)
        producer.poll(0)
    producer.flush(60)


def _cpu_s(pid: int) -> float:
    return ticks(stat_fields(Path(f"/proc/{pid}/stat"))) / os.sysconf("SC_CLK_TCK")


def _wait(condition: object, what: str, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000, help="simulated events (all kinds)")
    parser.add_argument("--budget", type=float, default=None,
                        help="STREAMTUNE_AUGMENTATION__BUDGET (default: the setting's)")
    args = parser.parse_args()
    with scratch_broker("st-augment-") as (root, broker):
        settings = Settings(_env_file=None, data_dir=root / "data",  # type: ignore[call-arg]
                            kafka={"dev_broker_port": broker.port}, topics={"prefix": "bench."})
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMTUNE_")}
        env |= {"STREAMTUNE_DATA_DIR": str(settings.data_dir),
                "STREAMTUNE_TOPICS__PREFIX": "bench.",
                "STREAMTUNE_KAFKA__DEV_BROKER_PORT": str(broker.port),
                "STREAMTUNE_METRICS_PORT": str(port)}
        if args.budget is not None:
            env["STREAMTUNE_AUGMENTATION__BUDGET"] = str(args.budget)
        stage = None
        try:
            create_topics(settings)
            warm = _clean_records(settings, WARM_UP_EVENTS, seed=1)
            records = _clean_records(settings, args.events, seed=3)  # before the clock starts
            settings.data_dir.mkdir(parents=True)
            with (settings.data_dir / "augment.log").open("ab") as log:
                stage = subprocess.Popen(  # noqa: S603 - our own CLI
                    [sys.executable, "-m", "streamtune", "augment"], env=env, stdout=log,
                    stderr=subprocess.STDOUT, start_new_session=True)
            _send(settings, warm)
            _wait(lambda: scrape(port).get("streamtune_augment_events_in_total", 0) >= len(warm),
                  "the stage to warm up")
            before = scrape(port)
            cpu_before, started = _cpu_s(stage.pid), time.perf_counter()
            _send(settings, records)
            _wait(lambda: group_caught_up(settings, augment_group(settings),
                                          augment_topics(settings)), "the stage to catch up")
            elapsed, cpu = time.perf_counter() - started, _cpu_s(stage.pid) - cpu_before
            after = scrape(port)
            rss = status_mb(stage.pid, "VmHWM")
        finally:
            if stage is not None:
                stage.send_signal(signal.SIGTERM)
                stage.wait(60)

    def delta(name: str) -> float:
        return after.get(name, 0.0) - before.get(name, 0.0)

    count = len(records)
    rows = delta("streamtune_augmented_rows_total")
    print(f"augment stage, {count:,} clean command/error events (of {args.events:,} simulated), "
          f"dev broker, rows to the store outbox")
    print(f"  {count / elapsed:>8,.0f} events/s   {count / cpu:>8,.0f} events per stage CPU-s   "
          f"peak RSS {rss:,.0f} MB")
    print(f"  chosen {delta('streamtune_augment_events_chosen_total'):,.0f}, skipped "
          f"{delta('streamtune_augment_events_skipped_total'):,.0f}; {rows:,.0f} augmented rows "
          f"({rows / count:.2f} per event); {cpu * 1e6 / count:,.0f} µs CPU per event")


if __name__ == "__main__":
    main()
