"""New command kinds: inputs outside every class the intent model knows.

:class:`OutOfScope` scores an input from two things any classifier gives: its
class probabilities (low top probability: unsure) and an embedding of the text
(far from every class centroid: unlike anything trained on). Each part is
standardised on in-scope calibration inputs and the two are mixed with a weight
(the one flagging the most of a few known out-of-scope calibration inputs, when
given; else equal weights); the threshold is the ``1 - false_alarm`` quantile of
the calibration scores, so about ``false_alarm`` of in-scope inputs are flagged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

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
