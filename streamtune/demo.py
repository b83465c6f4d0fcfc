"""``make demo``: the main job on the embedded defaults, visibly.

Starts the dev broker (unless a real Kafka is configured), creates the
topics, starts a worker process, streams the simulator (with a sprinkle of
hostile payloads, duplicates and planted secrets) into Kafka while showing the
worker's live metrics, then stops the worker and prints what landed. Everything
it started is stopped on the way out, Ctrl-C included.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from contextlib import ExitStack

from rich.console import Console
from rich.live import Live
from rich.table import Table

from streamtune.config import Settings
from streamtune.errors import StreamtuneError
from streamtune.schemas.topics import SOURCES, raw_topic
from streamtune.sinks.metrics import scrape, windows_caught_up
from streamtune.sinks.store import ClickHouseStore
from streamtune.streams.admin import create_topics, end_offsets, group_caught_up
from streamtune.streams.dev_broker import DevBroker, free_port
from streamtune.streams.ingest import deltas_topic
from streamtune.streams.producer import EventProducer

HOSTILE_SHARE = 0.02
PLANTED_SECRET = "demo-S3cret-pw"  # noqa: S105 - planted to show redaction
IDLE_CLOSE_S = 3


def _produce(settings: Settings, events: int, progress: dict[str, int]) -> None:
    from streamtune.simulator import Simulator, hostile_payloads

    hostile = hostile_payloads(7, int(events * HOSTILE_SHARE))
    every = max(events // max(len(hostile), 1), 1)
    topic = raw_topic("command", settings.topics.prefix)
    with EventProducer.from_settings(settings) as producer:
        for i, event in enumerate(Simulator(1).events(events), start=1):
            if i % 500 == 0 and event.kind == "command":
                event = event.model_copy(update={
                    "raw_input": f"{event.raw_input} --password {PLANTED_SECRET}",
                    "normalized_input": None})
            producer.send(event)
            if i % 1000 == 0:
                producer.send(event)  # a resend: stored once
            if hostile and i % every == 0:
                producer.send_bytes(topic, hostile.pop()[0])
            progress["produced"] = producer.sent


def _live(progress: dict[str, int], metrics: dict[str, float], started: float) -> Table:
    elapsed = max(time.monotonic() - started, 1e-9)
    stored = metrics.get("streamtune_events_in_total", 0.0)
    table = Table("produced", "worker read", "dead letters", "duplicates", "redactions",
                  "windows", "augmented", "read/s", "elapsed")
    table.add_row(
        f"{progress['produced']:,}", f"{stored:,.0f}",
        f"{metrics.get('streamtune_dead_letters_total', 0):,.0f}",
        f"{metrics.get('streamtune_duplicates_dropped_total', 0):,.0f}",
        f"{metrics.get('streamtune_redactions_total', 0):,.0f}",
        f"{metrics.get('streamtune_windows_emitted_total', 0):,.0f}",
        f"{metrics.get('streamtune_augmented_rows_total', 0):,.0f}",
        f"{stored / elapsed:,.0f}", f"{elapsed:.0f} s")
    return table


def _summary(store: ClickHouseStore, console: Console) -> None:
    rows = Table("table", "rows", title="what landed in ClickHouse")
    for table in (*SOURCES.values(), "dead_letters", "augmented", "augmentation_qc",
                  "aggregates"):
        rows.add_row(table, f"{store.count(table):,}")
    console.print(rows)
    dlq = Table("category", "count", "a reason", title="dead letters by reason")
    for category, count, reason in store.query_rows(
        f"SELECT category, count(), any(reason) FROM {store.table('dead_letters')} FINAL "  # noqa: S608
        "GROUP BY category ORDER BY count() DESC"
    ):
        dlq.add_row(category, str(count), reason[:70])
    console.print(dlq)
    windows = Table("window", "command type", "events", "success", "p50 s", "p95 s", "p99 s",
                    title="busiest window aggregates")
    for start, command_type, events, rate, p50, p95, p99 in store.query_rows(
        "SELECT window_start, command_type, events, success_rate, execution_time_p50, "  # noqa: S608
        f"execution_time_p95, execution_time_p99 FROM {store.table('aggregates')} FINAL "
        "WHERE source = 'commands' AND command_type != '' ORDER BY events DESC LIMIT 8"
    ):
        windows.add_row(f"{start:%H:%M}", command_type, str(events), f"{rate:.0%}",
                        f"{p50:.2f}", f"{p95:.2f}", f"{p99:.2f}")
    console.print(windows)
    leaks = store.query_rows(
        f"SELECT count() FROM {store.table('commands')} WHERE "  # noqa: S608
        "position(raw_input, {s:String}) > 0", {"s": PLANTED_SECRET})[0][0]
    console.print(f"planted secrets found in the store: {leaks} (redacted before storage)")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


def run_demo(settings: Settings, *, events: int, console: Console) -> None:
    """Run the demo end to end; stop whatever it started, even on Ctrl-C."""
    with ExitStack() as cleanup:
        if settings.kafka.embedded:
            broker = DevBroker.from_settings(settings)
            was_running = broker.status().running
            console.print(f"[bold]dev broker[/bold] at {broker.address}")
            broker.start()
            if not was_running:
                cleanup.callback(broker.stop)
        create_topics(settings)
        port = free_port()
        log_path = settings.data_dir / "demo-worker.log"
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "STREAMTUNE_METRICS_PORT": str(port),
               "STREAMTUNE_PIPELINE__WINDOW_IDLE_CLOSE_S": str(IDLE_CLOSE_S)}
        with log_path.open("ab") as log_out:
            worker = subprocess.Popen(  # noqa: S603 - our own CLI
                [sys.executable, "-m", "streamtune", "worker"], env=env, stdout=log_out,
                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        cleanup.callback(_stop, worker)
        console.print(f"[bold]worker[/bold] pid {worker.pid}, metrics on :{port}, "
                      f"log {log_path}")
        progress = {"produced": 0}
        producer = threading.Thread(target=_produce, args=(settings, events, progress),
                                    daemon=True, name="demo-producer")
        started = time.monotonic()
        producer.start()
        group = f"{settings.topics.prefix}streamtune-ingest"
        raw = [raw_topic(kind, settings.topics.prefix) for kind in SOURCES]
        caught_up_at = None
        deltas_end: dict[int, int] = {}
        with Live(_live(progress, {}, started), console=console, refresh_per_second=2) as live:
            while True:
                time.sleep(0.5)
                metrics = scrape(port)
                live.update(_live(progress, metrics, started))
                if worker.poll() is not None:
                    raise StreamtuneError(f"the worker stopped unexpectedly; see {log_path}")
                if caught_up_at is None:
                    if not producer.is_alive() and group_caught_up(settings, group, raw):
                        caught_up_at = time.monotonic()
                        deltas_end = end_offsets(settings, deltas_topic(settings))
                elif windows_caught_up(port, deltas_end) and \
                        time.monotonic() - caught_up_at > IDLE_CLOSE_S + 2 and \
                        metrics.get("streamtune_windows_open", 1) == 0:
                    break
        console.print("[bold]stopping the worker[/bold] (SIGTERM: it finishes its batch)")
        _stop(worker)
        with ClickHouseStore.from_settings(settings) as store:
            _summary(store, console)
