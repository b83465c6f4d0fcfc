"""``make demo``: the main job on the embedded defaults, visibly.

Starts the dev broker (unless a real Kafka is configured), creates the topics,
starts a worker, an augment stage, a detect stage (detection is a stage of its own here:
``DETECTION__STAGE``) and a trainer, and streams the simulator into Kafka: the
trainer bootstraps a champion, then a drift (a new command type, more
failures) raises alerts and the loop retrains, canaries and rolls out a new
version, live on screen. It then stops the processes, prints what landed and
writes the last hour's report. Everything it started is stopped on the way out,
Ctrl-C included.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.console import Console
from rich.live import Live

from streamtune.config import Settings
from streamtune.demo.profiles import PROFILES, DemoProfile
from streamtune.demo.summary import landed_summary, loop_summary
from streamtune.demo.traffic import Traffic, produce
from streamtune.demo.view import live_view
from streamtune.errors import StreamtuneError
from streamtune.models.registry import Registry
from streamtune.processes import child_setup, ctrl_c_held
from streamtune.prometheus import scrape_series, totals, windows_caught_up
from streamtune.schemas.topics import SOURCES, raw_topic
from streamtune.sinks.store import ClickHouseStore
from streamtune.streams.augment.stage import augment_group, augment_topics
from streamtune.streams.detect.stage import detect_group, detect_topics
from streamtune.streams.kafka.admin import create_topics, end_offsets, group_caught_up
from streamtune.streams.kafka.dev_broker import DevBroker, free_port
from streamtune.streams.worker.ingest import deltas_topic

__all__ = ["PROFILES", "DemoProfile", "run_demo"]

IDLE_CLOSE_S = 3
BOOTSTRAP_TIMEOUT_S = 240
"""How long the demo waits for the trainer's first champion before it gives up."""


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """A streamtune process in a session of its own (a terminal's Ctrl-C reaches only the
    demo, which stops it in order) that gets SIGTERM should the demo itself be killed."""
    with log.open("ab") as out:
        return subprocess.Popen(  # noqa: S603 - our own CLI
            [sys.executable, "-m", "streamtune", *args], env=env, stdout=out,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            preexec_fn=child_setup)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM (the process finishes its batch), SIGKILL its group after 60 s or at a
    second Ctrl-C."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(60)
    except (subprocess.TimeoutExpired, KeyboardInterrupt):
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


def _start_stage(command: str, env: dict[str, str], settings: Settings, cleanup: ExitStack
                 ) -> tuple[subprocess.Popen[bytes], Path, int]:
    """A stage's process with a metrics port and log of its own, stopped on the way out."""
    port = free_port()
    log = settings.data_dir / f"demo-{command}.log"
    with ctrl_c_held():
        process = _start([command], {**env, "STREAMTUNE_METRICS_PORT": str(port)}, log)
        cleanup.callback(_stop, process)
    return process, log, port


def _start_broker(settings: Settings, console: Console, cleanup: ExitStack) -> None:
    broker = DevBroker.from_settings(settings)
    was_running = broker.status().running
    console.print(f"[bold]dev broker[/bold] at {broker.address}")
    if not was_running:
        cleanup.callback(broker.stop)  # before start: a Ctrl-C while it starts stops it too
    with ctrl_c_held():  # a Ctrl-C inside the Kafka client's wait became a SystemError
        broker.start()


def run_demo(settings: Settings, profile: DemoProfile, *, console: Console) -> Path:
    """Run the demo end to end and return the report's path; stop whatever it
    started, even on Ctrl-C."""
    started = time.monotonic()
    with ExitStack() as cleanup:
        if settings.kafka.embedded:
            _start_broker(settings, console, cleanup)
        create_topics(settings)
        port = free_port()
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        env = {**profile.env, "STREAMTUNE_DETECTION__STAGE": "true", **os.environ,
               "STREAMTUNE_METRICS_PORT": str(port),
               "STREAMTUNE_PIPELINE__WINDOW_IDLE_CLOSE_S": str(IDLE_CLOSE_S)}
        worker_log = settings.data_dir / "demo-worker.log"
        with ctrl_c_held():  # a Ctrl-C during the start comes once its stop is registered
            worker = _start(["worker"], env, worker_log)
            cleanup.callback(_stop, worker)
        augment, augment_log, augment_port = _start_stage("augment", env, settings, cleanup)
        detect, detect_log, detect_port = _start_stage("detect", env, settings, cleanup)
        trainer_log = settings.data_dir / "demo-trainer.log"
        trainer_log.unlink(missing_ok=True)
        with ctrl_c_held():
            trainer = _start(["trainer"], {**env, "COLUMNS": "200"}, trainer_log)
            cleanup.callback(_stop, trainer)
        console.print(f"[bold]worker[/bold] pid {worker.pid}, metrics on :{port}, log "
                      f"{worker_log}\n[bold]augment stage[/bold] pid {augment.pid}, metrics on "
                      f":{augment_port}, log {augment_log}\n[bold]detect stage[/bold] pid "
                      f"{detect.pid}, metrics on :{detect_port}, log {detect_log}\n"
                      f"[bold]trainer[/bold] pid "
                      f"{trainer.pid}, log {trainer_log}")
        traffic = Traffic()
        cleanup.callback(traffic.gate.set)
        cleanup.callback(traffic.enough.set)
        producer = threading.Thread(target=produce, args=(settings, profile, traffic),
                                    daemon=True, name="demo-producer")
        producer.start()
        _follow(settings, profile, traffic, producer, (worker, worker_log),
                (trainer, trainer_log), (augment, augment_log), (detect, detect_log),
                (port, augment_port, detect_port), console)
        console.print("[bold]stopping the trainer[/bold]")
        _stop(trainer)
        console.print("[bold]stopping the augment stage[/bold]")
        _stop(augment)
        console.print("[bold]stopping the detect stage[/bold] (it feeds the events it held)")
        _stop(detect)
        console.print("[bold]stopping the worker[/bold] (SIGTERM: it finishes its batch)")
        _stop(worker)
        with ClickHouseStore.from_settings(settings) as store:
            landed_summary(store, console)
            loop_summary(store, console)
            report = _write_report(settings, store)
    console.print(f"[bold]report[/bold]: {report.resolve()}", soft_wrap=True)  # never wrapped
    console.print(f"summary: {report.with_name('summary.md').resolve()}", soft_wrap=True)
    console.print(f"demo finished in {time.monotonic() - started:.0f} s")
    return report


