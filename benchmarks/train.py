"""Training wall time per model on N examples, and the learning-rate sweep behind the defaults.

Simulated events are cleaned the way the worker cleans them (``normalize_text``)
and split by template (commands), by session (the predictor) or by error
message (errors), 85/15. Each model then trains with its configured stages and
regime (one torch thread), and the script prints wall time, optimiser steps,
examples/s and held-out accuracy per head. ``--sweep`` also trains the intent
classifier at several peak learning rates (the seed's 2e-5 included).

Run: ``.venv/bin/python benchmarks/train.py [--examples 50000] [--sweep]``
"""

from __future__ import annotations

import argparse
import time
import zlib
from collections.abc import Callable, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from streamtune.config import ModelTraining, TrainingSettings
from streamtune.models.tasks import TASKS, RecoveryTask, Task
from streamtune.models.training.regime import Regime, step_plan
from streamtune.models.training.trainer import accuracy, encode, train
from streamtune.schemas.text import normalize_text
from streamtune.simulator import Simulator


def _rows(kind: str, count: int, seed: int = 11) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for event in Simulator(seed).events(count * 12):
        if event.kind != kind:
            continue
        row = event.model_dump(mode="json")
        if kind == "command":
            row["normalized_input"] = normalize_text(row["raw_input"])
        rows.append(row)
        if len(rows) == count:
            break
    return rows


def _held_out(key: Callable[[dict[str, Any]], str], rows: Sequence[dict[str, Any]]
              ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    test = [r for r in rows if zlib.crc32(key(r).encode()) % 100 < 15]
    return [r for r in rows if zlib.crc32(key(r).encode()) % 100 >= 15], test


def _steps(task: Task, rows: Sequence[dict[str, Any]], hp: ModelTraining) -> int:
    stages = task.stages({"total_epochs": hp.total_epochs, "epochs_per_stage": hp.epochs_per_stage})
    return sum(len(step_plan(int(len(task.examples(rows, s)) * s.epochs),
                             Regime(hp.learning_rate, hp.batch_size, hp.start_batch,
                                    hp.warmup_ratio, hp.final_ratio, hp.final_lr_factor)))
               for s in stages)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=50_000)
    parser.add_argument("--sweep", action="store_true")
    args = parser.parse_args()
    console = Console(width=120)
    settings = TrainingSettings()
    commands, errors = _rows("command", args.examples), _rows("error", args.examples)
    cases: list[tuple[Task, list[dict[str, Any]], Callable[[dict[str, Any]], str]]] = [
        (TASKS["intent_classifier"], commands, lambda r: r["normalized_input"]),
        (TASKS["command_predictor"], commands, lambda r: r["session_id"]),
        (RecoveryTask(), errors, lambda r: r["error_message"]),
    ]
    table = Table("model", "train examples", "steps", "wall s", "examples/s", "held-out accuracy")
    for task, rows, key in cases:
        train_rows, test_rows = _held_out(key, rows)
        hp = settings.for_model(task.name)
        started = time.perf_counter()
        trained = train(task, train_rows, test_rows[:2000], hp, threads=settings.threads)
        wall = time.perf_counter() - started
        examples = task.examples(test_rows, None)
        scores = accuracy(trained.model, *encode(examples, trained.featurizer, trained.labels))
        seen = sum(h["examples"] * h["epochs"] for h in trained.history)
        table.add_row(task.name, f"{len(task.examples(train_rows, None)):,}",
                      f"{_steps(task, train_rows, hp):,}", f"{wall:.1f}", f"{seen / wall:,.0f}",
                      ", ".join(f"{h} {v:.3f}" for h, v in scores.items()))
    console.print(table)
    if args.sweep:
        _sweep(console, commands[: min(len(commands), 10_000)], settings)


def _sweep(console: Console, rows: list[dict[str, Any]], settings: TrainingSettings) -> None:
    task = TASKS["intent_classifier"]
    train_rows, test_rows = _held_out(lambda r: r["normalized_input"], rows)
    table = Table("peak learning rate", "held-out accuracy", "wall s")
    for lr in (2e-5, 1e-4, 1e-3, 3e-3, 1e-2):
        hp = settings.intent_classifier.model_copy(update={"learning_rate": lr})
        started = time.perf_counter()
        trained = train(task, train_rows, [], hp, threads=settings.threads)
        examples = task.examples(test_rows, None)
        score = accuracy(trained.model, *encode(examples, trained.featurizer, trained.labels))
        table.add_row(f"{lr:g}", f"{score['command_type']:.3f}",
                      f"{time.perf_counter() - started:.1f}")
    console.print(table)


if __name__ == "__main__":
    main()
