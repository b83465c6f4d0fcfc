"""Commands of the stream side: config, schemas, topics, broker, store, produce, worker,
augment, demo."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from streamtune.cli.app import (
    app,
    broker_app,
    config_app,
    console,
    db_app,
    load_settings,
    schemas_app,
    topics_app,
)
from streamtune.errors import InputFileError, UsageError
from streamtune.processes import ctrl_c_held


@config_app.command("show")
def config_show() -> None:
    """Print the effective settings, secrets masked."""
    console.print_json(json.dumps(load_settings().masked(), default=str))


@schemas_app.command("export")
def schemas_export(directory: Annotated[Path, typer.Argument(help="folder to write into")]) -> None:
    """Write JSON Schema files for every event kind and the dead letter."""
    from streamtune.schemas.json_schema import export_json_schemas

    for path in export_json_schemas(directory):
        console.print(f"wrote {path}")


@topics_app.command("create")
def topics_create() -> None:
    """Create every topic of the catalogue that is missing (safe to repeat)."""
    from streamtune.streams.kafka.admin import create_topics

    result = create_topics(load_settings())
    created = [n for n, s in result.items() if s == "created"]
    console.print(f"{len(created)} topics created, {len(result) - len(created)} already existed")


@topics_app.command("list")
def topics_list() -> None:
    """Show the catalogue's topics with partitions and message counts."""
    from streamtune.streams.kafka.admin import describe_topics

    table = Table("topic", "key", "partitions", "messages", "retention")
    for state in describe_topics(load_settings()):
        spec = state.spec
        retention = "compacted" if spec.cleanup_policy == "compact" else \
            f"{spec.retention_ms // 3_600_000} h"
        table.add_row(spec.name, spec.key,
                      str(state.partitions) if state.exists else "[red]missing[/red]",
                      str(state.messages), retention)
    console.print(table)


@broker_app.command("start")
def broker_start() -> None:
    """Start the embedded dev broker in the background (no-op with a real Kafka)."""
    from streamtune.streams.kafka.dev_broker import DevBroker

    settings = load_settings()
    if not settings.kafka.embedded:
        console.print(f"using Kafka at {settings.kafka.servers}; no dev broker started")
        return
    broker = DevBroker.from_settings(settings)
    try:
        with ctrl_c_held():  # a Ctrl-C inside Popen left a broker no pid file names
            status = broker.start()
    except KeyboardInterrupt:
        broker.stop()
        raise
    console.print(f"dev broker running at {status.address} (pid {status.pid}, "
                  f"data in {status.data_dir})")


@broker_app.command("stop")
def broker_stop() -> None:
    """Stop the embedded dev broker."""
    from streamtune.streams.kafka.dev_broker import DevBroker

    stopped = DevBroker.from_settings(load_settings()).stop()
    console.print("dev broker stopped" if stopped else "dev broker was not running")


@broker_app.command("status")
def broker_status() -> None:
    """Say whether the dev broker runs; exit 1 when it does not."""
    from streamtune.streams.kafka.dev_broker import DevBroker

    status = DevBroker.from_settings(load_settings()).status()
    if status.running:
        console.print(f"running at {status.address} (pid {status.pid})")
    else:
        console.print(f"not running (would listen on {status.address})")
        raise typer.Exit(1)


@db_app.command("migrate")
def db_migrate() -> None:
    """Apply the store's migrations that are not applied yet (safe to repeat)."""
    from streamtune.sinks.migrations import migrate
    from streamtune.sinks.store import ClickHouseStore

    with ClickHouseStore.from_settings(load_settings()) as store:
        done = migrate(store)
    names = ", ".join(f"{m.version:04d}_{m.name}" for m in done) or "nothing to apply"
    console.print(f"migrations applied: {names}")


@db_app.command("tables")
def db_tables() -> None:
    """Rows per streamtune table (replays counted once where the engine folds them)."""
    from streamtune.sinks.store import ClickHouseStore

    with ClickHouseStore.from_settings(load_settings()) as store:
        table = Table("table", "engine", "rows")
        for name, engine in store.query_rows(
            "SELECT name, engine FROM system.tables WHERE database = {db:String} AND engine "
            "LIKE '%MergeTree' AND NOT startsWith(name, '.') ORDER BY name",  # not a view's temp
            {"db": store.database},
        ):
            rows = store.count(name, final=folds_replays(engine))
            table.add_row(name, engine, f"{rows:,}")
    console.print(table)


def folds_replays(engine: str) -> bool:
    """True for a MergeTree engine that merges rows by key, so a count takes ``FINAL``.

    A plain ``MergeTree`` (``aggregates_hourly``) refuses ``FINAL``.

    Examples
    --------
    >>> folds_replays("ReplacingMergeTree"), folds_replays("ReplicatedMergeTree")
    (True, False)
    """
    family = engine.removeprefix("Replicated").removeprefix("Shared")
    return family.endswith("MergeTree") and family != "MergeTree"