def _write_report(settings: Settings, store: ClickHouseStore) -> Path:
    """The last hour's report (minute buckets: the drift and the rollout show), up to
    the last event: the simulator's clock runs ahead of the wall clock when it streams
    faster than its own pace."""
    from streamtune.reports import default_dir, period_for, write_report

    last = store.query_rows(
        f"SELECT max(event_time) FROM {store.table('commands')}")[0][0]  # noqa: S608
    end = max(datetime.now(UTC), last.replace(tzinfo=UTC) + timedelta(seconds=1))
    return write_report(store, "hour", default_dir(settings.data_dir, period_for("hour", end)),
                        end=end)


def _follow(settings: Settings, profile: DemoProfile, traffic: Traffic,
            producer: threading.Thread,
            worker: tuple[subprocess.Popen[bytes], Path],
            trainer: tuple[subprocess.Popen[bytes], Path],
            augment: tuple[subprocess.Popen[bytes], Path],
            detect: tuple[subprocess.Popen[bytes], Path],
            ports: tuple[int, int, int], console: Console) -> None:
    """Show the live view until the loop has had its chance, the stream is consumed
    (augmented and watched too) and the last windows are closed."""
    port, augment_port, detect_port = ports
    group = f"{settings.topics.prefix}streamtune-ingest"
    raw = [raw_topic(kind, settings.topics.prefix) for kind in SOURCES]
    registry = Registry(settings)
    first = registry.alias("intent_classifier", "champion")
    started = drift_started = time.monotonic()
    caught_up_at: float | None = None
    deltas_end: dict[int, int] = {}
    last_read = (started, 0.0, 0.0, 0.0)
    rate = augment_rate = detect_rate = 0.0
    with Live(console=console, refresh_per_second=2) as live:
        while True:
            time.sleep(0.5)
            series = scrape_series(port)
            now = time.monotonic()
            augment_series = scrape_series(augment_port)
            read = totals(series).get("streamtune_events_in_total", 0.0)
            augmented = totals(augment_series).get("streamtune_augment_events_in_total", 0.0)
            detect_series = scrape_series(detect_port)
            watched = totals(detect_series).get("streamtune_detect_events_in_total", 0.0)
            traffic.consumed = int(read)
            if now - last_read[0] >= 2:
                seconds = now - last_read[0]
                rate, augment_rate, detect_rate = (
                    (value - before) / seconds
                    for value, before in zip((read, augmented, watched), last_read[1:],
                                             strict=True))
                last_read = (now, read, augmented, watched)
            live.update(live_view(traffic.produced, series, rate, now - started, trainer[1],
                                  augment=(augment_series, augment_rate),
                                  detect=(detect_series, detect_rate)))
            for name, (process, log) in (("worker", worker), ("trainer", trainer),
                                         ("augment stage", augment), ("detect stage", detect)):
                if process.poll() is not None:
                    raise StreamtuneError(f"the {name} stopped unexpectedly; see {log}")
            champion = registry.alias("intent_classifier", "champion")
            if not traffic.gate.is_set():
                if champion is not None:
                    traffic.gate.set()  # a champion serves: let the drift come
                    first, drift_started = champion, now
                elif now - started > BOOTSTRAP_TIMEOUT_S:
                    raise StreamtuneError(f"no champion after {BOOTSTRAP_TIMEOUT_S} s; "
                                          f"see {trainer[1]}")
            promoted = champion is not None and first is not None and \
                champion.version != first.version
            if promoted or (traffic.gate.is_set() and now - drift_started > profile.loop_grace_s):
                traffic.enough.set()
            if caught_up_at is None:
                if not producer.is_alive() and group_caught_up(settings, group, raw) and \
                        group_caught_up(settings, augment_group(settings),
                                        augment_topics(settings)) and \
                        group_caught_up(settings, detect_group(settings), detect_topics(settings)):
                    caught_up_at = now
                    deltas_end = end_offsets(settings, deltas_topic(settings))
                continue
            if windows_caught_up(port, deltas_end) and now - caught_up_at > IDLE_CLOSE_S + 2 \
                    and series.get("streamtune_windows_open", 1) == 0:
                return
