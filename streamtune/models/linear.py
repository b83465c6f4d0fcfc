"""Linear text models: logistic regression with ``C`` chosen on validation, on TF-IDF or embeddings.

The classic baseline (:mod:`~streamtune.models.evaluation.baseline`) and the
teacher's two experts (:mod:`~streamtune.models.training.teacher`) share them.
scikit-learn is imported only when a model is fitted (~1 s).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

GRID = (10.0, 100.0)
"""The regularisation strengths tried; the first is taken without validation labels."""
MAX_ITER = 1000

Pairs = Sequence[tuple[str, str]]


def choose_logistic(x_train: Any, labels: Sequence[str], x_val: Any, val_labels: Sequence[str],
                    *, on_fit: Callable[[], None] | None = None) -> Any:
    """The fit of :data:`GRID` with the best validation macro-F1 (ties: the smaller C)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score
    from threadpoolctl import threadpool_limits

    best: tuple[float, Any] = (-1.0, None)
    for c in GRID if len(val_labels) else GRID[:1]:
        with threadpool_limits(1):  # BLAS threads only slow these small problems down
            model = LogisticRegression(C=c, max_iter=MAX_ITER).fit(x_train, list(labels))
        score = (float(f1_score(list(val_labels), model.predict(x_val), average="macro"))
                 if len(val_labels) else 0.0)
        if score > best[0]:
            best = (score, model)
        if on_fit is not None:
            on_fit()
    return best[1]


class LexicalModel:
    """TF-IDF (word 1-2 grams, sublinear tf) + logistic regression over texts."""

    def __init__(self, vectorizer: Any, model: Any) -> None:
        self.vectorizer = vectorizer
        self.model = model
        self.labels = [str(c) for c in model.classes_]

    @classmethod
    def fit(cls, train: Pairs, validation: Pairs, *,
            on_fit: Callable[[], None] | None = None) -> LexicalModel | None:
        """The fitted model; None with one class or no word of two characters to weigh."""
        from sklearn.feature_extraction.text import TfidfVectorizer

        labels = [y for _, y in train]
        if len(set(labels)) < 2:
            return None
        vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
        try:
            x_train = vectorizer.fit_transform([t for t, _ in train])
        except ValueError:  # an empty vocabulary
            return None
        x_val = vectorizer.transform([t for t, _ in validation]) if validation else None
        model = choose_logistic(x_train, labels, x_val, [y for _, y in validation],
                                on_fit=on_fit)
        return cls(vectorizer, model)

    @property
    def c(self) -> float:
        return float(self.model.C)

    def predict(self, texts: Sequence[str]) -> list[str]:
        if not texts:
            return []
        return [str(p) for p in self.model.predict(self.vectorizer.transform(texts))]

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """``[len(texts), len(self.labels)]`` class probabilities."""
        return np.asarray(self.model.predict_proba(self.vectorizer.transform(texts)))
