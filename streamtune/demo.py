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
from pathlib import Path

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from streamtune.config import Settings
from streamtune.errors import StreamtuneError
from streamtune.models.registry import Registry
from streamtune.schemas.topics import SOURCES, raw_topic
from streamtune.sinks.metrics import scrape_series, windows_caught_up
from streamtune.sinks.store import ClickHouseStore
from streamtune.streams.admin import create_topics, end_offsets, group_caught_up
from streamtune.streams.dev_broker import DevBroker, free_port
from streamtune.streams.ingest import deltas_topic
from streamtune.streams.producer import EventProducer

HOSTILE_SHARE = 0.02
RATE = 800
"""Events per second the demo's simulator offers (a worker scores ~1.5-2k/s here)."""
LOOP_ENV = {
    "STREAMTUNE_SCORING__MODELS": '["intent_classifier"]',
    "STREAMTUNE_TRAINING__INTENT_CLASSIFIER__TOTAL_EPOCHS": "4",
    "STREAMTUNE_LOOP__DEBOUNCE_S": "5",
    "STREAMTUNE_LOOP__MIN_TRAIN_EVENTS": "1000",
    "STREAMTUNE_LOOP__CANARY_MIN_EVENTS": "200",
    "STREAMTUNE_LOOP__STAGE_MIN_EVENTS": "150",
    "STREAMTUNE_DETECTION__PATTERN_WARMUP_EVENTS": "1500",
    "STREAMTUNE_DETECTION__PATTERN_MIN_COUNT": "15",
}
"""The demo's short loop (one model, short training, small canary); the environment wins."""
PLANTED_SECRET = "demo-S3cret-pw"  # noqa: S105 - planted to show redaction
IDLE_CLOSE_S = 3
GATE_SHARE, DRIFT_SHARE = 0.3, 0.5
"""The first champion trains on the stream's first 30 %; the drift starts at 50 %."""
LOOP_GRACE_S = 150
"""After the drift starts, how long the demo keeps traffic flowing for the loop."""


