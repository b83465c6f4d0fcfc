"""Loghub's structured samples as error-dataset rows (skipped when the data is absent)."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

from streamtune.models.datasets import SPLITS, load_loghub, loghub_lineage, snapshot_from_table
from tests.support.paths import SHARED_DATA
from tests.support.settings import make_settings

ROOT = SHARED_DATA / "loghub"
SYSTEMS = ["Apache", "BGL", "HDFS", "Hadoop"]
pytestmark = pytest.mark.skipif(not ROOT.is_dir(), reason=f"Loghub samples not found at {ROOT}")


def lines_of(system: str) -> list[dict[str, str]]:
    with (ROOT / f"{system}_2k.log_structured.csv").open(newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize("system", SYSTEMS)
def test_every_line_becomes_a_row_with_its_type_and_time(system: str) -> None:
    table = load_loghub(system, ROOT)
    lines = lines_of(system)
    assert table.num_rows == len(lines)
    types = Counter(table.column("error_type").to_pylist())
    assert types == Counter(f"{system}_{line['EventId']}" for line in lines)
    assert table.column("error_message").to_pylist() == [line["Content"] for line in lines]
    years = {t.year for t in table.column("event_time").to_pylist()}
    assert 2000 not in years and min(years) >= 2004  # header times parsed, not line order
    categories = set(table.column("error_category").to_pylist())
    assert all(c.startswith(system.lower() + ".") for c in categories) and len(categories) > 1
    assert len(set(table.column("event_id").to_pylist())) == len(lines)


def test_hdfs_sessions_are_blocks_and_splits_keep_templates_apart(tmp_path: Path) -> None:
    table = load_loghub("HDFS", ROOT)
    assert all(s.startswith("blk_") for s in table.column("session_id").to_pylist())
    snap = snapshot_from_table(make_settings(tmp_path), "errors", table,
                               lineage=loghub_lineage("HDFS", ROOT))
    seen: dict[str, str] = {}
    for split in SPLITS:
        for template in snap.table(split).column("template").to_pylist():
            assert seen.setdefault(template, split) == split
    assert sum(snap.table(s).num_rows for s in SPLITS) == table.num_rows
    assert "Loghub HDFS" in snap.card_path.read_text()
    assert load_loghub("HDFS", ROOT).equals(table)  # a reload gives identical rows
