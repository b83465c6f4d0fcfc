"""An evaluation in the terminal: the model beside its baseline, its teacher and the answers
stored with the teacher's second opinion, and its worst classes.

The report file (:mod:`~streamtune.models.evaluation.report`) holds every class;
the terminal shows the :data:`TERMINAL_ROWS` worst of the baseline's head.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.table import Table

from streamtune.models.evaluation.report import class_rows

TERMINAL_ROWS = 15


def baseline_table(result: Mapping[str, Any]) -> Table | None:
    """Macro-F1 and accuracy of the model, the baseline and their difference (None: no baseline)."""
    baseline = result.get("baseline")
    if baseline is None:
        return None
    model = result["accuracy"][baseline["head"]]
    c = "most common label" if baseline["C"] is None else f"C={baseline['C']:g}"
    teacher, opinion = result.get("teacher"), result.get("second_opinion")
    table = Table("", "model (inline)", "TF-IDF + LR", "difference",
                  *(["teacher (offline)"] if teacher else []),
                  *([f"with second opinion ({opinion['asked']:.0%} asked)"] if opinion else []),
                  title=f"{baseline['head']}: the model beside the baseline ({c}, "
                        f"{baseline['train_examples']:,} training examples, "
                        f"{baseline['seconds']:.1f} s)")
    for column in table.columns[1:]:
        column.justify = "right"
    for label, key in (("macro-F1", "macro_f1"), ("accuracy", "accuracy")):
        difference = baseline["difference"][key]
        table.add_row(label, _num(model[key]), _num(baseline[key]),
                      "–" if difference is None else f"{difference:+.4f}",
                      *([_num(teacher[key])] if teacher else []),
                      *([_num(opinion[key])] if opinion else []))
    return table


def class_table(result: Mapping[str, Any], *,
                limit: int = TERMINAL_ROWS) -> tuple[Table, int]:
    """The ``limit`` worst classes (by the model's F1) of the baseline's head (else the first
    head), and how many classes the table leaves out."""
    baseline = result.get("baseline")
    head = baseline["head"] if baseline is not None else next(iter(result["accuracy"]))
    rows = class_rows(result, head)
    table = Table("class", "support", "precision", "recall", "F1", "baseline F1",
                  title=f"{head} per class, worst first")
    for column in table.columns[1:]:
        column.justify = "right"
    for row in rows[:limit]:
        table.add_row(str(row["class"]), f"{row['support']:,}",
                      *(_num(row[k]) for k in ("precision", "recall", "f1", "baseline_f1")))
    return table, max(0, len(rows) - limit)


def _num(value: float | None) -> str:
    return "–" if value is None else f"{value:.4f}"
