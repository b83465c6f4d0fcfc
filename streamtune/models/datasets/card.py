"""The dataset card: a markdown page per snapshot, from its manifest."""

from __future__ import annotations

import json
from typing import Any

from streamtune.models.datasets.prepare import SPLIT_RULES

_SOURCES = {
    "commands": "Commands users gave the control system and how their execution went "
                "(`commands` table), plus synthetic variants from the augmentation step "
                "(`augmented` table, kind `command`).",
    "errors": "Failed commands with their error, correction and recovery (`errors` table), "
              "plus synthetic variants (`augmented` table, kind `error`).",
}
_GUIDELINES = {
    "commands": [
        "`intent_labels`: `[category, command_type]` from the command catalogue "
        "(`uncatalogued` for unknown types).",
        "`parameter_boundaries`: one span per parameter value found in `normalized_input`, "
        "left to right, no overlaps.",
        "`entity_tags`: one tag per parameter span (catalogue entity or parameter name), then "
        "generic duration, quantity, host, version and person tags.",
        "`complexity_score`: 0.10 base plus parameters, numeric/duration values, length, "
        "sequencing and scheduling words, clipped to [0, 1].",
    ],
    "errors": [
        "`error_category`: the category of a known error type, else the first keyword rule "
        "matching the message.",
        "`severity_level`: low/medium/high/critical from the type, category and message.",
        "`recovery_complexity`: from the type, the category, the number of recovery steps "
        "and whether recovery succeeded.",
        "`root_cause`: a short cause named by the category's rules.",
    ],
}


def _table(rows: list[tuple[str, Any]]) -> list[str]:
    lines = ["| item | value |", "| --- | --- |"]
    lines += [f"| {k} | {json.dumps(v) if isinstance(v, dict | list) else v} |"
              for k, v in rows]
    return lines


def render_card(manifest: dict[str, Any]) -> str:
    """The card of the snapshot ``manifest`` describes."""
    name = manifest["name"]
    stats = manifest["dataset_stats"]
    lineage = manifest["tracking"]["data_lineage"]
    lines = [
        f"# Dataset card: {name} {manifest['snapshot_id']}", "",
        f"Built {manifest['created_at']}; schema version {manifest['schema_version']}; "
        f"{stats['rows']} rows.", "",
        "## Source", "", lineage.get("description") or _SOURCES[name], "",
        *_table(sorted((k, v) for k, v in lineage.items()
                       if k not in {"description", "annotation_guidelines"})), "",
        "## Preprocessing", "",
    ]
    lines += [f"{i}. {step['step']}: {step['rows']} rows"
              for i, step in enumerate(manifest["tracking"]["transformation_history"], 1)]
    lines += ["", *_table(sorted(manifest["preprocessing_params"].items())), "",
              "## Split rule", "", SPLIT_RULES, "",
              "## Annotation guidelines", ""]
    if "annotation_guidelines" in lineage:
        lines.append(lineage["annotation_guidelines"])
    else:
        lines += ["Annotations come from the stream's rule-based annotator "
                  "(`streamtune/transforms/annotation.py`); values a producer sent win. "
                  "Synthetic rows carry no annotations.", ""]
        lines += [f"- {g}" for g in _GUIDELINES[name]]
    lines += ["", "## Statistics", "", "| split | rows | templates | sessions | synthetic share |",
              "| --- | ---: | ---: | ---: | ---: |"]
    lines += [f"| {split} | {s['rows']} | {s['templates']} | {s['sessions']} | "
              f"{s['synthetic_share']} |" for split, s in stats["splits"].items()]
    lines += ["", "## Quality metrics", "", *_table(sorted(manifest["quality_metrics"].items()))]
    return "\n".join(lines) + "\n"
