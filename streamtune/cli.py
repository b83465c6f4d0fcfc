"""The ``streamtune`` command line.

Every user error (unreachable broker, bad file, bad setting) prints one line
on stderr and exits non-zero; tracebacks are for bugs only.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from streamtune.config import Settings, get_settings
from streamtune.errors import DatasetError, InputFileError, StreamtuneError

app = typer.Typer(
    help="streamtune: stream control-system events through Kafka into ClickHouse, and learn.",
    no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False,
)
config_app = typer.Typer(help="Inspect the effective configuration.", no_args_is_help=True)
schemas_app = typer.Typer(help="Event schemas for producers.", no_args_is_help=True)
topics_app = typer.Typer(help="Create and inspect the Kafka topics.", no_args_is_help=True)
broker_app = typer.Typer(help="The embedded dev broker (noida-db Kafka).", no_args_is_help=True)
db_app = typer.Typer(help="The ClickHouse store.", no_args_is_help=True)
dataset_app = typer.Typer(help="Versioned dataset snapshots (Parquet + manifest + card).",
                          no_args_is_help=True)
models_app = typer.Typer(help="The model registry: versions, champion, challenger.",
                         no_args_is_help=True)
for sub, name in ((config_app, "config"), (schemas_app, "schemas"), (topics_app, "topics"),
                  (broker_app, "broker"), (db_app, "db"), (dataset_app, "dataset"),
                  (models_app, "models")):
    app.add_typer(sub, name=name)

console = Console()
err_console = Console(stderr=True)


def _settings() -> Settings:
    settings = get_settings()
    logging.basicConfig(level=settings.log_level, format="%(levelname)s %(name)s: %(message)s")
    if settings.log_level != "DEBUG":  # libraries' retry chatter; we report failures ourselves
        for noisy in ("streamtune.rdkafka", "urllib3", "clickhouse_connect"):
            logging.getLogger(noisy).setLevel(logging.CRITICAL)
    return settings


@config_app.command("show")
def config_show() -> None:
    """Print the effective settings, secrets masked."""
    console.print_json(json.dumps(_settings().masked(), default=str))


@schemas_app.command("export")
def schemas_export(directory: Annotated[Path, typer.Argument(help="folder to write into")]) -> None:
    """Write JSON Schema files for every event kind and the dead letter."""
    from streamtune.schemas.export import export_json_schemas

    for path in export_json_schemas(directory):
        console.print(f"wrote {path}")


@topics_app.command("create")
def topics_create() -> None:
    """Create every topic of the catalogue that is missing (safe to repeat)."""
    from streamtune.streams.admin import create_topics

    result = create_topics(_settings())
    created = [n for n, s in result.items() if s == "created"]
    console.print(f"{len(created)} topics created, {len(result) - len(created)} already existed")


@topics_app.command("list")
def topics_list() -> None:
    """Show the catalogue's topics with partitions and message counts."""
    from streamtune.streams.admin import describe_topics

    table = Table("topic", "key", "partitions", "messages", "retention")
    for state in describe_topics(_settings()):
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
    from streamtune.streams.dev_broker import DevBroker

    settings = _settings()
    if not settings.kafka.embedded:
        console.print(f"using Kafka at {settings.kafka.servers}; no dev broker started")
        return
    status = DevBroker.from_settings(settings).start()
    console.print(f"dev broker running at {status.address} (pid {status.pid}, "
                  f"data in {status.data_dir})")


@broker_app.command("stop")
def broker_stop() -> None:
    """Stop the embedded dev broker."""
    from streamtune.streams.dev_broker import DevBroker

    stopped = DevBroker.from_settings(_settings()).stop()
    console.print("dev broker stopped" if stopped else "dev broker was not running")


@broker_app.command("status")
def broker_status() -> None:
    """Say whether the dev broker runs; exit 1 when it does not."""
    from streamtune.streams.dev_broker import DevBroker

    status = DevBroker.from_settings(_settings()).status()
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

    with ClickHouseStore.from_settings(_settings()) as store:
        done = migrate(store)
    names = ", ".join(f"{m.version:04d}_{m.name}" for m in done) or "nothing to apply"
    console.print(f"migrations applied: {names}")


@db_app.command("tables")
def db_tables() -> None:
    """Rows per streamtune table (replays counted once)."""
    from streamtune.sinks.store import ClickHouseStore

    with ClickHouseStore.from_settings(_settings()) as store:
        table = Table("table", "rows")
        for (name,) in store.query_rows(
            "SELECT name FROM system.tables WHERE database = {db:String} AND engine LIKE "
            "'%MergeTree' ORDER BY name", {"db": store.database},
        ):
            table.add_row(name, str(store.count(name)))
    console.print(table)


