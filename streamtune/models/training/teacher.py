"""The teacher: lexical and semantic evidence together, for the inline student to learn from.

Two experts are fitted on the same training texts: TF-IDF + logistic regression
(utility names, flags: lexical cues) and logistic regression over the frozen
pretrained sentence encoder's embeddings (meaning, paraphrase). Their
log-probabilities are mixed with a lexical weight chosen on the validation split
(macro-F1) from :data:`WEIGHTS`. The teacher is too slow to score inline
(milliseconds per text); the hashed-n-gram student distils its probabilities
(:mod:`~streamtune.models.training.trainer`) and scores inline in microseconds.
Why frozen and not fine-tuned: on 2 cores fine-tuning MiniLM costs ~50 s per
epoch per 2,500 texts and gained at most 3 points on command text (DESIGN.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rich.progress import Progress

from streamtune.models.encoder import SentenceEncoder
from streamtune.models.evaluation.metrics import classification
from streamtune.models.linear import LexicalModel, Pairs, choose_logistic
from streamtune.models.tasks.base import Task, labelled_pairs

WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)
"""Lexical shares tried for the mixture (0: semantic only, 1: lexical only)."""
_FLOOR = 1e-9


@dataclass
class Teacher:
    """Mixture of the two experts over ``labels`` (the training labels, sorted)."""

    labels: list[str]
    lexical: LexicalModel | None
    semantic: Any  # sklearn LogisticRegression over embeddings
    encoder: SentenceEncoder
    lexical_weight: float
    seconds: float = 0.0

    def probabilities(self, texts: Sequence[str], vocabulary: Sequence[str] | None = None,
                      *, on_batch: Callable[[int], None] | None = None) -> np.ndarray:
        """``[len(texts), len(vocabulary)]`` probabilities (a label it never saw: 0)."""
        log = self._log_mixture(texts, on_batch)
        probs: np.ndarray = np.exp(log - log.max(axis=1, keepdims=True))
        probs /= probs.sum(axis=1, keepdims=True)
        if vocabulary is None:
            return probs
        index = {label: i for i, label in enumerate(self.labels)}
        out = np.zeros((len(texts), len(vocabulary)), dtype=np.float32)
        for j, label in enumerate(vocabulary):
            if label in index:
                out[:, j] = probs[:, index[label]]
        return out

    def predict(self, texts: Sequence[str]) -> list[str]:
        return [self.labels[i] for i in self._log_mixture(texts, None).argmax(axis=1)]

    def summary(self) -> dict[str, Any]:
        return {"encoder": "all-MiniLM-L6-v2 (frozen) + logistic regression",
                "lexical": "TF-IDF + logistic regression",
                "lexical_weight": self.lexical_weight, "seconds": round(self.seconds, 2)}

    def _log_mixture(self, texts: Sequence[str],
                     on_batch: Callable[[int], None] | None) -> np.ndarray:
        return _mix(self.lexical_weight, *self._expert_logs(texts, on_batch))

    def _expert_logs(self, texts: Sequence[str], on_batch: Callable[[int], None] | None,
                     ) -> tuple[np.ndarray, np.ndarray | None]:
        """Log-probabilities of the semantic and the lexical expert (None: no lexical one)."""
        embedded = self.encoder.embed(texts, on_batch=on_batch)
        semantic: np.ndarray = np.log(self.semantic.predict_proba(embedded) + _FLOOR)
        if self.lexical is None:
            return semantic, None
        return semantic, np.log(self.lexical.probabilities(texts) + _FLOOR)


def _mix(lexical_weight: float, semantic: np.ndarray, lexical: np.ndarray | None) -> np.ndarray:
    if lexical is None or lexical_weight == 0.0:
        return semantic
    mixed: np.ndarray = lexical_weight * lexical + (1.0 - lexical_weight) * semantic
    return mixed


def fit_teacher(train: Pairs, validation: Pairs, encoder: SentenceEncoder, *,
                on_batch: Callable[[int], None] | None = None) -> Teacher | None:
    """The teacher of (text, label) pairs; None with fewer than two labels."""
    started = time.perf_counter()
    labels = sorted({y for _, y in train})
    if len(labels) < 2:
        return None
    texts, targets = [t for t, _ in train], [y for _, y in train]
    val_texts, val_targets = [t for t, _ in validation], [y for _, y in validation]
    embedded = encoder.embed(texts + val_texts, on_batch=on_batch)
    semantic = choose_logistic(embedded[:len(texts)], targets, embedded[len(texts):], val_targets)
    lexical = LexicalModel.fit(train, validation)
    teacher = Teacher(labels, lexical, semantic, encoder, 0.0)
    if lexical is not None:
        teacher.lexical_weight = _best_weight(teacher, val_texts, val_targets)
    teacher.seconds = time.perf_counter() - started
    return teacher


def fit_task_teacher(task: Task, train_rows: Sequence[Mapping[str, Any]],
                     validation_rows: Sequence[Mapping[str, Any]], *, threads: int = 1,
                     progress: Progress | None = None,
                     cache: Path | None = None) -> Teacher | None:
    """The teacher of ``task``'s only head (None: several heads or fewer than two labels);
    with ``cache``, embeddings are remembered there across runs."""
    if len(task.heads) != 1:
        return None
    train, validation = (labelled_pairs(task, rows, task.heads[0])
                         for rows in (train_rows, validation_rows))
    encoder = SentenceEncoder(threads=threads, remember=cache)
    texts = [t for t, _ in (*train, *validation)]
    bar = (progress.add_task("teacher: encoding texts", total=encoder.missing(texts))
           if progress is not None else None)
    teacher = fit_teacher(train, validation, encoder, on_batch=(
        (lambda n: progress.advance(bar, n)) if progress is not None and bar is not None
        else None))
    if progress is not None and bar is not None:
        progress.remove_task(bar)
    return teacher


def teacher_metrics(teacher: Teacher, task: Task,
                    rows: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """``teacher.macro_f1`` and ``teacher.accuracy`` on the labelled examples of ``rows``."""
    pairs = labelled_pairs(task, rows, task.heads[0])
    if not pairs:
        return {}
    found = classification([y for _, y in pairs], teacher.predict([t for t, _ in pairs]),
                           known=teacher.labels)
    return {"teacher.macro_f1": float(found["macro_f1"]),
            "teacher.accuracy": float(found["accuracy"])}


def _best_weight(teacher: Teacher, texts: Sequence[str], targets: Sequence[str]) -> float:
    if not texts:
        return 0.5
    from sklearn.metrics import f1_score

    logs = teacher._expert_logs(texts, None)  # each expert scores the texts once
    labels = np.array(teacher.labels)
    scores = [float(f1_score(list(targets), labels[_mix(weight, *logs).argmax(axis=1)],
                             average="macro")) for weight in WEIGHTS]
    return WEIGHTS[int(np.argmax(scores))]
