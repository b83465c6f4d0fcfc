"""The registry's outbox reaches ClickHouse once, however often it is imported."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC
from pathlib import Path

import pytest

from streamtune.config import Settings
from streamtune.models.registry import Registry, import_outbox
from streamtune.models.registry.sync import STATE_FILE
from streamtune.sinks.migrations import migrate
from streamtune.sinks.store import ClickHouseStore
from tests.support.cli import run_cli
from tests.support.registry import NAME, register
from tests.support.settings import make_settings


@pytest.fixture
def chdb_settings(chdb_path: Path, tmp_path: Path, unique: str) -> Settings:
    """The session's chdb path, a database of this test's own; no broker needed."""
    return make_settings(tmp_path / "data",
                         store={"url": f"chdb://{chdb_path}", "database": f"t{unique}"})


@pytest.fixture
def chdb_store(chdb_settings: Settings) -> Iterator[ClickHouseStore]:
    opened = ClickHouseStore.from_settings(chdb_settings)
    migrate(opened)
    yield opened
    opened.command(f"DROP DATABASE IF EXISTS {opened.database}")


def snapshot(store: ClickHouseStore) -> tuple[list[tuple], list[tuple]]:
    versions = store.query_rows(
        f"SELECT name, version, sha256, created_at, dataset_name, dataset_id, hyperparameters, "
        f"metrics, architecture, parent, path FROM {store.table('model_versions')} FINAL "
        "ORDER BY name, version")
    events = store.query_rows(
        f"SELECT record_id, time, name, version, event, previous_version, reason "
        f"FROM {store.table('model_events')} FINAL ORDER BY time, record_id")
    return versions, events


def test_import_outbox_twice_inserts_nothing_new(chdb_store: ClickHouseStore,
                                                 chdb_settings: Settings,
                                                 tmp_path: Path) -> None:
    registry = Registry(chdb_settings)
    v1, v2 = register(registry, tmp_path, "a"), register(registry, tmp_path, "b", parent="v1")
    registry.promote(NAME, "v1")
    registry.promote(NAME, "v2", reason="better")
    registry.rollback(NAME, reason="regressed")
    assert import_outbox(chdb_store, chdb_settings) == 5
    first = snapshot(chdb_store)
    versions, events = first
    assert [(r[0], r[1], r[2], r[5], r[9], r[10]) for r in versions] == [
        (NAME, "v1", v1.sha256, "ds-a", "", str(v1.path)),
        (NAME, "v2", v2.sha256, "ds-b", "v1", str(v2.path))]
    assert json.loads(versions[1][7]) == v2.metrics
    assert json.loads(versions[1][6]) == v2.hyperparameters
    assert versions[0][3].replace(tzinfo=UTC) == v1.created_at  # kept to the millisecond
    by_id = {e[0]: e for e in events}  # outbox order: times may tie to the millisecond
    in_order = [by_id[json.loads(line)["record_id"]]
                for line in registry.outbox_path.read_text().splitlines()]
    assert [(e[3], e[4], e[5], e[6]) for e in in_order] == [
        ("v1", "registered", "", ""), ("v2", "registered", "", ""), ("v1", "promoted", "", ""),
        ("v2", "promoted", "v1", "better"), ("v1", "rolled_back", "v2", "regressed")]
    assert [e[0] for e in in_order[2:]] == [h["record_id"] for h in registry.history(NAME)]
    assert [e[1] for e in in_order] == sorted(e[1] for e in in_order)

    assert import_outbox(chdb_store, chdb_settings) == 0  # offset remembered
    (registry.root / STATE_FILE).unlink()
    assert import_outbox(chdb_store, chdb_settings) == 0  # offset lost: record ids dedupe
    assert snapshot(chdb_store) == first
    assert chdb_store.count("model_events", final=False) == 5

    registry.promote(NAME, "v2", reason="fixed")
    with registry.outbox_path.open("a") as fh:
        fh.write('{"half a line')  # a writer mid-append: read next time
    assert import_outbox(chdb_store, chdb_settings) == 1
    assert chdb_store.count("model_events") == 6


def test_models_sync_refuses_a_store_held_by_another_process(chdb_store: ClickHouseStore,
                                                             chdb_settings: Settings) -> None:
    result = run_cli("models", "sync", cwd=chdb_settings.data_dir.parent, env={
        "STREAMTUNE_DATA_DIR": str(chdb_settings.data_dir),
        "STREAMTUNE_STORE__URL": chdb_settings.store_url,
        "STREAMTUNE_STORE__DATABASE": chdb_settings.store.database})
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "worker" in lines[0]


def test_models_sync_imports_once_into_a_free_store(tmp_path: Path) -> None:
    data = tmp_path / "data"
    registry = Registry(make_settings(data))
    register(registry, tmp_path, "a")
    registry.promote(NAME, "v1")
    env = {"STREAMTUNE_DATA_DIR": str(data), "STREAMTUNE_STORE__URL": f"chdb://{tmp_path}/own"}
    first = run_cli("models", "sync", cwd=tmp_path, env=env)
    assert first.returncode == 0, first.stderr
    assert "imported 2 new registry records into streamtune" in first.stdout
    again = run_cli("models", "sync", cwd=tmp_path, env=env)
    assert "imported 0 new registry records" in again.stdout
