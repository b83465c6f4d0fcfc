"""Numbers about a snapshot: dataset statistics, quality metrics, differences."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from streamtune.models.datasets.columns import LABEL_COLUMN, DatasetName

_ANNOTATIONS: dict[DatasetName, str] = {"commands": "intent_labels", "errors": "error_category"}
_EXTRACTED: dict[DatasetName, str] = {"commands": "parameters", "errors": "correction"}


def _share(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def dataset_stats(name: DatasetName, splits: Mapping[str, pa.Table]) -> dict[str, Any]:
    """Rows, labels, synthetic share and templates per split."""
    label = LABEL_COLUMN[name]
    per_split: dict[str, Any] = {}
    for split, table in splits.items():
        synthetic = int(pc.sum(table.column("synthetic")).as_py() or 0)
        per_split[split] = {
            "rows": table.num_rows,
            "labels": dict(sorted(Counter(table.column(label).to_pylist()).items())),
            "synthetic_share": _share(synthetic, table.num_rows),
            "templates": len(set(table.column("template").to_pylist())),
            "sessions": len(set(table.column("session_id").to_pylist())),
        }
    total = sum(t.num_rows for t in splits.values())
    return {"rows": total, "label_column": label, "splits": per_split}


def quality_metrics(name: DatasetName, splits: Mapping[str, pa.Table],
                    dropped: Mapping[str, int]) -> dict[str, Any]:
    """Shares of rows with extracted values and annotations; rows dropped by reason."""
    table = pa.concat_tables(list(splits.values()))
    rows = table.num_rows
    extracted = _EXTRACTED[name]
    has_extracted = sum(1 for v in table.column(extracted).to_pylist() if v not in (None, "{}"))
    annotation = table.column(_ANNOTATIONS[name]).to_pylist()
    has_annotation = sum(1 for v in annotation if v)
    return {
        f"share_with_{extracted}": _share(has_extracted, rows),
        f"share_with_{_ANNOTATIONS[name]}": _share(has_annotation, rows),
        "duplicate_event_ids_dropped": int(dropped.get("duplicate_event_id", 0)),
        "augmented_rows_dropped": {k: int(v) for k, v in sorted(dropped.items())
                                   if k.startswith("augmented")},
    }


def stats_delta(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    """Per split: change in rows, templates, synthetic share and each label count (b - a)."""
    out: dict[str, Any] = {}
    for split in sorted(set(a["splits"]) | set(b["splits"])):
        sa, sb = a["splits"].get(split, {}), b["splits"].get(split, {})
        la, lb = sa.get("labels", {}), sb.get("labels", {})
        labels = {k: lb.get(k, 0) - la.get(k, 0) for k in sorted(set(la) | set(lb))}
        out[split] = {
            "rows": sb.get("rows", 0) - sa.get("rows", 0),
            "templates": sb.get("templates", 0) - sa.get("templates", 0),
            "synthetic_share": round(sb.get("synthetic_share", 0.0)
                                     - sa.get("synthetic_share", 0.0), 4),
            "labels": {k: v for k, v in labels.items() if v},
        }
    return out
