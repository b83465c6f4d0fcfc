"""The augment stage's table rows: augmented rows, their QC reports and what was skipped.

The same ``augmented`` and ``augmentation_qc`` rows the worker wrote when it
augmented, plus one ``skipped: <reason>`` QC row per command type and reason
the budget left out (``skipped`` events, nothing generated).
"""

from __future__ import annotations

from collections import Counter

from streamtune.models.augmentation import AugmentationResult
from streamtune.sinks.clickhouse import TableRow

_NOTHING = {"generated": 0, "semantic_passed": 0, "syntax_passed": 0, "dry_run_passed": 0,
            "accepted": 0, "batch_rejected": False, "not_augmentable": 0, "skipped": 0}


def augmentation_rows(result: AugmentationResult, batch_id: str) -> list[TableRow]:
    """The accepted rows with their lineage and gate verdicts, and the batch's QC reports."""
    rows: list[TableRow] = []
    for row in result.rows:
        fields = dict(row.event.__dict__)
        fields.update(augmented_id=row.augmented_id, parent_event_id=row.parent_event_id,
                      kind=row.event.kind, family=row.family, technique=row.technique,
                      synthetic=True, semantic_confidence=row.semantic_confidence,
                      syntax_ok=row.syntax_ok, dry_run_ok=row.dry_run_ok)
        rows.append(("augmented", fields))
    rows += [("augmentation_qc", {**_NOTHING, **vars(qc), "batch_id": batch_id,
                                  "command_type": ""})
             for qc in result.qc if qc.generated]
    rows += [("augmentation_qc", {**_NOTHING, **skipped.qc_record(), "batch_id": batch_id})
             for skipped in result.not_augmentable]
    return rows


def skipped_rows(skipped: Counter[tuple[str, str]], batch_id: str) -> list[TableRow]:
    """One QC row per ``(command_type, reason)`` the budget left out."""
    return [("augmentation_qc", {**_NOTHING, "batch_id": batch_id,
                                 "technique": f"skipped: {reason}",
                                 "command_type": command_type, "skipped": events})
            for (command_type, reason), events in sorted(skipped.items())]
