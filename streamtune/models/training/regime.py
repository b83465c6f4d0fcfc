"""The training regime: warmup with a small batch, cosine decay with a growing batch, a calm finish.

A stage's example budget (epochs x examples) is cut into three phases:

- initial: ``warmup_ratio`` of the budget, learning rate rising linearly from
  near 0 to the peak, batch size ``start_batch``;
- main: cosine decay from the peak to ``final_lr_factor`` x peak while the batch
  grows linearly from ``start_batch`` to ``batch_size``;
- final: ``final_ratio`` of the budget at a constant ``final_lr_factor`` x peak,
  full batch.

Phase lengths are in steps, derived from the budget, so they scale with the
dataset. :func:`step_plan` returns every step's (learning rate, batch size).

Examples
--------
>>> plan = step_plan(1000, Regime(learning_rate=1.0, batch_size=10, start_batch=2))
>>> plan[0].batch_size, plan[-1].batch_size, round(plan[-1].learning_rate, 2)
(2, 10, 0.1)
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Regime:
    """Schedule knobs of one stage."""

    learning_rate: float
    batch_size: int
    start_batch: int = 4
    warmup_ratio: float = 0.1
    final_ratio: float = 0.1
    final_lr_factor: float = 0.1


@dataclass(frozen=True, slots=True)
class Step:
    """One optimiser step's learning rate, batch size and phase."""

    learning_rate: float
    batch_size: int
    phase: str


def step_plan(budget: int, regime: Regime) -> list[Step]:
    """The steps that consume ``budget`` examples under ``regime`` (at least one step)."""
    full = max(1, regime.batch_size)
    start = max(1, min(regime.start_batch, full))
    peak, floor = regime.learning_rate, regime.learning_rate * regime.final_lr_factor
    warm_steps = max(1, round(budget * regime.warmup_ratio / start))
    final_steps = max(1, round(budget * regime.final_ratio / full))
    main_budget = max(0.0, budget * (1 - regime.warmup_ratio - regime.final_ratio))
    main_steps = max(1, round(main_budget / ((start + full) / 2)))
    plan = [Step(peak * (i + 1) / warm_steps, start, "initial") for i in range(warm_steps)]
    for i in range(main_steps):
        progress = i / max(1, main_steps - 1)
        lr = floor + (peak - floor) * 0.5 * (1 + math.cos(math.pi * progress))
        plan.append(Step(lr, round(start + (full - start) * progress), "main"))
    plan += [Step(floor, full, "final")] * final_steps
    return plan
