"""Source rows -> split rows: de-duplicate, template, split, place augmented rows.

The rules are :data:`SPLIT_RULES` (the dataset card quotes them).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from streamtune.config import DatasetSettings
from streamtune.models.datasets.columns import DatasetName, conform, snapshot_schema
from streamtune.models.datasets.splits import SPLITS, assign_groups
from streamtune.models.datasets.templates import command_template, error_templates

SPLIT_RULES = """\
1. A repeated `event_id` keeps its first row.
2. Original rows are split by template: rows sharing a template (commands: the
   `normalized_input`; errors: the message with variable tokens masked) always
   land in the same split. Groups are ordered by sha256(seed, template) and laid
   end to end; each goes to the split whose share of the rows holds its
   midpoint, so the splits come as close to the ratios as group sizes allow.
3. Command rows also carry `session_split`, a second split of the same rows by
   `session_id` (same rule), for models that learn from session histories: a
   history never straddles splits.
4. An augmented row is kept only when its parent is an original row in train
   and its own template is not a validation or test template; it goes to
   train. Its `session_split` is `train` when its parent's session is in
   train, else null. Dropped rows are counted by reason.

Why not one split over connected components of (template, session): in the
simulator's stream every session shares a common template ("status") with
other sessions, so the components collapse into one group (measured: 11k
commands, 334 sessions, one component) and no split is possible. Templates keep
identical texts out of evaluation; the session split keeps histories whole.
"""

TEMPLATE_RULES: dict[DatasetName, str] = {
    "commands": "normalized_input (normalize_text(raw_input) when empty)",
    "errors": "error_message grouped by the new-pattern detector's template miner "
              "(variable runs masked as <*>, templates differing by a variable merged)",
}


@dataclass
class Prepared:
    """Rows per split, and what each step did."""

    splits: dict[str, pa.Table]
    history: list[dict[str, Any]] = field(default_factory=list)
    dropped: Counter[str] = field(default_factory=Counter)


def _templates(name: DatasetName, rows: list[dict[str, Any]]) -> list[str]:
    if name == "commands":
        return [command_template(r["normalized_input"] or "", r["raw_input"] or "")
                for r in rows]
    return error_templates(r["error_message"] or "" for r in rows)


def prepare(name: DatasetName, table: pa.Table, config: DatasetSettings) -> Prepared:
    """Apply the rules above to ``table`` (the dataset's source columns)."""
    ratios = (config.train_ratio, config.validation_ratio, config.test_ratio)
    rows = conform(name, table).to_pylist()
    history: list[dict[str, Any]] = [{"step": "extract", "rows": len(rows)}]
    dropped: Counter[str] = Counter()

    seen: set[str] = set()
    unique = []
    for row in rows:
        if row["event_id"] in seen:
            dropped["duplicate_event_id"] += 1
            continue
        seen.add(row["event_id"])
        unique.append(row)
    for row, template in zip(unique, _templates(name, unique), strict=True):
        row["template"] = template
    history.append({"step": "deduplicate event_id", "rows": len(unique)})

    originals = [r for r in unique if not r["synthetic"]]
    templates = assign_groups(Counter(r["template"] for r in originals),
                              seed=config.split_seed, ratios=ratios)
    sessions = assign_groups(Counter(r["session_id"] for r in originals),
                             seed=config.split_seed, ratios=ratios, salt="session")
    by_id: dict[str, dict[str, Any]] = {}
    for row in originals:
        row["split"] = templates[row["template"]]
        row["session_split"] = sessions[row["session_id"]]
        by_id[row["event_id"]] = row
    history.append({"step": "split originals by template", "rows": len(originals),
                    "templates": len(templates), "sessions": len(sessions)})

    kept = []
    for row in (r for r in unique if r["synthetic"]):
        parent = by_id.get(row["parent_event_id"] or "")
        if parent is None:
            dropped["augmented_parent_missing"] += 1
        elif parent["split"] != "train":
            dropped["augmented_parent_not_in_train"] += 1
        elif templates.get(row["template"], "train") != "train":
            dropped["augmented_template_in_evaluation"] += 1
        else:
            row["split"] = "train"
            row["session_split"] = "train" if parent["session_split"] == "train" else None
            kept.append(row)
    history.append({"step": "place augmented rows in train", "rows": len(kept),
                    "dropped": {k: v for k, v in sorted(dropped.items())
                                if k.startswith("augmented")}})

    schema = snapshot_schema(name)
    out = originals + kept
    splits = {split: pa.Table.from_pylist(
        sorted((r for r in out if r["split"] == split), key=lambda r: r["event_id"]),
        schema=schema) for split in SPLITS}
    return Prepared(splits, history, dropped)