def _utc(text: str | None, option: str) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise DatasetError(f"{option}: not an ISO date/time: {text!r}") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@dataset_app.command("build")
def dataset_build(
    name: Annotated[str, typer.Argument(help="commands or errors")],
    since: Annotated[str | None, typer.Option(help="first event_time (ISO, UTC if no zone)")]
    = None,
    until: Annotated[str | None, typer.Option(help="event_time bound, exclusive")] = None,
    source: Annotated[list[str] | None, typer.Option(help="only these sources (repeat)")]
    = None,
) -> None:
    """Build a snapshot of NAME from the store (reuses an identical one)."""
    from streamtune.errors import StoreLocked
    from streamtune.models.datasets import NAMES, build_snapshot
    from streamtune.sinks.store import ClickHouseStore

    if name not in NAMES:
        raise DatasetError(f"unknown dataset {name!r}; use one of {', '.join(NAMES)}")
    settings = _settings()
    try:
        store = ClickHouseStore.from_settings(settings)
    except StoreLocked:
        raise StoreLocked(f"the chdb store {settings.store_url} is owned by a running worker; "
                          "stop it (or use a ClickHouse server) to build a dataset") from None
    with store:
        snap = build_snapshot(store, settings, name,
                              since=_utc(since, "--since"), until=_utc(until, "--until"),
                              filters={"source": source} if source else None)
    splits = snap.manifest["dataset_stats"]["splits"]
    console.print(f"{name} snapshot {snap.id}: "
                  + ", ".join(f"{s} {splits[s]['rows']}" for s in ("train", "validation", "test")))
    console.print(f"in {snap.path}")


@dataset_app.command("list")
def dataset_list(
    name: Annotated[str | None, typer.Argument(help="commands or errors (default both)")] = None,
) -> None:
    """Every snapshot, oldest first."""
    from streamtune.models.datasets import list_snapshots

    table = Table("dataset", "created (UTC)", "train", "validation", "test", "parent")
    table.add_column("id", no_wrap=True, min_width=16)
    for snap in list_snapshots(_settings(), name):
        manifest = snap.manifest
        splits = manifest["dataset_stats"]["splits"]
        parent = manifest["tracking"]["data_lineage"].get("parent_snapshot") or ""
        table.add_row(snap.name, manifest["created_at"][:16].replace("T", " "),
                      *(str(splits[s]["rows"]) for s in ("train", "validation", "test")),
                      parent[:8], snap.id)
    console.print(table)


@dataset_app.command("show")
def dataset_show(
    name: Annotated[str, typer.Argument(help="commands or errors")],
    snapshot_id: Annotated[str | None, typer.Argument(help="id or prefix; default latest")]
    = None,
) -> None:
    """Summary of a snapshot's manifest, and where its card is."""
    from streamtune.models.datasets import open_snapshot

    snap = open_snapshot(_settings(), name, snapshot_id)
    manifest = snap.manifest
    summary = {key: manifest[key] for key in ("snapshot_id", "created_at", "dataset_stats",
                                              "preprocessing_params", "quality_metrics")}
    summary["tracking"] = manifest["tracking"]
    console.print_json(json.dumps(summary, default=str))
    console.print(f"card: {snap.card_path}")


@dataset_app.command("diff")
def dataset_diff(
    name: Annotated[str, typer.Argument(help="commands or errors")],
    a: Annotated[str, typer.Argument(help="older snapshot id (or prefix)")],
    b: Annotated[str, typer.Argument(help="newer snapshot id (or prefix)")],
) -> None:
    """Rows added, removed and moved per split, and statistics deltas, from A to B."""
    from streamtune.models.datasets import diff_snapshots, open_snapshot

    settings = _settings()
    diff = diff_snapshots(open_snapshot(settings, name, a), open_snapshot(settings, name, b))
    table = Table("split", "rows A", "rows B", "added", "removed", "moved in")
    for split, counts in diff["rows"].items():
        table.add_row(split, *(str(counts[k]) for k in ("a", "b", "added", "removed",
                                                        "moved_in")))
    console.print(table)
    console.print_json(json.dumps({"stats": diff["stats"],
                                   "preprocessing_changed": diff["preprocessing_changed"]}))


