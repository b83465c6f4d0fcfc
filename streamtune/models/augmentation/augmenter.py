"""The :class:`Augmenter`: which events to augment, with which techniques, and the gates.

Selection is a pure function of ``(seed, event_id)``: a command or error event
is selected when ``stable_unit(f"{seed}:{event_id}") < rate``. For a selected event
whose clean command can be read (:func:`~streamtune.models.augmentation.build.base_of`),
the configured techniques that fit its kind (command events: all three
families; error events: error simulation) are ranked by
``stable_unit(f"{seed}:{event_id}:{technique}")`` and tried in that order until
``techniques_per_event`` rows exist (a technique that does not apply yields
nothing, and so does one whose event would not validate). Each technique draws
from ``derive_rng(seed, event_id, technique)`` and its row id is
``uuid5(parent id, technique, 0)``, so a replayed event
gives identical rows - given the same observed parameter values, which only
``parameter_substitution`` consults.

A command event the catalogue cannot read (an unknown ``command_type``, or a
phrasing its grammar does not know) goes to the text techniques
(:mod:`.text`), ranked and tried the same way, and gated by the text rules of
:mod:`.quality`; those also consult the examples of each command type seen
so far (``class_paraphrase`` and the gates' cue words), so they too depend on
what was observed. A selected event that yields no row is counted in
``AugmentationResult.not_augmentable`` with its command type and the reason.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from pydantic import ValidationError

from streamtune.config import AugmentationSettings
from streamtune.errors import ConfigError
from streamtune.models.augmentation import context, simulation, variation
from streamtune.models.augmentation.build import base_of
from streamtune.models.augmentation.examples import ClassExamples, tokenize
from streamtune.models.augmentation.grammar import grammar_for
from streamtune.models.augmentation.quality import gate_batch, score, score_text
from streamtune.models.augmentation.rows import (
    AugmentationResult,
    AugmentedRow,
    Base,
    Family,
    Generator,
    Job,
    Lineage,
    Toolkit,
    Unaugmentable,
    augmented_id,
    derive_rng,
    stable_unit,
    value_text,
)
from streamtune.models.augmentation.text import (
    TEXT_TECHNIQUES,
    TextBase,
    TextJob,
    parent_text,
    text_base_of,
)
from streamtune.schemas.commands import COMMANDS, ParamValue, validate_parameters
from streamtune.schemas.events import CommandEvent, ErrorEvent


@dataclass(frozen=True, slots=True)
class Technique:
    """A named augmentation technique: its family and its generator."""

    family: Family
    generate: Generator


TECHNIQUES: dict[str, Technique] = {
    "synonym_replacement": Technique("command_variation", variation.synonym_replacement),
    "word_order_shuffle": Technique("command_variation", variation.word_order_shuffle),
    "parameter_substitution": Technique("command_variation", variation.parameter_substitution),
    "style_transformation": Technique("command_variation", variation.style_transformation),
    "parameter_corruption": Technique("error_simulation", simulation.parameter_corruption),
    "context_modification": Technique("error_simulation", simulation.context_modification),
    "resource_constraints": Technique("error_simulation", simulation.resource_constraints),
    "timing_issues": Technique("error_simulation", simulation.timing_issues),
    "state_variation": Technique("context_augmentation", context.state_variation),
    "history_modification": Technique("context_augmentation", context.history_modification),
    "preference_alteration": Technique("context_augmentation", context.preference_alteration),
    "load_simulation": Technique("context_augmentation", context.load_simulation),
}
"""Every catalogue technique by name; with ``TEXT_TECHNIQUES`` (family
``text_variation``), the names ``AugmentationSettings.techniques`` may list."""

FAMILIES_FOR_KIND: dict[str, frozenset[str]] = {
    "command": frozenset({"command_variation", "error_simulation", "context_augmentation",
                          "text_variation"}),
    "error": frozenset({"error_simulation"}),
}
"""Families that may augment each parent event kind."""


def _command_type(event: CommandEvent | ErrorEvent) -> str:
    if isinstance(event, CommandEvent):
        return event.command_type
    named = event.failed_command.get("command_type")
    return named if isinstance(named, str) else "unknown"


def _synthetic(event: CommandEvent | ErrorEvent) -> bool:
    marks = event.context if isinstance(event, CommandEvent) else event.failed_command
    return marks.get("synthetic") is True


class Augmenter:
    """Turns clean command and error events into gated synthetic training rows.

    Parameters
    ----------
    settings
        Rate, techniques, extra synonyms, gate thresholds and seed.
    techniques_per_event
        Rows (one per technique) derived from each selected parent.
    max_observed
        Distinct values remembered per ``(command_type, parameter)``.
    max_examples
        Distinct texts remembered per command type for the text techniques.

    Raises
    ------
    ConfigError
        On an unknown technique name, a bad synonym, or ``techniques_per_event < 1``.

    Examples
    --------
    >>> from datetime import UTC, datetime
    >>> from streamtune.simulator import Simulator
    >>> events = list(Simulator(1, start=datetime(2026, 1, 1, tzinfo=UTC)).events(300))
    >>> result = Augmenter(AugmentationSettings(rate=0.5)).augment(events)
    >>> all(row.event.event_id == row.augmented_id for row in result.rows)
    True
    """

    def __init__(self, settings: AugmentationSettings, *, techniques_per_event: int = 2,
                 max_observed: int = 128, max_examples: int = 64) -> None:
        unknown = [t for t in settings.techniques if t not in TECHNIQUES | TEXT_TECHNIQUES]
        if unknown:
            raise ConfigError(f"unknown augmentation technique(s) {', '.join(unknown)} "
                              f"(known: {', '.join([*TECHNIQUES, *TEXT_TECHNIQUES])})")
        if techniques_per_event < 1:
            raise ConfigError("techniques_per_event must be at least 1")
        self.settings = settings
        self.grammar = grammar_for(settings.synonyms)
        self.techniques = tuple(dict.fromkeys(settings.techniques))
        self.text_techniques = tuple(t for t in self.techniques if t in TEXT_TECHNIQUES)
        self.techniques_per_event = techniques_per_event
        self.max_observed = max_observed
        self.examples = ClassExamples(max_examples)
        self._observed: dict[tuple[str, str], dict[str, ParamValue]] = {}

    # -- observed values ------------------------------------------------------------------

    def observe(self, event: CommandEvent) -> None:
        """Remember the text of a command (not a synthetic one) and the parameter values
        of a valid one."""
        if not isinstance(event, CommandEvent) or event.context.get("synthetic") is True:
            return
        text = parent_text(event)
        if self.examples.wants(event.command_type, text):
            self.examples.add(event.command_type, text,
                              tokenize(text, event.command_type, event.parameters))
        if event.command_type not in COMMANDS:
            return
        command_type, params = event.command_type, event.parameters
        new = []
        for name, value in params.items():
            if not isinstance(value, int | float | str) or isinstance(value, bool):
                return
            bucket = self._observed.get((command_type, name))
            key = value_text(value)
            if bucket is None or (key not in bucket and len(bucket) < self.max_observed):
                new.append((name, key, value))
        if new and not validate_parameters(command_type, params):
            for name, key, value in new:
                self._observed.setdefault((command_type, name), {}).setdefault(key, value)

    def observed(self, command_type: str, param: str) -> list[ParamValue]:
        """Values seen for a parameter, sorted by their text."""
        bucket = self._observed.get((command_type, param), {})
        return [bucket[k] for k in sorted(bucket)]

    # -- augmentation ---------------------------------------------------------------------

    def selects(self, event_id: UUID) -> bool:
        """Whether the rate picks this event (a pure function of seed and id)."""
        return stable_unit(f"{self.settings.seed}:{event_id}") < self.settings.rate

    def augment(self, events: Sequence[CommandEvent | ErrorEvent], *,
                observe: bool = True) -> AugmentationResult:
        """Augment the selected events and gate the rows, technique by technique.

        With ``observe`` (default) the batch's command events are observed first.
        """
        if not self.settings.enabled:
            return AugmentationResult([], [], [])
        if observe:
            for event in events:
                if isinstance(event, CommandEvent):
                    self.observe(event)
        tools = Toolkit(self.grammar, {k: self.observed(*k) for k in self._observed})
        by_technique: dict[str, list[AugmentedRow]] = {t: [] for t in self.techniques}
        candidates = 0
        selected: list[UUID] = []
        skipped: Counter[tuple[str, str]] = Counter()
        for event in events:
            families = FAMILIES_FOR_KIND.get(getattr(event, "kind", ""))
            if families is None:
                continue
            candidates += 1
            key = f"{self.settings.seed}:{event.event_id}"
            if stable_unit(key) >= self.settings.rate:  # same rule as selects()
                continue
            selected.append(event.event_id)
            rows, reason = self._rows(event, key, families, tools)
            for row in rows:
                by_technique[row.technique].append(row)
            if reason is not None:
                skipped[_command_type(event), reason] += 1
        qc, accepted, rejected = [], [], []
        for technique, rows in by_technique.items():
            report, ok, dropped = gate_batch(technique, rows, self.settings)
            qc.append(report)
            accepted += ok
            rejected += dropped
        order = {event_id: i for i, event_id in enumerate(selected)}
        accepted.sort(key=lambda r: order[r.parent_event_id])
        unaugmentable = [Unaugmentable(t, reason, n) for (t, reason), n in sorted(skipped.items())]
        return AugmentationResult(accepted, qc, rejected, candidates, selected, unaugmentable)

    def _rows(self, event: CommandEvent | ErrorEvent, key: str, families: frozenset[str],
              tools: Toolkit) -> tuple[list[AugmentedRow], str | None]:
        """The event's scored rows, and why it has none (``None``: it has, or is synthetic)."""
        base = base_of(event, self.grammar)
        if base is not None:
            rows = [score(r, self.settings, self.grammar)
                    for r in self._catalogue_rows(event, base, key, families, tools)]
            return rows, None if rows else "no technique applies"
        if _synthetic(event):
            return [], None
        if not isinstance(event, CommandEvent):
            return [], "error event whose command the catalogue cannot read"
        if not self.text_techniques:
            return [], "not in the catalogue's grammar, text techniques off"
        text = text_base_of(event)
        if isinstance(text, str):
            return [], text
        rows = self._text_rows(text, key)
        return rows, None if rows else "no text technique applies"

    def _text_rows(self, base: TextBase, key: str) -> list[AugmentedRow]:
        parent = base.parent
        rows: list[AugmentedRow] = []
        for name in sorted(self.text_techniques, key=lambda t: stable_unit(f"{key}:{t}")):
            lineage = Lineage(augmented_id(parent.event_id, name), parent.event_id,
                              "text_variation", name)
            job = TextJob(base, derive_rng(self.settings.seed, parent.event_id, name),
                          self.examples, lineage)
            try:
                synthetic = TEXT_TECHNIQUES[name](job)
            except ValidationError:  # e.g. the parent's context leaves no room for more keys
                synthetic = None
            if synthetic is None:
                continue
            row = AugmentedRow(lineage.augmented_id, parent.event_id, "text_variation", name,
                               synthetic)
            rows.append(score_text(row, base, self.examples, self.settings))
            if len(rows) >= self.techniques_per_event:
                break
        return rows

    def _catalogue_rows(self, event: CommandEvent | ErrorEvent, base: Base, key: str,
                        families: frozenset[str], tools: Toolkit) -> list[AugmentedRow]:
        seed = self.settings.seed
        ranked = sorted((t for t in self.techniques
                         if t in TECHNIQUES and TECHNIQUES[t].family in families),
                        key=lambda t: stable_unit(f"{key}:{t}"))
        rows: list[AugmentedRow] = []
        for name in ranked:
            technique = TECHNIQUES[name]
            lineage = Lineage(augmented_id(event.event_id, name), event.event_id,
                              technique.family, name)
            try:
                synthetic = technique.generate(
                    Job(base, derive_rng(seed, event.event_id, name), tools, lineage))
            except ValidationError:  # e.g. the parent's context leaves no room for more keys
                synthetic = None
            if synthetic is None:
                continue
            rows.append(AugmentedRow(lineage.augmented_id, event.event_id, technique.family,
                                     name, synthetic))
            if len(rows) >= self.techniques_per_event:
                break
        return rows
