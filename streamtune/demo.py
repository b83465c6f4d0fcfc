"""``make demo``: the main job on the embedded defaults, visibly.

Starts the dev broker (unless a real Kafka is configured), creates the
topics, migrates the chdb store, streams the simulator (with a sprinkle of
hostile payloads) into Kafka while the loader moves it into the store, then
prints what landed. Everything it started is stopped on the way out,
Ctrl-C included.
"""

from __future__ import annotations

import threading
import time
from contextlib import ExitStack

from rich.console import Console
from rich.live import Live
from rich.table import Table

from streamtune.config import Settings
from streamtune.schemas.topics import raw_topic
from streamtune.sinks.migrations import migrate
from streamtune.sinks.store import ClickHouseStore
from streamtune.streams.admin import create_topics
from streamtune.streams.dev_broker import DevBroker
from streamtune.streams.loader import LoadStats, RawLoader
from streamtune.streams.producer import EventProducer

HOSTILE_SHARE = 0.02


def _produce(settings: Settings, events: int, progress: dict[str, int]) -> None:
    from streamtune.simulator import Simulator, hostile_payloads

    hostile = hostile_payloads(7, int(events * HOSTILE_SHARE))
    every = max(events // max(len(hostile), 1), 1)
    with EventProducer.from_settings(settings) as producer:
        for i, event in enumerate(Simulator(1).events(events), start=1):
            producer.send(event)
            if hostile and i % every == 0:
                payload, _ = hostile.pop()
                producer.send_bytes(raw_topic("command", settings.topics.prefix), payload)
            progress["produced"] = producer.sent


def _live_table(progress: dict[str, int], stats: LoadStats, started: float) -> Table:
    elapsed = max(time.monotonic() - started, 1e-9)
    table = Table("produced", "stored events", "dead letters", "events/s", "elapsed")
    loaded = stats.events + stats.dead_letters
    table.add_row(f"{progress['produced']:,}", f"{stats.events:,}", f"{stats.dead_letters:,}",
                  f"{loaded / elapsed:,.0f}", f"{elapsed:.1f} s")
    return table


def _summary(store: ClickHouseStore, console: Console) -> None:
    rows = Table("table", "rows", title="what landed in ClickHouse")
    for table in ("commands", "errors", "feedback", "corrections", "traces", "metrics",
                  "performance", "error_states", "dead_letters"):
        rows.add_row(table, f"{store.count(table):,}")
    console.print(rows)
    dlq = Table("category", "reason (first seen)", "count", title="dead letters by reason")
    for category, reason, count in store.query_rows(
        f"SELECT category, any(reason), count() FROM {store.table('dead_letters')} FINAL "  # noqa: S608 - fixed table
        "GROUP BY category ORDER BY count() DESC"
    ):
        dlq.add_row(category, reason[:80], str(count))
    console.print(dlq)
    top = Table("command type", "events", "success rate", "p95 exec time (s)",
                title="busiest command types")
    for command_type, n, rate, p95 in store.query_rows(
        f"SELECT command_type, count(), avg(success), quantile(0.95)(execution_time) "  # noqa: S608
        f"FROM {store.table('commands')} FINAL GROUP BY command_type ORDER BY count() DESC "
        "LIMIT 5"
    ):
        top.add_row(command_type, f"{n:,}", f"{rate:.1%}", f"{p95:.2f}")
    console.print(top)


def run_demo(settings: Settings, *, events: int, console: Console) -> None:
    """Run the demo end to end; stop whatever it started, even on Ctrl-C."""
    with ExitStack() as cleanup:
        if settings.kafka.embedded:
            broker = DevBroker.from_settings(settings)
            was_running = broker.status().running
            console.print(f"[bold]starting the dev broker[/bold] at {broker.address}")
            broker.start()
            if not was_running:
                cleanup.callback(broker.stop)
                cleanup.callback(console.print, "[bold]stopping the dev broker[/bold]")
        create_topics(settings)
        store = cleanup.enter_context(ClickHouseStore.from_settings(settings))
        migrate(store)
        console.print(f"[bold]store[/bold] {settings.store_url} migrated")
        loader = RawLoader(settings, store=store, group_id="streamtune-demo")
        cleanup.callback(loader.close)
        progress = {"produced": 0}
        producer = threading.Thread(target=_produce, args=(settings, events, progress),
                                    daemon=True, name="demo-producer")
        started = time.monotonic()
        producer.start()
        with Live(_live_table(progress, loader.stats, started), console=console,
                  refresh_per_second=4) as live:
            loader.run(
                idle_stop_s=3.0,
                should_stop=lambda: not producer.is_alive() and
                loader.stats.events + loader.stats.dead_letters >= progress["produced"],
                on_batch=lambda stats: live.update(_live_table(progress, stats, started)),
            )
            loader.step()
            live.update(_live_table(progress, loader.stats, started))
        producer.join(timeout=30)
        console.print()
        _summary(store, console)
