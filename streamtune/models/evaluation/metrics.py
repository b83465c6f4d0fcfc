"""Classification metrics in numpy: accuracy, macro-F1 and per-class precision/recall/F1.

Rows without a label (``None``) are left out and counted as ``missing``. A
true label the model never learned (not in its vocabulary) can never be
predicted: such rows count as wrong and the labels are listed in ``unknown``.
Macro-F1 averages over every class that occurs as a true or a predicted label.

Examples
--------
>>> r = classification(["a", "a", "b", None], ["a", "b", "b", "a"], known=["a", "b"])
>>> r["accuracy"], r["missing"], round(r["macro_f1"], 3)
(0.6666666666666666, 1, 0.667)
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import numpy as np


def classification(truth: Sequence[str | None], predicted: Sequence[str],
                   *, known: Collection[str]) -> dict[str, Any]:
    """Accuracy, macro-F1 and per-class figures of ``predicted`` against ``truth``."""
    if len(truth) != len(predicted):
        raise ValueError(f"{len(truth)} labels but {len(predicted)} predictions")
    pairs = [(str(t), str(p)) for t, p in zip(truth, predicted, strict=True) if t is not None]
    missing = len(truth) - len(pairs)
    if not pairs:
        return {"examples": 0, "missing": missing, "accuracy": None, "macro_f1": None,
                "per_class": {}, "unknown": {}}
    classes = sorted({t for t, _ in pairs} | {p for _, p in pairs})
    index = {label: i for i, label in enumerate(classes)}
    t = np.array([index[a] for a, _ in pairs])
    p = np.array([index[b] for _, b in pairs])
    confusion = np.zeros((len(classes), len(classes)), dtype=np.int64)
    np.add.at(confusion, (t, p), 1)
    hits = np.diag(confusion).astype(float)
    support = confusion.sum(axis=1)
    predicted_count = confusion.sum(axis=0)
    precision = np.divide(hits, predicted_count, out=np.zeros_like(hits),
                          where=predicted_count > 0)
    recall = np.divide(hits, support, out=np.zeros_like(hits), where=support > 0)
    denominator = precision + recall
    f1 = np.divide(2 * precision * recall, denominator, out=np.zeros_like(hits),
                   where=denominator > 0)
    known_set = set(known)
    unknown = {label: int(support[index[label]]) for label in classes
               if label not in known_set and support[index[label]] > 0}
    return {
        "examples": len(pairs),
        "missing": missing,
        "accuracy": float(hits.sum() / len(pairs)),
        "macro_f1": float(f1.mean()),
        "per_class": {label: {"precision": float(precision[i]), "recall": float(recall[i]),
                              "f1": float(f1[i]), "support": int(support[i])}
                      for i, label in enumerate(classes)},
        "unknown": unknown,
    }


def accuracy(truth: Sequence[str | None], predicted: Sequence[str]) -> float | None:
    """Share of labelled rows predicted right (None when no row has a label)."""
    pairs = [(t, p) for t, p in zip(truth, predicted, strict=True) if t is not None]
    return sum(t == p for t, p in pairs) / len(pairs) if pairs else None