def _produce(settings: Settings, events: int, progress: dict[str, int],
             gate: threading.Event) -> None:
    """The simulator: a steady stream; at ``gate_at`` it waits for ``gate`` (a champion
    serves), goes on, and at ``drift_at`` brings the drift: a new command type and more
    failures. Paced like live traffic.
    Past ``events`` it goes on (up to 3x) until ``progress["enough"]``: the loop needs
    live traffic to judge its candidate."""
    from streamtune.simulator import Scenario, Simulator, hostile_payloads
    from streamtune.simulator.scenario import ErrorRateDrift, NewCommandTypeDrift

    drift_at, gate_at = progress["drift_at"], progress["gate_at"]
    scenario = Scenario(new_command_type=NewCommandTypeDrift(at=drift_at, share=0.2),
                        error_rate=ErrorRateDrift(at=drift_at, to=0.25))
    hostile = hostile_payloads(7, int(events * HOSTILE_SHARE))
    every = max(events // max(len(hostile), 1), 1)
    topic = raw_topic("command", settings.topics.prefix)
    started = time.monotonic()
    with EventProducer.from_settings(settings) as producer:
        for i, event in enumerate(Simulator(1, scenario=scenario).events(events * 3), start=1):
            if i > events and progress["enough"]:
                break
            if i == gate_at:  # enough to train the first champion: wait until it serves
                producer.flush()
                gate.wait()
                started = time.monotonic()
            if i % 200 == 0:  # live traffic: about RATE events/s
                ahead = (i - (gate_at if i >= gate_at else 0)) / RATE - (
                    time.monotonic() - started)
                if ahead > 0:
                    time.sleep(ahead)
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


def _live(progress: dict[str, int], series: dict[str, float], started: float,
          trainer_log: Path) -> Group:
    metrics: dict[str, float] = {}
    serving = []
    for sample, value in series.items():
        name = sample.split("{", 1)[0]
        metrics[name] = metrics.get(name, 0.0) + value
        if name == "streamtune_serving_percent" and value > 0:
            labels = dict(part.split("=", 1) for part in sample[len(name) + 1:-1].split(","))
            serving.append(f"{labels['version'].strip(chr(34))} {value:.0f} %")
    elapsed = max(time.monotonic() - started, 1e-9)
    stored = metrics.get("streamtune_events_in_total", 0.0)
    table = Table("produced", "worker read", "dead letters", "duplicates", "redactions",
                  "windows", "alerts", "intent model", "read/s", "elapsed")
    table.add_row(
        f"{progress['produced']:,}", f"{stored:,.0f}",
        f"{metrics.get('streamtune_dead_letters_total', 0):,.0f}",
        f"{metrics.get('streamtune_duplicates_dropped_total', 0):,.0f}",
        f"{metrics.get('streamtune_redactions_total', 0):,.0f}",
        f"{metrics.get('streamtune_windows_emitted_total', 0):,.0f}",
        f"{metrics.get('streamtune_alerts_total', 0):,.0f}",
        ", ".join(sorted(serving)) or "training...",
        f"{stored / elapsed:,.0f}", f"{elapsed:.0f} s")
    lines = trainer_log.read_text(errors="replace").splitlines()[-7:] if trainer_log.exists() \
        else []
    return Group(table, Text("trainer: " + "\n         ".join(
        line[:150] for line in lines if line.strip()), style="cyan"))


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


def _loop_summary(store: ClickHouseStore, console: Console) -> None:
    alerts = Table("kind", "severity", "count", "first", title="alerts")
    for kind, severity, count, title in store.query_rows(
        f"SELECT kind, severity, count(), argMin(title, raised_at) FROM "  # noqa: S608
        f"{store.table('alerts')} FINAL GROUP BY kind, severity ORDER BY min(raised_at)"
    ):
        alerts.add_row(kind, severity, str(count), title[:80])
    console.print(alerts)
    decisions = Table("time", "model", "version", "stage", "decision", title="loop decisions")
    decisions.add_column("why", no_wrap=True, overflow="ellipsis", max_width=70)
    for at, model, candidate, stage, decision, reason in store.query_rows(
        "SELECT time, model, candidate, stage, decision, reason FROM "  # noqa: S608
        f"{store.table('loop_decisions')} FINAL ORDER BY time"
    ):
        decisions.add_row(f"{at:%H:%M:%S}", model, candidate, stage, decision,
                          reason.split(": ", 1)[-1])
    console.print(decisions)
    accuracy = Table("phase", "version", "served events", "accuracy",
                     title="live intent accuracy (served predictions)")
    predictions = store.table("predictions")
    for phase, version, events, rate in store.query_rows(
        f"WITH (SELECT argMin(version, event_time) FROM {predictions} WHERE model = "  # noqa: S608
        "'intent_classifier' AND served) AS first, (SELECT minIf(event_time, command_type = "
        f"'isolate_segment') FROM {store.table('commands')}) AS onset "
        "SELECT multiIf(version != first, 'after', event_time < onset, 'before', 'during') "
        f"AS phase, version, count(), avg(correct) FROM {predictions} FINAL "
        "WHERE model = 'intent_classifier' AND served AND correct >= 0 "
        "GROUP BY phase, version ORDER BY min(event_time)"
    ):
        accuracy.add_row(phase, version, f"{events:,}", f"{rate:.3f}")
    console.print(accuracy)


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(  # noqa: S603 - our own CLI
            [sys.executable, "-m", "streamtune", *args], env=env, stdout=out,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)


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
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        env = {**LOOP_ENV, **os.environ, "STREAMTUNE_METRICS_PORT": str(port),
               "STREAMTUNE_PIPELINE__WINDOW_IDLE_CLOSE_S": str(IDLE_CLOSE_S)}
        worker_log = settings.data_dir / "demo-worker.log"
        worker = _start(["worker"], env, worker_log)
        cleanup.callback(_stop, worker)
        trainer_log = settings.data_dir / "demo-trainer.log"
        trainer_log.unlink(missing_ok=True)
        trainer = _start(["trainer"], {**env, "COLUMNS": "200"}, trainer_log)
        cleanup.callback(_stop, trainer)
        console.print(f"[bold]worker[/bold] pid {worker.pid}, metrics on :{port}, log "
                      f"{worker_log}\n[bold]trainer[/bold] pid {trainer.pid}, log {trainer_log}")
        progress = {"produced": 0, "gate_at": int(events * GATE_SHARE),
                    "drift_at": int(events * DRIFT_SHARE), "enough": 0}
        gate = threading.Event()
        cleanup.callback(gate.set)
        producer = threading.Thread(target=_produce, args=(settings, events, progress, gate),
                                    daemon=True, name="demo-producer")
        started = time.monotonic()
        producer.start()
        group = f"{settings.topics.prefix}streamtune-ingest"
        raw = [raw_topic(kind, settings.topics.prefix) for kind in SOURCES]
        registry = Registry(settings)
        first = registry.alias("intent_classifier", "champion")
        drift_started = time.monotonic()
        caught_up_at = None
        deltas_end: dict[int, int] = {}
        with Live(_live(progress, {}, started, trainer_log), console=console,
                  refresh_per_second=2) as live:
            while True:
                time.sleep(0.5)
                series = scrape_series(port)
                live.update(_live(progress, series, started, trainer_log))
                for name, process, log in (("worker", worker, worker_log),
                                           ("trainer", trainer, trainer_log)):
                    if process.poll() is not None:
                        raise StreamtuneError(f"the {name} stopped unexpectedly; see {log}")
                champion = registry.alias("intent_classifier", "champion")
                if not gate.is_set() and champion is not None:
                    gate.set()  # a champion serves: let the drift come
                    first, drift_started = champion, time.monotonic()
                promoted = champion is not None and first is not None and \
                    champion.version != first.version
                if promoted or (gate.is_set() and
                                time.monotonic() - drift_started > LOOP_GRACE_S):
                    progress["enough"] = 1
                if caught_up_at is None:
                    if not producer.is_alive() and group_caught_up(settings, group, raw):
                        caught_up_at = time.monotonic()
                        deltas_end = end_offsets(settings, deltas_topic(settings))
                    continue
                if windows_caught_up(port, deltas_end) and \
                        time.monotonic() - caught_up_at > IDLE_CLOSE_S + 2 and \
                        series.get("streamtune_windows_open", 1) == 0:
                    break
        console.print("[bold]stopping the trainer[/bold]")
        _stop(trainer)
        console.print("[bold]stopping the worker[/bold] (SIGTERM: it finishes its batch)")
        _stop(worker)
        with ClickHouseStore.from_settings(settings) as store:
            _summary(store, console)
            _loop_summary(store, console)