@models_app.command("list")
def models_list(
    name: Annotated[str | None, typer.Argument(help="one model; every model if left out")] = None,
) -> None:
    """Registered versions with dataset, key metrics and aliases."""
    from streamtune.errors import ModelNotFound
    from streamtune.models.registry import ALIASES, Registry

    registry = Registry(_settings())
    versions = registry.versions(name)
    if name is not None and not versions:
        raise ModelNotFound(f"no model named {name} (none registered)")
    marks: dict[tuple[str, str], list[str]] = {}
    for model_name in sorted({v.name for v in versions}):
        for alias in ALIASES:
            if (current := registry.alias(model_name, alias)) is not None:
                marks.setdefault((model_name, current.version), []).append(alias)
    table = Table("model", "version", "created (UTC)", "dataset", "metrics", "alias")
    for i, column in enumerate(table.columns):  # squeeze only created and dataset
        column.no_wrap, column.overflow = i not in (2, 3), "fold"
    for v in versions:
        metrics = "\n".join(f"{k}={x:.4g}" for k, x in list(v.metrics.items())[:3])
        table.add_row(v.name, v.version, v.created_at.strftime("%Y-%m-%d %H:%M"),
                      v.dataset.get("name", ""), metrics,
                      ", ".join(marks.get((v.name, v.version), [])))
    console.print(table)


@models_app.command("show")
def models_show(
    name: Annotated[str, typer.Argument(help="model name")],
    version: Annotated[str, typer.Argument(help="vN, champion or challenger")] = "champion",
) -> None:
    """One version's metadata and where its model card is."""
    from streamtune.models.registry import Registry

    model = Registry(_settings()).get(name, version)
    console.print_json(json.dumps({**model.meta(), "path": str(model.path)}))
    console.print(f"model card: {model.card_path}")


@models_app.command("promote")
def models_promote(
    name: Annotated[str, typer.Argument(help="model name")],
    version: Annotated[str, typer.Argument(help="vN or challenger")],
    reason: Annotated[str, typer.Option(help="why, kept in the history")] = "",
) -> None:
    """Make a version the champion (the one it replaces can be rolled back to)."""
    from streamtune.models.registry import Registry

    registry = Registry(_settings())
    model = registry.promote(name, version, reason=reason)
    before = registry.history(name)[-1]["previous"] or "none"
    console.print(f"{name} champion: {model.version} (was {before})")


@models_app.command("rollback")
def models_rollback(
    name: Annotated[str, typer.Argument(help="model name")],
    reason: Annotated[str, typer.Option(help="why, kept in the history")] = "",
) -> None:
    """Make the previous champion the champion again."""
    from streamtune.models.registry import Registry

    registry = Registry(_settings())
    model = registry.rollback(name, reason=reason)
    console.print(f"{name} champion: {model.version} (rolled back from "
                  f"{registry.history(name)[-1]['previous']})")


@models_app.command("sync")
def models_sync() -> None:
    """Import the registry's outbox into ClickHouse (needs the store: stop the worker first)."""
    from streamtune.errors import StoreLocked
    from streamtune.models.registry import import_outbox
    from streamtune.sinks.migrations import migrate
    from streamtune.sinks.store import ClickHouseStore, chdb_locked

    settings = _settings()
    if chdb_locked(settings.store_url):
        raise StoreLocked(
            f"the chdb store {settings.store_url} is held by another process, normally the "
            "worker, which owns it: stop the worker, then run `streamtune models sync`")
    with ClickHouseStore.from_settings(settings) as store:
        migrate(store)
        imported = import_outbox(store, settings)
    console.print(f"imported {imported} new registry records into {store.database}")


@app.command("produce")
def produce(
    file: Annotated[Path | None, typer.Option("--file", help="JSONL file of events")] = None,
    synthetic: Annotated[int | None, typer.Option("--synthetic", help="simulated events")] = None,
    seed: Annotated[int, typer.Option(help="simulator seed")] = 1,
) -> None:
    """Send events from a JSONL file, or a simulated stream, to the raw topics."""
    from streamtune.streams.sending import send_file, send_synthetic

    if (file is None) == (synthetic is None):
        raise InputFileError("give exactly one of --file PATH or --synthetic N")
    settings = _settings()
    started = time.perf_counter()
    if file is not None:
        report = send_file(settings, file, console=console)
        for line_no, reason in report.invalid[:20]:
            print(f"{file}:{line_no}: {reason}", file=sys.stderr)
        if len(report.invalid) > 20:
            err_console.print(f"... and {len(report.invalid) - 20} more invalid lines")
        sent = report.sent
        console.print(f"sent {sent} events, skipped {len(report.invalid)} invalid lines")
    else:
        sent = send_synthetic(settings, synthetic or 0, seed=seed, console=console)
    elapsed = time.perf_counter() - started
    rate = sent / max(elapsed, 1e-9)
    console.print(f"{sent} events delivered in {elapsed:.2f} s ({rate:,.0f}/s)")


