"""New command kinds: inputs outside every class the intent model knows.

:class:`OutOfScope` scores an input from two things any classifier gives: its
class probabilities (low top probability: unsure) and an embedding of the text
(far from every class centroid: unlike anything trained on). Each part is
standardised on in-scope calibration inputs and the two are mixed with a weight
(the one flagging the most of a few known out-of-scope calibration inputs, when
given; else equal weights); the threshold is the ``1 - false_alarm`` quantile of
the calibration scores, so about ``false_alarm`` of in-scope inputs are flagged.

:class:`ScopeThreshold` is the inline flag a model version carries: from the head's
probabilities alone (no embedding leaves the ONNX model), calibrated on the
validation split when the model is trained.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]


def _unit(rows: Array) -> Array:
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return rows / np.where(norms == 0, 1.0, norms)


@dataclass(frozen=True)
class OutOfScope:
    """Out-of-scope flags from probabilities and embeddings (see the module docstring)."""

    centroids: Array
    """One unit-length mean embedding per class."""
    means: tuple[float, float]
    scales: tuple[float, float]
    weight: float
    """Share of the distance part in the score (the rest: the unsure part)."""
    threshold: float

    @classmethod
    def fit(cls, embeddings: Array, labels: Sequence[object], calibration_probabilities: Array,
            calibration_embeddings: Array, *, outliers: tuple[Array, Array] | None = None,
            false_alarm: float = 0.05) -> OutOfScope:
        """Centroids from training embeddings; scales and threshold from in-scope calibration.

        ``outliers``: (probabilities, embeddings) of known out-of-scope calibration
        inputs, to choose the weight of the two parts.
        """
        if not 0.0 < false_alarm < 1.0:
            raise ValueError(f"false_alarm must be in (0, 1), got {false_alarm!r}")
        unit = _unit(np.asarray(embeddings, dtype=np.float64))
        names = np.asarray([str(label) for label in labels])
        centroids = _unit(np.stack([unit[names == c].mean(axis=0) for c in np.unique(names)]))
        parts = _parts(centroids, calibration_probabilities, calibration_embeddings)
        means = (float(parts[0].mean()), float(parts[1].mean()))
        scales = (float(parts[0].std()) or 1.0, float(parts[1].std()) or 1.0)

        def fitted(weight: float) -> OutOfScope:
            draft = cls(centroids, means, scales, weight, 0.0)
            scores = draft.score(calibration_probabilities, calibration_embeddings)
            return cls(centroids, means, scales, weight,
                       float(np.quantile(scores, 1.0 - false_alarm)))

        if outliers is None:
            return fitted(0.5)
        return max((fitted(w / 10) for w in range(11)),
                   key=lambda d: float(d.flag(*outliers).mean()))

    def score(self, probabilities: Array, embeddings: Array) -> Array:
        """How far out of scope each input is (higher: further)."""
        unsure, far = _parts(self.centroids, probabilities, embeddings)
        return np.asarray((1.0 - self.weight) * (unsure - self.means[0]) / self.scales[0]
                          + self.weight * (far - self.means[1]) / self.scales[1],
                          dtype=np.float64)

    def flag(self, probabilities: Array, embeddings: Array) -> NDArray[np.bool_]:
        """True for each input judged out of scope."""
        return self.score(probabilities, embeddings) > self.threshold


def _parts(centroids: Array, probabilities: Array, embeddings: Array) -> tuple[Array, Array]:
    """(1 - top probability, cosine distance to the nearest centroid) per input."""
    top = np.asarray(probabilities, dtype=np.float64).max(axis=1)
    similarity = _unit(np.asarray(embeddings, dtype=np.float64)) @ centroids.T
    return 1.0 - top, 1.0 - similarity.max(axis=1)


OUT_OF_SCOPE_LABEL = "oos"
"""A class of that name (CLINC150's) holds examples of what is out of scope."""


@dataclass(frozen=True)
class ScopeThreshold:
    """Flag a head's inputs as out of scope from its probabilities.

    The score is p(``oos``) minus the best in-scope probability when the model learned
    an ``oos`` class, else minus the top probability (unsure); the threshold is the
    ``1 - false_alarm`` quantile of the scores of in-scope validation inputs.

    >>> labels = ["a", "b", "oos"]
    >>> p = np.array([[0.9, 0.05, 0.05], [0.6, 0.3, 0.1], [0.1, 0.2, 0.7]])
    >>> scope = ScopeThreshold.calibrate("intent", labels, p[:2], ["a", "a"], false_alarm=0.5)
    >>> scope.threshold  # half-way between the two in-scope scores, -0.85 and -0.5
    -0.675
    >>> scope.flag(p).tolist()
    [False, True, True]
    """

    head: str
    threshold: float
    false_alarm: float
    column: int | None = None
    """Index of the ``oos`` class, when the model has one."""

    @classmethod
    def calibrate(cls, head: str, labels: Sequence[str], probabilities: Array,
                  truth: Sequence[str | None], *, false_alarm: float) -> ScopeThreshold:
        """The threshold that flags ``false_alarm`` of the in-scope labelled inputs."""
        if not 0.0 < false_alarm < 1.0:
            raise ValueError(f"false_alarm must be in (0, 1), got {false_alarm!r}")
        column = list(labels).index(OUT_OF_SCOPE_LABEL) if OUT_OF_SCOPE_LABEL in labels else None
        inside = np.array([t is not None and t != OUT_OF_SCOPE_LABEL for t in truth])
        if not inside.any():
            raise ValueError("no in-scope labelled input to calibrate on")
        draft = cls(head, 0.0, false_alarm, column)
        scores = draft.score(np.asarray(probabilities)[inside])
        return cls(head, float(np.quantile(scores, 1.0 - false_alarm)), false_alarm, column)

    def score(self, probabilities: Array) -> Array:
        """How far out of scope each row of ``[n, classes]`` probabilities is."""
        p = np.asarray(probabilities, dtype=np.float64)
        if self.column is None:
            return np.asarray(-p.max(axis=1))
        return np.asarray(p[:, self.column] - np.delete(p, self.column, axis=1).max(axis=1))

    def flag(self, probabilities: Array) -> NDArray[np.bool_]:
        """True for each row judged out of scope."""
        return self.score(probabilities) > self.threshold

    def to_json(self) -> dict[str, Any]:
        """Plain data, stored in a model version's ``labels.json``."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ScopeThreshold:
        """The inverse of :meth:`to_json`."""
        return cls(str(data["head"]), float(data["threshold"]), float(data["false_alarm"]),
                   None if data.get("column") is None else int(data["column"]))
