"""Commands of the learning side: datasets, the model registry, train, export, evaluate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from streamtune.cli.app import (
    app,
    console,
    dataset_app,
    iso_time,
    load_settings,
    models_app,
    open_store,
)
from streamtune.config import MODEL_TRAINING, Settings
from streamtune.errors import DatasetError, TrainingError


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
    from streamtune.models.datasets import NAMES, build_snapshot

    if name not in NAMES:
        raise DatasetError(f"unknown dataset {name!r}; use one of {', '.join(NAMES)}")
    bounds = iso_time(since, "--since"), iso_time(until, "--until")
    settings = load_settings()
    with open_store(settings, "build a dataset") as store:
        snap = build_snapshot(store, settings, name, since=bounds[0], until=bounds[1],
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
    for snap in list_snapshots(load_settings(), name):
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

    snap = open_snapshot(load_settings(), name, snapshot_id)
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

    settings = load_settings()
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

    registry = Registry(load_settings())
    versions = registry.versions(name)
    if name is not None and not versions:
        raise ModelNotFound(f"no model named {name} (none registered)")
    marks: dict[tuple[str, str], list[str]] = {}
    for model_name in sorted({v.name for v in versions}):
        for alias in ALIASES:
            if (current := registry.alias(model_name, alias)) is not None:
                marks.setdefault((model_name, current.version), []).append(alias)
    table = Table("model", "version", "created (UTC)", "dataset", "metrics", "alias")
    for i in (0, 1, 5):
        table.columns[i].no_wrap = True
    table.columns[4].overflow = "fold"
    for v in versions:
        quality = [(k, x) for k, x in v.metrics.items() if k.endswith(("accuracy", "f1"))]
        metrics = "\n".join(f"{k}={x:.4g}" for k, x in quality[:3])
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

    model = Registry(load_settings()).get(name, version)
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

    settings = load_settings()
    registry = Registry(settings)
    model = registry.promote(name, version, reason=reason)
    before = registry.history(name)[-1]["previous"] or "none"
    console.print(f"{name} champion: {model.version} (was {before})")
    _tell_workers(settings, name, model.version, "promoted by hand")


@models_app.command("rollback")
def models_rollback(
    name: Annotated[str, typer.Argument(help="model name")],
    reason: Annotated[str, typer.Option(help="why, kept in the history")] = "",
) -> None:
    """Make the previous champion the champion again."""
    from streamtune.models.registry import Registry

    settings = load_settings()
    registry = Registry(settings)
    model = registry.rollback(name, reason=reason)
    console.print(f"{name} champion: {model.version} (rolled back from "
                  f"{registry.history(name)[-1]['previous']})")
    _tell_workers(settings, name, model.version, "rolled back by hand")


def _tell_workers(settings: Settings, name: str, version: str, reason: str) -> None:
    """Hot-swap running workers; without a reachable broker they pick it up at start."""
    from streamtune.errors import BrokerUnavailable
    from streamtune.models.control import Serving, publish

    try:
        publish(settings, Serving(name, champion=version, reason=reason), timeout_s=3.0)
    except BrokerUnavailable:
        console.print("[yellow]Kafka unreachable: running workers keep their version until "
                      "they restart (they load the registry's champion at start)[/]")
        return
    console.print(f"workers told through model-control: {name} {version}")


@models_app.command("sync")
def models_sync() -> None:
    """Import the registry's outbox into ClickHouse (needs the store: stop the worker first)."""
    from streamtune.errors import StoreLocked
    from streamtune.models.registry import import_outbox
    from streamtune.sinks.migrations import migrate
    from streamtune.sinks.store import ClickHouseStore, chdb_locked

    settings = load_settings()
    if chdb_locked(settings.store_url):
        raise StoreLocked(
            f"the chdb store {settings.store_url} is held by another process, normally the "
            "worker, which owns it: stop the worker, then run `streamtune models sync`")
    with ClickHouseStore.from_settings(settings) as store:
        migrate(store)
        imported = import_outbox(store, settings)
    console.print(f"imported {imported} new registry records into {store.database}")


@app.command("train")
def train_command(
    model: Annotated[str, typer.Option("--model", help="intent_classifier, command_predictor, "
                                       "error_recovery or parameter_extractor")],
    dataset: Annotated[str | None, typer.Option(help="snapshot id or prefix; default latest")]
    = None,
    warm_start: Annotated[bool | None, typer.Option(
        help="start from the champion's weights (default: unless it trained on a different "
             "split)")] = None,
) -> None:
    """Train MODEL on a dataset snapshot, export it to ONNX and register the version."""
    if model not in MODEL_TRAINING:  # said before torch is imported
        raise TrainingError(f"unknown model {model!r}; use one of {', '.join(MODEL_TRAINING)}")
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from streamtune.models.datasets import trained_split_matches
    from streamtune.models.registry import Registry
    from streamtune.models.training.run import train_model

    settings = load_settings()
    if warm_start is None:
        champion = Registry(settings).alias(model, "champion")
        warm_start = champion is None or trained_split_matches(settings, champion.dataset, dataset)
        if not warm_start:
            console.print("warm start skipped: the champion was trained on a different split")
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/"
               "{task.total} steps"), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        result = train_model(settings, model, dataset_id=dataset, warm_start=warm_start,
                             progress=progress)
    table = Table("stage", "data mix", "examples", "epochs", "validation")
    table.columns[0].no_wrap = True
    for stage in result.trained.history:
        scores = ", ".join(f"{k.split('.')[-1].removeprefix('validation_')} {v:.3f}"
                           for k, v in stage.items() if k.startswith("validation"))
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
    from streamtune.models.training.trainer import Checkpoint, restore

    chosen = Registry(load_settings()).get(model, version)
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
    """Evaluate a registered model on a snapshot's test split, beside a TF-IDF + logistic
    regression baseline trained on the same snapshot; write the report beside the model."""
    from streamtune.models.evaluation import baseline_table, class_table, evaluate_model, headline

    result, json_path, md_path = evaluate_model(load_settings(), model, version, dataset)
    used = result["dataset"]
    table = Table("figure", "value", title=f"{model} {result['model']['version']} on "
                  f"{used['name']} {used['id']} ({result['examples']:,} test examples)")
    for key, value in headline(result).items():
        if not key.startswith("baseline."):  # in the baseline's own table below
            table.add_row(key, f"{value:,.4g}" if abs(value) < 1e4 else f"{value:,.0f}")
    console.print(table)
    if "accuracy" in result:  # a classifier (the parameter extractor's report has spans)
        if (beside := baseline_table(result)) is not None:
            console.print(beside)
        classes, left_out = class_table(result)
        console.print(classes)
        if left_out:
            console.print(f"... and {left_out} more classes in {md_path.name}", soft_wrap=True)
    console.print(f"report: {md_path}\n        {json_path}", soft_wrap=True)


