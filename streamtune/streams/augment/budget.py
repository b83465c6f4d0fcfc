"""The augment stage's budget: which clean events are augmented, most useful first.

Every command or error event of a batch falls in the first tier it fits:

=========  ==========================================================================
tier       events
=========  ==========================================================================
error      error events (a failure, with its error text)
failed     command events that failed
new_type   command events of a type the catalogue does not know (a new class)
rare       command events of a type the stage has seen fewer than ``rare_below``
           times before this batch
common     every other command event, drawn at ``rate`` (a pure function of seed
           and ``event_id``, as :meth:`Augmenter.selects`)
=========  ==========================================================================

At most ``ceil(budget x events)`` events of a batch are augmented, taken tier by
tier and within a tier by a stable draw of ``event_id``; so a replay of the
same batch after the same history picks the same events. What is left out is
counted per reason (:attr:`Plan.skipped`), per command type too for the priority
tiers, and lands in ``augmentation_qc`` as ``skipped``. Synthetic events are
neither chosen nor counted.

Examples
--------
>>> from streamtune.simulator import Simulator
>>> from datetime import UTC, datetime
>>> events = list(Simulator(3, start=datetime(2026, 1, 1, tzinfo=UTC)).events(400))
>>> plan = Budget(AugmentationSettings(rate=0.1, budget=0.3, rare_below=0)).plan(events)
>>> len(plan.chosen) <= 0.3 * plan.offered + 1 and plan.tiers["error"] > 0
True
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from streamtune.config import AugmentationSettings
from streamtune.models.augmentation.rows import stable_unit
from streamtune.schemas.commands import COMMANDS
from streamtune.schemas.events import CommandEvent, ErrorEvent

TIERS = ("error", "failed", "new_type", "rare", "common")
"""Tiers in the order the budget is spent on them."""

Parent = CommandEvent | ErrorEvent


def command_type_of(event: Parent) -> str:
    """The command an event is about (an error event's failed command)."""
    if isinstance(event, CommandEvent):
        return event.command_type
    named = event.failed_command.get("command_type")
    return named if isinstance(named, str) else "unknown"


def _synthetic(event: Parent) -> bool:
    marks = event.context if isinstance(event, CommandEvent) else event.failed_command
    return marks.get("synthetic") is True


@dataclass
class Plan:
    """A batch's choice: the events to augment (in input order) and what was left out."""

    chosen: list[Parent] = field(default_factory=list)
    offered: int = 0
    tiers: Counter[str] = field(default_factory=Counter)
    """Chosen events per tier."""
    skipped: Counter[tuple[str, str]] = field(default_factory=Counter)
    """Events left out per ``(command_type, reason)``; command type ``""`` for common ones."""


class Budget:
    """Chooses each batch's parents; remembers how often each command type came."""

    def __init__(self, settings: AugmentationSettings) -> None:
        self.settings = settings
        self.seen: Counter[str] = Counter()

    def tier(self, event: Parent) -> str:
        """The tier of one event, given the command types seen before its batch."""
        if isinstance(event, ErrorEvent):
            return "error"
        if not event.success:
            return "failed"
        if event.command_type not in COMMANDS:
            return "new_type"
        if self.seen[event.command_type] < self.settings.rare_below:
            return "rare"
        return "common"

    def plan(self, events: Iterable[object]) -> Plan:
        """Choose among a batch's command and error events (others are ignored)."""
        s, plan = self.settings, Plan()
        ranked: list[tuple[int, float, int, Parent]] = []
        batch_types: Counter[str] = Counter()
        for index, event in enumerate(events):
            if not isinstance(event, CommandEvent | ErrorEvent) or _synthetic(event):
                continue
            plan.offered += 1
            tier = self.tier(event)
            if isinstance(event, CommandEvent):
                batch_types[event.command_type] += 1
            draw = stable_unit(f"{s.seed}:{event.event_id}")
            if tier == "common" and draw >= s.rate:
                plan.skipped["", f"not drawn (common, rate {s.rate:g})"] += 1
                continue
            ranked.append((TIERS.index(tier), draw, index, event))
        ranked.sort(key=lambda item: item[:3])
        room = math.ceil(s.budget * plan.offered)
        taken = sorted(ranked[:room], key=lambda item: item[2])
        plan.chosen = [event for *_, event in taken]
        plan.tiers.update(TIERS[t] for t, *_ in taken)
        for t, _, _, event in ranked[room:]:
            command_type = "" if TIERS[t] == "common" else command_type_of(event)
            plan.skipped[command_type, f"over budget ({TIERS[t]})"] += 1
        self.seen.update(batch_types)
        return plan
