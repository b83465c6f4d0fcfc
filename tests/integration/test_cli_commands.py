"""Every `streamtune` command that reads the store, run as users run it, on a freshly
migrated chdb store (a path of its own: the test process holds the session's), then on
one holding replayed rows."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from tests.support.cli import run_cli
from tests.support.paths import REPO

MIGRATIONS = sorted(p.stem for p in (REPO / "streamtune" / "sinks" / "migrations").glob("*.sql"))
ROW = re.compile(r"^│ (\w+)\s+│ (\w+)\s+│ ([\d,]+)\s+│$", re.MULTILINE)

FILL_AND_REPLAY = """
import json, sys
from pathlib import Path
from streamtune.sinks.store import ClickHouseStore
from tests.support.settings import make_settings
from tests.support.datasets_fill import fill

settings = make_settings(Path(sys.argv[1]))
with ClickHouseStore.from_settings(settings) as store:
    fill(store, settings, seed=5, events=200)
    commands = store.table("commands")
    store.command(f"INSERT INTO {commands} SELECT * FROM {commands}")  # every row replayed
    print(json.dumps(store.query_rows(f"SELECT uniqExact(event_id), count() FROM {commands}")))
"""


def tables(data_dir: Path) -> dict[str, tuple[str, int]]:
    """`streamtune db tables` as table -> (engine, rows)."""
    result = run_cli("db", "tables", cwd=data_dir.parent,
                     env={"STREAMTUNE_DATA_DIR": str(data_dir)})
    assert result.returncode == 0, result.stderr
    return {name: (engine, int(rows.replace(",", "")))
            for name, engine, rows in ROW.findall(result.stdout)}


def test_store_commands_on_a_fresh_store_and_with_replays(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = {"STREAMTUNE_DATA_DIR": str(data_dir)}
    migrated = run_cli("db", "migrate", cwd=tmp_path, env=env)
    assert migrated.returncode == 0, migrated.stderr
    assert all(name in migrated.stdout for name in MIGRATIONS), migrated.stdout

    fresh = tables(data_dir)
    assert fresh["aggregates_hourly"] == ("MergeTree", 0)  # FINAL would fail here
    assert fresh["commands"] == ("ReplacingMergeTree", 0)
    assert fresh["schema_migrations"] == ("ReplacingMergeTree", len(MIGRATIONS))
    assert {rows for name, (_, rows) in fresh.items() if name != "schema_migrations"} == {0}

    report = run_cli("report", "--period", "hour", "--out", str(tmp_path / "hour"), cwd=tmp_path,
                     env=env)
    assert report.returncode == 0, report.stderr
    assert "hour report for" in report.stdout
    assert "<html" in (tmp_path / "hour" / "report.html").read_text()
    assert (tmp_path / "hour" / "summary.md").read_text().strip()

    synced = run_cli("models", "sync", cwd=tmp_path, env=env)
    assert synced.returncode == 0, synced.stderr
    assert "imported 0 new registry records" in synced.stdout

    filled = subprocess.run([sys.executable, "-c", FILL_AND_REPLAY, str(data_dir)], cwd=REPO,
                            env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True,
                            text=True, timeout=120, check=False)
    assert filled.returncode == 0, filled.stderr[-2000:]
    [[distinct, stored]] = json.loads(filled.stdout.strip().splitlines()[-1])
    assert distinct > 0 and stored >= distinct
    counted = tables(data_dir)
    assert counted["commands"] == ("ReplacingMergeTree", distinct)  # replays counted once
    assert counted["aggregates_hourly"] == ("MergeTree", 0)

    built = run_cli("dataset", "build", "commands", cwd=tmp_path, env=env)
    assert built.returncode == 0, built.stderr
    snapshot = re.search(r"commands snapshot ([0-9a-f]{16}): train (\d+)", built.stdout)
    assert snapshot is not None and int(snapshot.group(2)) > 0
