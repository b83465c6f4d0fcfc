"""What every learning task shares: examples, stages and label vocabularies.

A task turns dataset rows into :class:`Example` s (a text, named fields and
one label per head) for each training stage, and turns one live event into
the same inputs for scoring. Tasks are plain Python and numpy: the scorer
uses them without importing torch.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class Example:
    """One model input and its labels (a missing label is ``None``)."""

    text: str
    fields: dict[str, Any]
    labels: dict[str, str | None]


@dataclass(frozen=True, slots=True)
class Stage:
    """One training stage: its data mix, length and learning-rate scale."""

    name: str
    mix: str  # one line a reader can check against the code
    epochs: float
    lr_scale: float = 1.0
    with_fields: bool = True
    synthetic: bool = False
    oversample: float = 1.0  # weight of the stage's emphasised rows (failures, ...)


@dataclass(frozen=True, slots=True)
class InputRecipe:
    """How a scorer builds inputs: the task name decides, nothing else is needed."""

    task: str
    heads: tuple[str, ...]
    options: dict[str, Any] = field(default_factory=dict)


class Task(Protocol):
    """A model's learning problem."""

    name: str
    dataset: str
    split_column: str
    heads: tuple[str, ...]

    def stages(self, epochs: Mapping[str, float]) -> list[Stage]:
        """The training stages in order."""
        ...

    def examples(self, rows: Sequence[Mapping[str, Any]], stage: Stage | None) -> list[Example]:
        """Examples of ``rows`` for ``stage`` (None: evaluation, every original row, all inputs)."""
        ...

    def inputs(self, event: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        """The (text, fields) of one live event or row, as the last stage saw them."""
        ...


def label_vocabulary(examples: Iterable[Example], head: str,
                     keep: Sequence[str] = ()) -> list[str]:
    """Labels of ``head``: ``keep`` (a champion's, in its order) then new ones sorted."""
    seen = {e.labels[head] for e in examples if e.labels.get(head) is not None}
    return list(keep) + sorted(str(label) for label in seen - set(keep))


def context_fields(context: Mapping[str, Any] | None, names: Sequence[str]) -> dict[str, Any]:
    """The named context values that are present, as scalar strings."""
    if not context:
        return {}
    return {name: str(context[name]) for name in names
            if context.get(name) not in (None, "", [], {})}


def labelled_pairs(task: Task, rows: Sequence[Mapping[str, Any]],
                   head: str) -> list[tuple[str, str]]:
    """(text, label) of ``rows``' evaluation examples that have a ``head`` label."""
    return [(e.text, str(label)) for e in task.examples(rows, None)
            if (label := e.labels.get(head)) is not None]
