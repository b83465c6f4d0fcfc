"""Score events with an exported model in onnxruntime, without importing torch.

A :class:`Scorer` opens a model folder (``model.onnx`` + ``labels.json``),
builds inputs with the model's task recipe and featurizer, and returns per
head the label and its softmax confidence, and, where the version carries a
calibrated :class:`~streamtune.models.detection.scope.ScopeThreshold`, whether the
input is out of scope for that head. One intra-op thread by default:
workers scale by processes; one event alone takes ~50 us end to end, ~16 us
per event in a micro-batch of 256 (``benchmarks/score.py``).

Examples
--------
>>> scorer = Scorer(Path("models/intent_classifier/v3"))          # doctest: +SKIP
>>> scorer.predict_one({"normalized_input": "restart pump-3"})    # doctest: +SKIP
{'command_type': Prediction(label='restart_device', confidence=0.998, out_of_scope=False)}
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from streamtune.models.detection.scope import ScopeThreshold
from streamtune.models.features import Featurizer
from streamtune.models.tasks import TASKS, RecoveryTask, Task


@dataclass(frozen=True, slots=True)
class Prediction:
    """One head's answer: the label, its softmax probability, and whether the input is
    out of scope (always False for a head without a calibrated threshold)."""

    label: str
    confidence: float
    out_of_scope: bool = False


class Scorer:
    """An onnxruntime session over one exported model."""

    def __init__(self, directory: Path, *, threads: int = 1) -> None:
        import onnxruntime as ort

        meta = json.loads((directory / "labels.json").read_text())
        self.directory = directory
        self.heads: list[str] = meta["heads"]
        self.labels: dict[str, list[str]] = meta["labels"]
        self.featurizer = Featurizer(**meta["featurizer"])
        self.task: Task = task_for(meta["task"], self.heads)
        self.scope = ScopeThreshold.from_json(meta["scope"]) if meta.get("scope") else None
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(str(directory / "model.onnx"), options,
                                             providers=["CPUExecutionProvider"])

    def logits(self, ids: np.ndarray) -> list[np.ndarray]:
        """Raw logits per head for an id matrix."""
        return [np.asarray(out) for out in self._session.run(None, {"ids": ids})]

    def probabilities(self, events: Sequence[Mapping[str, Any]]) -> dict[str, np.ndarray]:
        """Softmax per head, ``[len(events), classes]``."""
        inputs = [self.task.inputs(event) for event in events]
        return self.probabilities_of([t for t, _ in inputs], [f for _, f in inputs])

    def probabilities_of(self, texts: Sequence[str],
                         fields: Sequence[Mapping[str, Any] | None]) -> dict[str, np.ndarray]:
        """Softmax per head for inputs already built (an Example's text and fields)."""
        ids = self.featurizer.batch(texts, fields)
        return {head: _softmax(out) for head, out in zip(self.heads, self.logits(ids), strict=True)}

    def predict(self, events: Sequence[Mapping[str, Any]]) -> list[dict[str, Prediction]]:
        """Best label and confidence per head, for a micro-batch of events."""
        if not events:
            return []
        out: list[dict[str, Prediction]] = [{} for _ in events]
        for head, matrix in self.probabilities(events).items():
            flags = (self.scope.flag(matrix) if self.scope and self.scope.head == head
                     else np.zeros(len(matrix), dtype=bool))
            for i, index in enumerate(matrix.argmax(axis=1)):
                out[i][head] = Prediction(self.labels[head][index], float(matrix[i, index]),
                                          bool(flags[i]))
        return out

    def predict_one(self, event: Mapping[str, Any]) -> dict[str, Prediction]:
        """:meth:`predict` for a single event."""
        return self.predict([event])[0]


def task_for(name: str, heads: Sequence[str]) -> Task:
    """The task a model was trained for (an error model's heads may differ from the default)."""
    if name == "error_recovery":
        return RecoveryTask(tuple(heads), type_as_input="error_type" not in heads)
    return TASKS[name]


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return np.asarray(shifted / shifted.sum(axis=1, keepdims=True))
