"""librdkafka's CPU per event and the records' wait, for read-ahead settings against the dev broker.

The dev broker answers a fetch at once instead of holding it for ``fetch.wait.max.ms``,
so how far a consumer reads ahead decides how often librdkafka fetches, and that cost
lands in the consumer's CPU figure. This times one consumer alone, in alternating rounds,
in one process against its own dev broker, polling as

- the ingest loop does (``read_ahead``): batches of ``batch_max_events`` within
  ``batch_max_wait_ms``, with the loop's rests (``Rests``) after polls that found little;
- a stage does (``stage_read_ahead``, the detect and augment stages): the same batches
  through a ``GroupConsumer``, which rests its own way;

each with its setting and the other one, over

- ``live``: a producer process sends simulated events to the 8 raw topics (6 partitions
  each) at ``--rate`` events/s for ``--seconds``;
- ``backlog``: ``--events`` events already on the broker.

The consumer sleeps ``--pace`` µs per record read (the worker's work; a sleep, so only
librdkafka's threads use CPU meanwhile). Each run reads topics of its own, from the start.
Printed: librdkafka's threads' CPU per event (µs, from /proc), the polling thread's
(``time.thread_time`` around each poll: librdkafka hands the records over in it), Fetch
requests per second (librdkafka's statistics; live only: a backlog is read before they
come) and, live, how long records waited from their send to the poll that returned them
(p50/p99).

Run: ``.venv/bin/python benchmarks/fetching.py [--events 60000] [--rate 1000,5000,15000]
[--seconds 6] [--pace 45] [--rounds 2]``
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, Message
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]
from procfs import thread_ticks
from rich.console import Console
from rich.table import Table
from scratch import scratch_broker

from streamtune.config import Settings
from streamtune.consumers import GroupConsumer, known_lags, read_ahead, stage_read_ahead
from streamtune.schemas.topics import SOURCES
from streamtune.simulator import Simulator
from streamtune.streams.worker.resting import FETCH_WINDOW_S, Rests

PARTITIONS = 6
SETTINGS = {"read_ahead: 200, 20 ms": read_ahead(Settings()),
            "stage_read_ahead: 1, 10 ms": stage_read_ahead(Settings())}
"""The two settings (records read ahead per partition, a partition's rest past them)."""
_PRODUCER = """
import sys, time
from confluent_kafka import Producer
servers, rate, path = sys.argv[1], float(sys.argv[2]), sys.argv[3]
records = [line.split(b" ", 1) for line in open(path, "rb").read().splitlines()]
producer = Producer({"bootstrap.servers": servers, "linger.ms": 5, "compression.type": "lz4"})
start = time.perf_counter()
for i, (topic, value) in enumerate(records):
    producer.produce(topic.decode(), value, key=str(i % 97).encode(),
                     timestamp=int(time.time() * 1000))
    if i % 50 == 0:
        producer.poll(0)
        ahead = start + i / rate - time.perf_counter()
        if ahead > 0:
            time.sleep(ahead)
producer.flush(60)
"""


def _rdk_seconds() -> float:
    """CPU seconds of this process's librdkafka threads (``rdk:*``), live ones."""
    used = sum(spent for _, name, spent in thread_ticks("self") if name.startswith("rdk:"))
    return used / os.sysconf("SC_CLK_TCK")


class _Poll:
    """Polls batches as the ingest loop (``stage=False``) or a stage does."""

    def __init__(self, servers: str, options: dict[str, Any], topics: list[str], *,
                 stage: bool, stats: list[dict[str, Any]]) -> None:
        self.batching = Settings().pipeline
        conf = {"bootstrap.servers": servers, "group.id": f"fetching-{time.time_ns()}",
                "auto.offset.reset": "earliest", "enable.auto.commit": False,
                "statistics.interval.ms": 500,
                "stats_cb": lambda text: stats.append(json.loads(text)), **options}
        self.group = GroupConsumer(conf, topics, dev_broker=True) if stage else None
        self.rests = None
        if self.group is not None:
            self.consumer = self.group.consumer
        else:
            rests = self.rests = Rests(self.batching.batch_max_events,
                                       lambda: sum(known_lags(self.consumer).values()),
                                       rest_s=self.batching.batch_max_wait_ms / 1000)
            self.consumer = Consumer(conf)
            self.consumer.subscribe(topics, on_assign=lambda *_: rests.assigned())

    def join(self) -> None:
        """Wait for the group's assignment (live: before the first record is sent)."""
        while not self.consumer.assignment():
            if self.group is not None:
                self.group.consume(1, 0.1)
            else:
                self.consumer.poll(0.1)

    def batch(self) -> list[Message]:
        count, wait_s = self.batching.batch_max_events, self.batching.batch_max_wait_ms / 1000
        if self.group is not None:
            return self.group.consume(count, wait_s)
        rests = self.rests
        if rests is None:
            raise RuntimeError("an ingest-loop poll has its rests")
        woken = rests.wake(self.consumer)
        messages = self.consumer.consume(count, FETCH_WINDOW_S if woken else wait_s)
        rests.after_poll(self.consumer, len(messages), paused=False)
        return messages


def _run(servers: str, options: dict[str, Any], topics: list[str], count: int,
         pace_s: float, *, stage: bool, rate: float | None, records: Path) -> dict[str, float]:
    """Read ``count`` records of ``topics``: librdkafka's CPU, fetches, waits."""
    stats: list[dict[str, Any]] = []
    poll = _Poll(servers, options, topics, stage=stage, stats=stats)
    producer = None
    if rate:
        poll.join()
        producer = _produce(servers, rate, records)
    waits: list[float] = []
    read, fetches_before, polling = 0, _fetches(stats), 0.0
    cpu, started = _rdk_seconds(), time.perf_counter()
    while read < count and time.perf_counter() - started < 120:
        before = time.thread_time()
        batch = poll.batch()
        polling += time.thread_time() - before
        now = time.time() * 1000
        waits += [now - message.timestamp()[1] for message in batch if message.error() is None]
        read += len(batch)
        time.sleep(len(batch) * pace_s)
    cpu, elapsed = _rdk_seconds() - cpu, time.perf_counter() - started
    fetches = _fetches(stats) - fetches_before
    poll.consumer.close()
    if producer is not None:
        producer.wait(60)
    waits.sort()
    return {"cpu_us": cpu / max(read, 1) * 1e6, "poll_us": polling / max(read, 1) * 1e6,
            "fetches_s": fetches / elapsed,
            "p50_ms": waits[len(waits) // 2] if waits else 0.0,
            "p99_ms": waits[int(len(waits) * 0.99)] if waits else 0.0, "read": read}


def _fetches(stats: list[dict[str, Any]]) -> int:
    if not stats:
        return 0
    return sum(broker.get("req", {}).get("Fetch", 0) for broker in stats[-1]["brokers"].values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=60_000)
    parser.add_argument("--rate", default="1000,5000,15000", help="live rates, events/s")
    parser.add_argument("--seconds", type=float, default=6.0, help="of each live run")
    parser.add_argument("--pace", type=float, default=45.0, help="µs of work per record")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    events = [(e.kind, e.model_dump_json().encode()) for e in Simulator(3).events(args.events)]
    modes: list[tuple[str, float | None, int]] = [("backlog", None, args.events)] + [
        (f"live {float(r):,.0f}/s", float(r), min(int(float(r) * args.seconds), args.events))
        for r in args.rate.split(",")]
    results: dict[tuple[str, str, str], list[dict[str, float]]] = {}
    runs = itertools.count()
    with scratch_broker("st-fetching-") as (root, broker):
        admin = AdminClient({"bootstrap.servers": broker.address})
        for _, (mode, rate, count), poller, (name, options) in itertools.product(
                range(args.rounds), modes, ("ingest loop", "stage"), SETTINGS.items()):
            prefix = f"fetching{next(runs)}."
            topics = {kind: f"{prefix}raw.{source}" for kind, source in SOURCES.items()}
            for future in admin.create_topics([NewTopic(t, PARTITIONS, 1)
                                               for t in topics.values()]).values():
                future.result()
            records = root / f"{prefix}records"
            records.write_bytes(b"\n".join(topics[kind].encode() + b" " + value
                                           for kind, value in events[:count]))
            if rate is None:
                _produce(broker.address, float("inf"), records).wait(120)
            results.setdefault((mode, poller, name), []).append(_run(
                broker.address, options, list(topics.values()), count, args.pace / 1e6,
                stage=poller == "stage", rate=rate, records=records))
            for future in admin.delete_topics(list(topics.values())).values():
                future.result()  # the broker's log stays small: it saves it when stopped
    _print(results, args)


def _produce(servers: str, rate: float, records: Path) -> subprocess.Popen[bytes]:
    """A process sending ``records`` at ``rate`` events/s (``inf``: at once)."""
    return subprocess.Popen(  # noqa: S603 - fixed argv
        [sys.executable, "-c", _PRODUCER, servers, str(rate), str(records)])


def _print(results: dict[tuple[str, str, str], list[dict[str, float]]],
           args: argparse.Namespace) -> None:
    table = Table(title=f"backlog of {args.events:,} events, live for {args.seconds:.0f} s; "
                        f"{args.pace:.0f} µs of work per event; median of {args.rounds} rounds")
    for column in ("mode", "polled as", "setting", "librdkafka µs/event",
                   "polling thread µs/event", "Fetch requests/s",
                   "wait p50 ms", "wait p99 ms", "read"):
        table.add_column(column, justify="left" if column in (
            "mode", "polled as", "setting") else "right")
    for (mode, poller, name), runs in results.items():
        med = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
        live = mode != "backlog"
        table.add_row(mode, poller, name, f"{med['cpu_us']:.1f}", f"{med['poll_us']:.1f}",
                      f"{med['fetches_s']:,.0f}" if live else "",
                      f"{med['p50_ms']:.0f}" if live else "",
                      f"{med['p99_ms']:.0f}" if live else "",
                      f"{min(run['read'] for run in runs):,.0f}")
    Console(width=150).print(table)


if __name__ == "__main__":
    main()
