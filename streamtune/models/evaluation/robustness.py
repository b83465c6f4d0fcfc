"""Robustness figures: accuracy under seeded noise, context sensitivity, edge-case behaviour.

Noise is applied to the task's text input only (the command text, or the error
message), at each rate of :data:`~.perturb.RATES`; the fields (context,
history, error type) stay as they are. Context sensitivity compares the real
fields with no fields and with the fields of other rows (a seeded
permutation). Edge cases check that every head returns a known label with a
finite confidence in [0, 1]; an exception is recorded, not raised.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from streamtune.models.evaluation.metrics import accuracy
from streamtune.models.evaluation.perturb import EDGE_CASES, KINDS, RATES, edge_case, perturb
from streamtune.models.evaluation.predict import Predicted, predict_inputs
from streamtune.models.scoring import Scorer
from streamtune.models.tasks import Example

Step = Callable[[str], None]
EDGE_SAMPLES = 20


def _accuracies(predicted: Predicted, examples: Sequence[Example]) -> dict[str, float | None]:
    return {head: accuracy([e.labels.get(head) for e in examples], labels)
            for head, labels in predicted.labels.items()}


def noise(scorer: Scorer, examples: Sequence[Example], *, seed: int,
          step: Step | None = None) -> dict[str, Any]:
    """Accuracy per head on clean text and under each perturbation kind and rate."""
    texts = [e.text for e in examples]
    fields = [e.fields for e in examples]
    out: dict[str, Any] = {"clean": _accuracies(predict_inputs(scorer, texts, fields), examples),
                           "perturbed": {}}
    for kind in KINDS:
        if step:
            step(f"noise: {kind}")
        out["perturbed"][kind] = {
            str(rate): _accuracies(predict_inputs(
                scorer, [perturb(t, kind, rate, seed=seed) for t in texts], fields), examples)
            for rate in RATES}
    return out


def context(scorer: Scorer, examples: Sequence[Example], *, seed: int) -> dict[str, Any] | None:
    """Accuracy with the real fields, with none, and with fields shuffled across rows."""
    if not any(e.fields for e in examples):
        return None
    texts = [e.text for e in examples]
    real = [e.fields for e in examples]
    order = np.random.default_rng(seed).permutation(len(examples))
    variants: dict[str, Sequence[Mapping[str, Any] | None]] = {
        "real": real, "removed": [None] * len(examples), "shuffled": [real[i] for i in order]}
    return {name: _accuracies(predict_inputs(scorer, texts, fields), examples)
            for name, fields in variants.items()}


def edge_cases(scorer: Scorer, examples: Sequence[Example], *, seed: int,
               samples: int = EDGE_SAMPLES) -> dict[str, Any]:
    """For each edge case: valid-output share, label distribution and confidence per head."""
    rng = random.Random(seed)  # noqa: S311 - test inputs, not secrets
    bases = [e.text for e in examples if e.text] or ["status"]
    out: dict[str, Any] = {}
    for kind in EDGE_CASES:
        texts = [edge_case(kind, rng.choice(bases), rng=rng) for _ in range(samples)]
        try:
            predicted = predict_inputs(scorer, texts, [None] * len(texts))
        except Exception as exc:  # the figure is whether scoring survives this input
            out[kind] = {"error": f"{type(exc).__name__}: {exc}"}
            continue
        out[kind] = {"inputs": samples, "example": texts[0][:80],
                     "heads": {head: _edge_head(scorer.labels[head], predicted.labels[head],
                                                predicted.confidence[head])
                               for head in scorer.heads}}
    return out


def _edge_head(vocabulary: Sequence[str], labels: Sequence[str],
               confidence: np.ndarray) -> dict[str, Any]:
    valid = [label in vocabulary and bool(np.isfinite(c)) and 0.0 <= float(c) <= 1.0
             for label, c in zip(labels, confidence, strict=True)]
    return {"valid_share": sum(valid) / len(valid) if valid else 0.0,
            "labels": dict(Counter(labels).most_common(5)),
            "confidence_mean": float(confidence.mean()) if len(confidence) else None,
            "confidence_min": float(confidence.min()) if len(confidence) else None,
            "confidence_max": float(confidence.max()) if len(confidence) else None}