@app.command("produce")
def produce(
    file: Annotated[Path | None, typer.Option("--file", help="JSONL file of events")] = None,
    synthetic: Annotated[int | None, typer.Option("--synthetic", help="simulated events")] = None,
    seed: Annotated[int, typer.Option(help="simulator seed")] = 1,
    rate: Annotated[float, typer.Option(
        help="simulated events per second; 0 = as fast as possible")] = 0.0,
) -> None:
    """Send events from a JSONL file, or a simulated stream, to the raw topics.

    Rides out a broker restart (events are held, and resent after a producer failure).
    Ends with what was sent, acknowledged and failed, and the first reasons; exits 1
    unless Kafka acknowledged every event. With --file it also gives the lines accepted
    and rejected, and exits 1 when any line was rejected (the accepted ones are sent).
    """
    from streamtune.streams.kafka.sending import send_file, send_synthetic

    if (file is None) == (synthetic is None):
        raise InputFileError("give exactly one of --file PATH or --synthetic N")
    if rate < 0 or (rate and file is not None):
        raise UsageError("--rate takes events/s >= 0 and goes with --synthetic N")
    settings = load_settings()
    if file is None:
        summary = send_synthetic(settings, synthetic or 0, seed=seed, console=console,
                                 rate=rate)
        raise typer.Exit(0 if summary.complete else 1)
    report, summary = send_file(settings, file, console=console)
    counts, *reasons = report.summary()
    console.print(counts, soft_wrap=True, markup=False, highlight=False)
    for line in reasons:  # FILE:LINE: reason, whole, for editors and grep
        print(line, file=sys.stderr)
    raise typer.Exit(0 if summary.complete and not report.rejected else 1)


@app.command("worker")
def worker() -> None:
    """Run a pipeline worker (a member of the consumer group) until SIGTERM or Ctrl-C."""
    from streamtune.streams.worker.startup import run_worker

    settings = load_settings()
    raise typer.Exit(run_worker(settings, loglevel="info" if settings.log_level == "DEBUG"
                                else "warn"))


@app.command("augment")
def augment() -> None:
    """Run an augment stage (reads the clean topics, lands augmented rows) until SIGTERM
    or Ctrl-C."""
    from streamtune.streams.augment.stage import run_stage

    raise typer.Exit(run_stage(load_settings()))


@app.command("detect")
def detect() -> None:
    """Run a detect stage (reads the clean and scored topics, raises drift and new-pattern
    alerts) until SIGTERM or Ctrl-C; for STREAMTUNE_DETECTION__STAGE=true."""
    from streamtune.streams.detect.stage import run_stage

    raise typer.Exit(run_stage(load_settings()))


@app.command("second-opinion")
def second_opinion() -> None:
    """Run a second-opinion stage (reads the scored topic; the teacher answers again where
    the intent classifier served an unsure answer) until SIGTERM or Ctrl-C."""
    from streamtune.streams.second_opinion.stage import run_stage

    raise typer.Exit(run_stage(load_settings()))


@app.command("simulate")
def simulate(
    out: Annotated[Path, typer.Option(help="JSONL file to write")],
    events: Annotated[int, typer.Option(help="how many events")] = 10_000,
    seed: Annotated[int, typer.Option(help="simulator seed")] = 1,
    truth: Annotated[Path | None, typer.Option(help="write the drift ground truth here")] = None,
    drift_at: Annotated[int | None, typer.Option(help="inject every drift at this index")] = None,
) -> None:
    """Write a simulated event stream to a JSONL file (no Kafka needed)."""
    from streamtune.simulator import Scenario, Simulator

    scenario = Scenario.all_at(drift_at) if drift_at is not None else None
    sim = Simulator(seed, scenario=scenario)
    with out.open("w", encoding="utf-8") as fh:
        for event in sim.events(events):
            fh.write(event.model_dump_json() + "\n")
    if truth is not None:
        sim.write_ground_truth(truth)
    console.print(f"wrote {events} events to {out}")


@app.command("demo")
def demo(
    profile: Annotated[str, typer.Option(help="full (make demo) or short (the end-to-end test's)")]
    = "full",
    events: Annotated[int | None, typer.Option(help="simulated events (default: the profile's)")]
    = None,
) -> None:
    """Run worker, trainer and simulator on the dev broker and chdb with an injected drift,
    live; print what landed and write a report of the last hour."""
    from dataclasses import replace

    from streamtune.demo import PROFILES, run_demo

    if profile not in PROFILES:
        raise UsageError(f"--profile: {profile!r} is not one of {', '.join(PROFILES)}")
    chosen = PROFILES[profile] if events is None else replace(PROFILES[profile], events=events)
    run_demo(load_settings(), chosen, console=console)


