"""Build snapshots: from the store, or from an in-memory table (Loghub, tests)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from streamtune.config import Settings
from streamtune.errors import DatasetError
from streamtune.models.datasets.card import render_card
from streamtune.models.datasets.columns import SCHEMA_VERSION, DatasetName
from streamtune.models.datasets.extract import Query, qc_pass_rates, read_rows
from streamtune.models.datasets.prepare import TEMPLATE_RULES, Prepared, prepare
from streamtune.models.datasets.snapshot import (
    Snapshot,
    content_hash,
    datasets_dir,
    latest_id,
    write_snapshot,
)
from streamtune.models.datasets.stats import dataset_stats, quality_metrics
from streamtune.sinks.store import ClickHouseStore


@contextmanager
def _steps(enabled: bool, total: int) -> Iterator[Callable[[str], None]]:
    """A progress display over named steps; ``step(description)`` starts the next one."""
    if not enabled:
        yield lambda _description: None
        return
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TextColumn(
        "{task.completed}/{task.total}"), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("starting", total=total)
        started = False

        def step(description: str) -> None:
            nonlocal started
            bar.update(task, description=description, advance=1 if started else 0)
            started = True

        yield step
        bar.update(task, completed=total)


def preprocessing_params(settings: Settings, name: DatasetName) -> dict[str, Any]:
    """What decides the split: hashed with the rows."""
    config = settings.datasets
    return {
        "schema_version": SCHEMA_VERSION,
        "template_rule": TEMPLATE_RULES[name],
        "split_unit": "template" + (" (and session_id for session_split)"
                                    if name == "commands" else ""),
        "split_seed": config.split_seed,
        "split_ratios": {"train": config.train_ratio, "validation": config.validation_ratio,
                         "test": config.test_ratio},
        "augmented_rows": "kept only with their parent in train, and only in train",
    }


def _finish(settings: Settings, name: DatasetName, prepared: Prepared, lineage: dict[str, Any],
            extra_quality: Mapping[str, Any], step: Callable[[str], None],
            params: dict[str, Any] | None = None) -> Snapshot:
    step("hashing rows")
    params = params or preprocessing_params(settings, name)
    digest = content_hash(prepared.splits, params)
    quality = {**quality_metrics(name, prepared.splits, prepared.dropped), **extra_quality}
    manifest = {
        "name": name,
        "snapshot_id": digest[:16],
        "content_sha256": digest,
        "schema_version": SCHEMA_VERSION,
        "created_at": datetime.now(UTC).isoformat(),
        "files": {split: f"{split}.parquet" for split in prepared.splits},
        "columns": [[f.name, str(f.type)] for f in next(iter(prepared.splits.values())).schema],
        "dataset_stats": dataset_stats(name, prepared.splits),
        "preprocessing_params": params,
        "augmentation_config": settings.augmentation.model_dump(mode="json"),
        "quality_metrics": quality,
        "tracking": {
            "data_lineage": {**lineage, "parent_snapshot": latest_id(settings, name)},
            "transformation_history": prepared.history,
        },
    }
    step("writing snapshot")
    return write_snapshot(datasets_dir(settings), name, prepared.splits, manifest,
                          render_card(manifest))


def snapshot_from_table(settings: Settings, name: DatasetName, table: pa.Table,
                        *, lineage: dict[str, Any]) -> Snapshot:
    """Build a snapshot from an in-memory table with the dataset's source columns.

    ``lineage`` goes to the manifest's ``data_lineage``; its optional
    ``description`` and ``annotation_guidelines`` (markdown) replace the card's
    default text for rows that did not come from the store.
    """
    if table.num_rows == 0:
        raise DatasetError(f"no rows to build the {name} dataset from")
    with _steps(False, 0) as step:
        return _finish(settings, name, prepare(name, table, settings.datasets), lineage, {}, step)


def snapshot_from_prepared(settings: Settings, name: DatasetName, prepared: Prepared,
                           *, lineage: dict[str, Any], params: dict[str, Any],
                           quality: Mapping[str, Any]) -> Snapshot:
    """Write split rows (from :func:`prepare`, or split as a file said) as a snapshot.

    ``params`` replace :func:`preprocessing_params` (they say how the rows were
    split, and are hashed with them); ``quality`` adds to the quality metrics.
    """
    with _steps(False, 0) as step:
        return _finish(settings, name, prepared, lineage, quality, step, params)


def build_snapshot(
    store: ClickHouseStore,
    settings: Settings,
    name: DatasetName,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    filters: Mapping[str, Sequence[str]] | None = None,
    progress: bool = True,
) -> Snapshot:
    """Read dataset ``name`` from the store and write (or reuse) its snapshot.

    ``since``/``until`` bound ``event_time`` (``until`` exclusive); ``filters``
    keep rows whose column equals one of the values (see ``FILTER_COLUMNS``).
    """
    query = Query(since, until, dict(filters or {}))
    with _steps(progress, 5) as step:
        step(f"reading {name}")
        originals = read_rows(store, name, query, augmented=False)
        if originals.num_rows == 0:
            raise DatasetError(f"no {name} rows in database {store.database} for this query")
        step("reading augmented rows")
        synthetic = read_rows(store, name, query, augmented=True)
        qc = qc_pass_rates(store)
        step("splitting")
        prepared = prepare(name, pa.concat_tables([originals, synthetic]), settings.datasets)
        times = originals.column("event_time")
        lineage = {
            "source_tables": [f"{store.database}.{name}", f"{store.database}.augmented"],
            "query": query.describe(),
            "event_time_range": [pc.min(times).as_py().isoformat(),
                                 pc.max(times).as_py().isoformat()],
        }
        return _finish(settings, name, prepared, lineage,
                       {"augmentation_qc": qc} if qc else {}, step)
