"""Score a task's examples (text + fields) in batches: labels and confidences per head."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from streamtune.models.scoring import Scorer

BATCH = 1024


@dataclass(frozen=True)
class Predicted:
    """Per head: the best label of each input and its softmax confidence."""

    labels: dict[str, list[str]]
    confidence: dict[str, np.ndarray]


def predict_inputs(scorer: Scorer, texts: Sequence[str],
                   fields: Sequence[Mapping[str, Any] | None]) -> Predicted:
    """Best label and confidence per head for each (text, fields) input."""
    labels: dict[str, list[str]] = {head: [] for head in scorer.heads}
    confidence: dict[str, list[np.ndarray]] = {head: [] for head in scorer.heads}
    for start in range(0, len(texts), BATCH):
        matrices = scorer.probabilities_of(texts[start:start + BATCH],
                                           fields[start:start + BATCH])
        for head, matrix in matrices.items():
            best = matrix.argmax(axis=1)
            labels[head] += [scorer.labels[head][i] for i in best]
            confidence[head].append(matrix[np.arange(len(best)), best])
    return Predicted(labels, {head: np.concatenate(parts) if parts else np.zeros(0)
                              for head, parts in confidence.items()})
