"""The classic baseline beside every classifier: TF-IDF + logistic regression on the text alone.

Word 1-2 grams with sublinear tf feed a logistic regression whose ``C`` is
chosen on the validation split (macro-F1) from :data:`GRID`. It learns from the
task's evaluation examples of the training rows (``task.examples(rows, None)``:
their texts and the first head's labels; fields and context are ignored) and is
scored on the test examples with the same metrics as the model
(:func:`~streamtune.models.evaluation.metrics.classification`). With one class
in training, or no word to weigh, it predicts the most common training label.

Examples
--------
>>> found = fit_baseline(task, train_rows, validation_rows, test_rows)  # doctest: +SKIP
>>> found.report["macro_f1"], found.c  # doctest: +SKIP
(0.91, 10.0)
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rich.progress import Progress

from streamtune.models.evaluation.metrics import classification
from streamtune.models.linear import GRID, LexicalModel, Pairs
from streamtune.models.tasks import Task
from streamtune.models.tasks.base import labelled_pairs

METHOD = "TF-IDF (word 1-2 grams, sublinear tf) + logistic regression"


@dataclass(frozen=True)
class TextFit:
    """Predicted labels of the test texts and the ``C`` chosen (None: the most common label)."""

    predicted: list[str]
    c: float | None


@dataclass(frozen=True)
class Baseline:
    """The baseline of one task head on a test split."""

    head: str
    c: float | None
    train_examples: int
    validation_examples: int
    seconds: float
    predicted: list[str]
    report: dict[str, Any]  # classification() on the test examples

    def metrics(self) -> dict[str, float]:
        """``baseline.macro_f1`` and ``baseline.accuracy``, where the test split has labels."""
        return {f"baseline.{key}": float(self.report[key]) for key in ("macro_f1", "accuracy")
                if self.report[key] is not None}

    def summary(self) -> dict[str, Any]:
        """JSON-ready: the method, ``C``, sizes, time and the test figures (no predictions)."""
        return {"method": METHOD, "head": self.head, "C": self.c,
                "train_examples": self.train_examples,
                "validation_examples": self.validation_examples,
                "seconds": round(self.seconds, 3), **self.report}


def fit_texts(train: Pairs, validation: Pairs, test: Sequence[str], *,
              progress: Progress | None = None) -> TextFit:
    """Fit on (text, label) ``train``, choose ``C`` on ``validation``, predict ``test``."""
    if not train:
        raise ValueError("the baseline needs at least one labelled training text")
    grid = len(GRID) if validation else 1
    bar = (progress.add_task("baseline: TF-IDF + LR", total=grid)
           if progress is not None else None)
    model = LexicalModel.fit(train, validation, on_fit=(
        (lambda: progress.advance(bar)) if progress is not None and bar is not None else None))
    if progress is not None and bar is not None:
        progress.remove_task(bar)
    if model is None:
        majority = Counter(y for _, y in train).most_common(1)[0][0]
        return TextFit([majority] * len(test), None)
    return TextFit(model.predict(test), model.c)


def fit_baseline(task: Task, train_rows: Sequence[Mapping[str, Any]],
                 validation_rows: Sequence[Mapping[str, Any]],
                 test_rows: Sequence[Mapping[str, Any]], *,
                 progress: Progress | None = None) -> Baseline | None:
    """The baseline of ``task``'s first head on ``test_rows`` (None: no labelled training text)."""
    head = task.heads[0]
    started = time.perf_counter()
    train, validation = (labelled_pairs(task, rows, head) for rows in (train_rows, validation_rows))
    if not train:
        return None
    test = task.examples(test_rows, None)
    fitted = fit_texts(train, validation, [e.text for e in test], progress=progress)
    report = classification([e.labels.get(head) for e in test], fitted.predicted,
                            known={y for _, y in train})
    return Baseline(head, fitted.c, len(train), len(validation), time.perf_counter() - started,
                    fitted.predicted, report)
