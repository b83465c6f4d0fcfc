"""What changed between two snapshots of one dataset."""

from __future__ import annotations

from typing import Any

from streamtune.errors import DatasetError
from streamtune.models.datasets.snapshot import Snapshot
from streamtune.models.datasets.splits import SPLITS
from streamtune.models.datasets.stats import stats_delta


def _ids(snapshot: Snapshot) -> dict[str, str]:
    """event_id -> split."""
    return {event_id: split for split in SPLITS
            for event_id in snapshot.table(split).column("event_id").to_pylist()}


def diff_snapshots(a: Snapshot, b: Snapshot) -> dict[str, Any]:
    """Rows added, removed and moved per split (by event_id), and stats deltas (b - a)."""
    if a.name != b.name:
        raise DatasetError(f"cannot diff a {a.name} snapshot with a {b.name} snapshot")
    ids_a, ids_b = _ids(a), _ids(b)
    rows: dict[str, dict[str, int]] = {}
    for split in SPLITS:
        in_a = {i for i, s in ids_a.items() if s == split}
        in_b = {i for i, s in ids_b.items() if s == split}
        rows[split] = {
            "a": len(in_a), "b": len(in_b),
            "added": len(in_b - set(ids_a)), "removed": len(in_a - set(ids_b)),
            "moved_in": len({i for i in in_b - in_a if i in ids_a}),
        }
    ma, mb = a.manifest, b.manifest
    return {
        "name": a.name, "a": a.id, "b": b.id, "rows": rows,
        "stats": stats_delta(ma["dataset_stats"], mb["dataset_stats"]),
        "preprocessing_changed": ma["preprocessing_params"] != mb["preprocessing_params"],
    }