@app.command("worker")
def worker() -> None:
    """Run a pipeline worker (a member of the consumer group) until SIGTERM or Ctrl-C."""
    from streamtune.streams.worker import run_worker

    settings = _settings()
    raise typer.Exit(run_worker(settings, loglevel="info" if settings.log_level == "DEBUG"
                                else "warn"))


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
    events: Annotated[int, typer.Option(help="simulated events to stream")] = 20_000,
) -> None:
    """Start the dev broker and chdb, stream the simulator through them, show what landed."""
    from streamtune.demo import run_demo

    run_demo(_settings(), events=events, console=console)


@app.command("train")
def train_command(
    model: Annotated[str, typer.Option("--model", help="intent_classifier, command_predictor "
                                       "or error_recovery")],
    dataset: Annotated[str | None, typer.Option(help="snapshot id or prefix; default latest")]
    = None,
    warm_start: Annotated[bool, typer.Option(help="start from the champion's weights")] = True,
) -> None:
    """Train MODEL on a dataset snapshot, export it to ONNX and register the version."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from streamtune.models.training.run import train_model

    settings = _settings()
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/"
               "{task.total} steps"), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        result = train_model(settings, model, dataset_id=dataset, warm_start=warm_start,
                             progress=progress)
    table = Table("stage", "data mix", "examples", "epochs", "validation")
    table.columns[0].no_wrap = True
    for stage in result.trained.history:
        scores = ", ".join(f"{k.split('.')[-1]} {v:.3f}" for k, v in stage.items()
                           if k.startswith("validation_accuracy."))
        table.add_row(stage["stage"], stage["mix"], str(stage["examples"]),
                      f"{stage['epochs']:g}", scores)
    console.print(table)
    metrics = ", ".join(f"{k} {v:.4g}" for k, v in result.metrics.items())
    parent = result.version.parent
    start = f"warm-started from {parent}" if parent else "from scratch"
    console.print(f"{model} {result.version.version} ({start}, {result.trained.seconds:.1f} s, "
                  f"dataset {result.snapshot.name}/{result.snapshot.id}) is now the "
                  f"{result.alias}")
    console.print(f"test: {metrics}")
    console.print(f"in {result.version.path}")


@app.command("export")
def export_command(
    model: Annotated[str, typer.Argument(help="model name")],
    out: Annotated[Path, typer.Option(help="folder to write model.onnx and labels.json into")],
    version: Annotated[str, typer.Option(help="vN, champion or challenger")] = "champion",
) -> None:
    """Re-export a registered version from its weights to ONNX, checking parity with torch."""
    from streamtune.models.export import PARITY_TOLERANCE, export_model, parity
    from streamtune.models.registry import Registry
    from streamtune.models.training.run import TrainingError
    from streamtune.models.training.trainer import Checkpoint, restore

    chosen = Registry(_settings()).get(model, version)
    trained = restore(Checkpoint.load(chosen.file("weights.pt")),
                      json.loads(chosen.file("labels.json").read_text()))
    files = export_model(trained, out)
    worst = parity(trained, files["model.onnx"])
    if worst > PARITY_TOLERANCE:
        raise TrainingError(f"ONNX export differs from torch by {worst:.2e}")
    console.print(f"{model} {chosen.version} -> {files['model.onnx']} "
                  f"(max |onnx - torch| = {worst:.1e})")


@app.command("evaluate")
def evaluate_command(
    model: Annotated[str, typer.Argument(help="model name, e.g. intent_classifier")],
    version: Annotated[str, typer.Option(help="vN, champion or challenger")] = "champion",
    dataset: Annotated[str | None, typer.Option(
        help="snapshot id (or prefix) to test on; default: the one the model trained on")] = None,
) -> None:
    """Evaluate a registered model on a snapshot's test split; write the report beside it."""
    from streamtune.models.evaluation import evaluate_model, headline

    result, json_path, md_path = evaluate_model(_settings(), model, version, dataset)
    used = result["dataset"]
    table = Table("figure", "value", title=f"{model} {result['model']['version']} on "
                  f"{used['name']} {used['id']} ({result['examples']:,} test examples)")
    for key, value in headline(result).items():
        table.add_row(key, f"{value:,.4g}" if abs(value) < 1e4 else f"{value:,.0f}")
    console.print(table)
    console.print(f"report: {md_path}\n        {json_path}", soft_wrap=True)


def main() -> None:
    """Entry point: run the app, turning streamtune errors into one line and exit 1."""
    try:
        app()
    except StreamtuneError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)
