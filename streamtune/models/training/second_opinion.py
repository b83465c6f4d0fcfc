"""The teacher kept beside an intent version, to answer again where its inline student was unsure.

The student scores every event inline in microseconds; the teacher (frozen MiniLM +
TF-IDF, :mod:`~streamtune.models.training.teacher`) is better on text it has not
seen but costs milliseconds per text, too much for the hot path. So the version
keeps both: :meth:`SecondOpinion.calibrate` sets the student confidence under
which the teacher is asked (``share`` of the validation inputs, the least
confident) and the teacher's own out-of-scope flag, and the second-opinion
stage (``streams/second_opinion/``) asks it for the served answers below that
confidence, off the hot path.

Stored as ``second_opinion.pkl`` in the version folder (scikit-learn models
pickled; the encoder comes from its wheel when loaded). A file that does not load
(another scikit-learn, a damaged file) means no second opinion for that version.
"""

from __future__ import annotations

import logging
import pickle
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from streamtune.models.detection.scope import OUT_OF_SCOPE_LABEL, ScopeThreshold
from streamtune.models.encoder import SentenceEncoder
from streamtune.models.training.teacher import Teacher

log = logging.getLogger(__name__)

OPINION_FILE = "second_opinion.pkl"


class Opinion(NamedTuple):
    """The teacher's answer for one text."""

    label: str
    confidence: float
    out_of_scope: bool


@dataclass
class SecondOpinion:
    """A teacher, the student confidence under which it is asked, and its scope flag."""

    teacher: Teacher
    unsure_below: float
    scope: ScopeThreshold | None

    @classmethod
    def calibrate(cls, teacher: Teacher, student_confidences: Sequence[float],
                  teacher_probabilities: np.ndarray, truth: Sequence[str], *, share: float,
                  false_alarm: float) -> SecondOpinion:
        """Ask the teacher for the ``share`` of validation inputs the student was least sure
        of; its flag takes ``false_alarm`` of the in-scope ones (0: no flag)."""
        if not 0.0 < share < 1.0:
            raise ValueError(f"share must be in (0, 1), got {share!r}")
        unsure_below = float(np.quantile(np.asarray(student_confidences), share))
        scope = None
        if false_alarm and any(t != OUT_OF_SCOPE_LABEL for t in truth):
            scope = ScopeThreshold.calibrate("teacher", teacher.labels, teacher_probabilities,
                                             truth, false_alarm=false_alarm)
        return cls(teacher, unsure_below, scope)

    def unsure(self, confidences: Sequence[float]) -> np.ndarray:
        """True where the student's confidence is below the level the teacher is asked at."""
        return np.asarray(confidences, dtype=np.float64) < self.unsure_below

    def answer(self, texts: Sequence[str]) -> list[Opinion]:
        """The teacher's label, its probability and the out-of-scope flag, per text."""
        if not texts:
            return []
        probabilities = self.teacher.probabilities(texts)
        best = probabilities.argmax(axis=1)
        flags = (self.scope.flag(probabilities) if self.scope is not None
                 else np.zeros(len(texts), dtype=bool))
        labels = self.teacher.labels
        return [Opinion(labels[b], float(probabilities[i, b]),
                        bool(flags[i]) or labels[b] == OUT_OF_SCOPE_LABEL)
                for i, b in enumerate(best)]

    def stored(self, texts: Sequence[str], confidences: Sequence[float],
               student: Sequence[str], *, flagged: bool) -> tuple[list[str], np.ndarray]:
        """The answers kept in the end: the teacher's where the student's confidence is
        below the level (with ``flagged``, ``oos`` where its flag says so), else the
        ``student``'s; and where the teacher was asked."""
        unsure = self.unsure(confidences)
        answers = iter(self.answer([t for t, u in zip(texts, unsure, strict=True) if u]))
        kept = [_kept(next(answers), flagged) if u else s
                for u, s in zip(unsure, student, strict=True)]
        return kept, unsure

    def save(self, directory: Path) -> Path:
        """Write ``second_opinion.pkl`` into ``directory``; its path."""
        t = self.teacher
        state: dict[str, Any] = {
            "labels": t.labels, "lexical": t.lexical, "semantic": t.semantic,
            "lexical_weight": t.lexical_weight, "unsure_below": self.unsure_below,
            "scope": None if self.scope is None else self.scope.to_json()}
        path = directory / OPINION_FILE
        path.write_bytes(pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL))
        return path

    @classmethod
    def load(cls, directory: Path, *, encoder: SentenceEncoder) -> SecondOpinion | None:
        """The version's second opinion; None when it has none or it does not load."""
        path = directory / OPINION_FILE
        if not path.is_file():
            return None
        try:
            state = pickle.loads(path.read_bytes())  # noqa: S301 - the trainer's own file
            teacher = Teacher(list(state["labels"]), state["lexical"], state["semantic"],
                              encoder, float(state["lexical_weight"]))
            scope = state["scope"]
            return cls(teacher, float(state["unsure_below"]),
                       None if scope is None else ScopeThreshold.from_json(scope))
        except Exception as exc:  # another scikit-learn, a damaged file: no second opinion
            log.warning("%s does not load (%s: %s); no second opinion for this version",
                        path, type(exc).__name__, exc)
            return None


def _kept(opinion: Opinion, flagged: bool) -> str:
    return OUT_OF_SCOPE_LABEL if flagged and opinion.out_of_scope else opinion.label
