"""Rows, QC records and the building blocks every technique shares.

A technique receives a :class:`Job`: the parent's :class:`Base` (the clean
command the parent event expresses, read by ``build.base_of``), a random generator seeded from
``(seed, event_id, technique)``, the :class:`Toolkit` (grammar and observed
values) and the :class:`Lineage` to stamp on the synthetic event. It returns
the synthetic event, or ``None`` when it does not apply to the parent.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from uuid import UUID, uuid5

from pydantic import JsonValue

from streamtune.models.augmentation.grammar import Grammar
from streamtune.schemas.commands import (
    CommandSpec,
    ParamValue,
    format_value,
    template_fields,
)
from streamtune.schemas.events import CommandEvent, ErrorEvent

Family = Literal["command_variation", "error_simulation", "context_augmentation",
                 "text_variation"]
SyntheticEvent = CommandEvent | ErrorEvent

LINEAGE_NAMESPACE = UUID("5b0f2c1e-7a43-4c55-9d1e-2f6a8e0b9c31")
"""uuid5 namespace of augmented ids: ``uuid5(ns, f"{parent_id}:{technique}:{index}")``."""


@dataclass(frozen=True)
class AugmentedRow:
    """One synthetic training row and the verdict of the quality gates on it.

    ``event`` is the synthetic event: its ``event_id`` is ``augmented_id`` and
    it keeps the parent's ``session_id``, ``source`` and ``event_time``. The
    event also carries ``"synthetic": true`` and an ``"augmentation"`` object
    (family, technique, parent_event_id) in ``context`` (command rows) or
    ``failed_command`` (error rows), so it can never pass for a real event.
    """

    augmented_id: UUID
    parent_event_id: UUID
    family: str
    technique: str
    event: SyntheticEvent
    semantic_confidence: float = 0.0
    syntax_ok: bool = False
    dry_run_ok: bool = False

    @property
    def synthetic(self) -> bool:
        """Always ``True``: every augmented row is synthetic."""
        return True

    def record(self) -> dict[str, Any]:
        """The row as flat JSON-ready data (lineage, QC verdicts and the event)."""
        return {
            "augmented_id": str(self.augmented_id), "parent_event_id": str(self.parent_event_id),
            "synthetic": True, "family": self.family, "technique": self.technique,
            "kind": self.event.kind, "semantic_confidence": self.semantic_confidence,
            "syntax_ok": self.syntax_ok, "dry_run_ok": self.dry_run_ok,
            "event": self.event.model_dump(mode="json"),
        }


def _rate(passed: int, total: int) -> float:
    return passed / total if total else 0.0


@dataclass(frozen=True)
class TechniqueQC:
    """Gate counts of one technique's batch; rates are shares of ``generated``."""

    technique: str
    generated: int
    semantic_passed: int
    syntax_passed: int
    dry_run_passed: int
    accepted: int
    batch_rejected: bool

    @property
    def semantic_rate(self) -> float:
        """Share of generated rows at or above the semantic confidence threshold."""
        return _rate(self.semantic_passed, self.generated)

    @property
    def syntax_rate(self) -> float:
        """Share of generated rows within the syntax error tolerance."""
        return _rate(self.syntax_passed, self.generated)

    @property
    def dry_run_rate(self) -> float:
        """Share of generated rows whose dry run behaved as required."""
        return _rate(self.dry_run_passed, self.generated)

    @property
    def acceptance_rate(self) -> float:
        """Share of generated rows accepted."""
        return _rate(self.accepted, self.generated)


@dataclass(frozen=True)
class Unaugmentable:
    """Selected events of one command type that no technique could augment, and why."""

    command_type: str
    reason: str
    events: int

    def qc_record(self) -> dict[str, Any]:
        """The ``augmentation_qc`` row: technique ``"not augmentable: <reason>"``, no rows."""
        return {"technique": f"not augmentable: {self.reason}",
                "command_type": self.command_type, "not_augmentable": self.events,
                "generated": 0, "semantic_passed": 0, "syntax_passed": 0,
                "dry_run_passed": 0, "accepted": 0, "batch_rejected": False}


@dataclass(frozen=True)
class AugmentationResult:
    """Accepted rows, per-technique QC and rejected rows with the gate that dropped them.

    ``candidates`` counts the command and error events offered; ``selected``
    lists the event ids the rate picked (in input order), whether or not a
    clean command could be read from them; ``not_augmentable`` counts the
    selected events no technique gave a row, by command type and reason
    (synthetic events aside: they are never augmented again).
    """

    rows: list[AugmentedRow]
    qc: list[TechniqueQC]
    rejected: list[tuple[AugmentedRow, str]]
    candidates: int = 0
    selected: list[UUID] = field(default_factory=list)
    not_augmentable: list[Unaugmentable] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Base:
    """The clean command a parent event expresses (see :func:`base_of`)."""

    parent: SyntheticEvent
    spec: CommandSpec
    phrasing: int
    text: str
    params: dict[str, ParamValue]
    context: dict[str, JsonValue]

    @property
    def user(self) -> str:
        """The user of the parent's session, when known."""
        user = self.context.get("user_id")
        return user if isinstance(user, str) else "unknown-user"

    def same_fields(self, extra: frozenset[str] = frozenset()) -> list[int]:
        """Phrasing indices that mention exactly the base's parameters (plus ``extra``)."""
        want = frozenset(self.params) | extra
        return [i for i, t in enumerate(self.spec.phrasings)
                if frozenset(template_fields(t)) == want]


@dataclass(frozen=True, slots=True)
class Lineage:
    """Identity of a synthetic event: its id, its technique and its parent."""

    augmented_id: UUID
    parent_event_id: UUID
    family: Family
    technique: str

    def marks(self) -> dict[str, JsonValue]:
        """Keys that flag an event object as synthetic and name its origin."""
        return {"synthetic": True, "augmentation": {
            "family": self.family, "technique": self.technique,
            "parent_event_id": str(self.parent_event_id)}}


@dataclass(frozen=True, slots=True)
class Toolkit:
    """What techniques may consult: the grammar and parameter values seen in the stream."""

    grammar: Grammar
    observed: Mapping[tuple[str, str], Sequence[ParamValue]]


@dataclass(frozen=True, slots=True)
class Job:
    """Everything one technique needs to augment one parent."""

    base: Base
    rng: random.Random
    tools: Toolkit
    lineage: Lineage


Generator = Callable[[Job], SyntheticEvent | None]


def stable_unit(key: str) -> float:
    """A number in [0, 1) from a stable hash of ``key`` (the same in every process)."""
    digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 18446744073709551616.0


def derive_rng(seed: int, event_id: UUID, technique: str) -> random.Random:
    """The generator of one technique on one parent: seeded by ``(seed, event_id, technique)``."""
    digest = hashlib.blake2b(f"{seed}:{event_id}:{technique}".encode(), digest_size=16).digest()
    return random.Random(int.from_bytes(digest, "big"))  # noqa: S311 - simulation only


def augmented_id(parent: UUID, technique: str, index: int = 0) -> UUID:
    """The id of the ``index``-th row a technique derives from ``parent`` (uuid5)."""
    return uuid5(LINEAGE_NAMESPACE, f"{parent}:{technique}:{index}")


def value_text(value: object) -> str:
    """A parameter value as it appears in text, lower-cased for comparison."""
    if isinstance(value, str):
        return value.lower()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return format_value(value).lower()
    return repr(value).lower()
