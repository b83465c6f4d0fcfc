"""`streamtune dataset build|list|show|diff` against a chdb store of its own."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from streamtune.sinks.store import ClickHouseStore
from tests.support.cli import run_cli
from tests.support.paths import REPO


def fill(data_dir: Path, seed: int, events: int) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    subprocess.run([sys.executable, "-m", "tests.support.datasets_fill", str(data_dir),
                    str(seed), str(events)], cwd=REPO, env=env, check=True, timeout=120)


def test_build_list_show_diff(tmp_path: Path) -> None:
    env = {"STREAMTUNE_DATA_DIR": str(tmp_path / "data")}
    fill(tmp_path / "data", 5, 2000)
    first = run_cli("dataset", "build", "commands", cwd=tmp_path, env=env)
    assert first.returncode == 0, first.stderr
    a = re.search(r"commands snapshot ([0-9a-f]{16}): train (\d+)", first.stdout)
    assert a is not None and int(a.group(2)) > 0
    fill(tmp_path / "data", 6, 1000)
    b = re.search(r"snapshot ([0-9a-f]{16})",
                  run_cli("dataset", "build", "commands", cwd=tmp_path, env=env).stdout)
    assert b is not None and b.group(1) != a.group(1)
    assert (tmp_path / "data" / "datasets" / "commands" / b.group(1) / "train.parquet").exists()

    listed = run_cli("dataset", "list", "commands", cwd=tmp_path, env=env)
    assert listed.returncode == 0 and a.group(1) in listed.stdout and b.group(1) in listed.stdout
    shown = run_cli("dataset", "show", "commands", cwd=tmp_path, env=env)
    assert shown.returncode == 0 and f'"snapshot_id": "{b.group(1)}"' in shown.stdout
    assert "CARD.md" in shown.stdout
    diff = run_cli("dataset", "diff", "commands", a.group(1)[:8], b.group(1), cwd=tmp_path,
                   env=env)
    assert diff.returncode == 0, diff.stderr
    assert "added" in diff.stdout and "train" in diff.stdout
    missing = run_cli("dataset", "show", "errors", cwd=tmp_path, env=env)
    assert missing.returncode == 1 and missing.stderr.strip() == (
        "error: no errors snapshot yet; run `streamtune dataset build errors`")


def test_build_refuses_a_store_the_worker_owns(chdb_path: Path, tmp_path: Path) -> None:
    with ClickHouseStore(f"chdb://{chdb_path}"):  # this process plays the worker
        result = run_cli("dataset", "build", "commands", cwd=tmp_path,
                         env={"STREAMTUNE_STORE__URL": f"chdb://{chdb_path}"})
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 1 and len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and "owned by a running worker" in lines[0]
