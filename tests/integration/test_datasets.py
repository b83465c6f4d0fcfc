"""Datasets built from a real chdb store filled through the real pipeline steps."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from streamtune.config import Settings
from streamtune.models.datasets import (
    JSON_COLUMNS,
    SPLITS,
    Snapshot,
    build_snapshot,
    snapshot_schema,
)
from streamtune.sinks.migrations import migrate
from streamtune.sinks.store import ClickHouseStore
from tests.support.datasets_fill import fill
from tests.support.settings import make_settings


@pytest.fixture(scope="module")
def filled(chdb_path: Path, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[tuple[ClickHouseStore, Settings]]:
    """A migrated store in a database of its own, holding 4,000 simulated events."""
    database = f"d{uuid.uuid4().hex[:10]}"
    cfg = make_settings(tmp_path_factory.mktemp("datasets"),
                        store={"url": f"chdb://{chdb_path}", "database": database})
    store = ClickHouseStore.from_settings(cfg)
    migrate(store)
    fill(store, cfg, seed=17, events=4000)
    yield store, cfg
    store.command(f"DROP DATABASE IF EXISTS {store.database}")


def rows(snap: Snapshot) -> list[dict]:
    return [row for split in SPLITS for row in snap.rows(split)]


@pytest.mark.parametrize(("name", "table", "label"), [
    ("commands", "commands", "command_type"), ("errors", "errors", "error_type")])
def test_both_datasets_from_the_store_are_complete_and_leak_free(
        filled: tuple[ClickHouseStore, Settings], name: str, table: str, label: str) -> None:
    store, cfg = filled
    snap = build_snapshot(store, cfg, name, progress=False)  # type: ignore[arg-type]
    for split in SPLITS:
        assert snap.table(split).schema.names == snapshot_schema(name).names  # type: ignore[arg-type]
    everything = rows(snap)
    originals = [r for r in everything if not r["synthetic"]]
    stored = store.query_rows(f"SELECT toString(event_id), {label} FROM {store.table(table)} FINAL")
    assert sorted((r["event_id"], r[label]) for r in originals) == sorted(stored)
    assert len({r["event_id"] for r in everything}) == len(everything)

    split_of_template: dict[str, set[str]] = {}
    for row in everything:
        split_of_template.setdefault(row["template"], set()).add(row["split"])
    assert all(len(s) == 1 for s in split_of_template.values())
    counts = {s: snap.table(s).num_rows for s in SPLITS}
    assert all(counts.values()) and counts["train"] > counts["validation"]

    split_of = {r["event_id"]: r["split"] for r in originals}
    synthetic = [r for r in everything if r["synthetic"]]
    assert synthetic and all(r["split"] == "train" and r["technique"] for r in synthetic)
    assert all(split_of[r["parent_event_id"]] == "train" for r in synthetic)
    stored_synthetic = store.query_rows(
        f"SELECT count() FROM {store.table('augmented')} FINAL WHERE kind = {{k:String}}",
        {"k": name[:-1]})[0][0]
    dropped = snap.manifest["quality_metrics"]["augmented_rows_dropped"]
    assert len(synthetic) + sum(dropped.values()) == stored_synthetic
    assert snap.manifest["quality_metrics"]["augmentation_qc"]
    for row in originals[:50]:
        for column in JSON_COLUMNS & set(row):
            assert isinstance(row[column], dict | list)
        json.dumps(row, default=str)
    if name == "commands":
        sessions: dict[str, set[str]] = {}
        for row in originals:
            sessions.setdefault(row["session_id"], set()).add(row["session_split"])
        assert all(len(s) == 1 for s in sessions.values())
        assert len({s for (s,) in sessions.values()}) == 3


def test_time_range_and_filters_bound_the_rows(filled: tuple[ClickHouseStore, Settings]) -> None:
    store, cfg = filled
    whole = build_snapshot(store, cfg, "commands", progress=False)
    times = sorted(r["event_time"] for r in rows(whole) if not r["synthetic"])
    middle = times[len(times) // 2]
    later = build_snapshot(store, cfg, "commands", since=middle, progress=False)
    assert later.id != whole.id
    assert all(r["event_time"] >= middle for r in rows(later))
    assert later.manifest["tracking"]["data_lineage"]["parent_snapshot"] == whole.id
    assert later.manifest["tracking"]["data_lineage"]["query"]["since"] == middle.isoformat()
    source = rows(whole)[0]["source"]
    only = build_snapshot(store, cfg, "commands", filters={"source": [source]}, progress=False)
    assert {r["source"] for r in rows(only)} == {source}
    again = build_snapshot(store, cfg, "commands", until=datetime.now(UTC) + timedelta(days=1),
                           progress=False)
    assert again.id == whole.id  # same rows, same snapshot
