"""Champion models for loop tests: simulated events -> clean events -> snapshots -> registry.

Small training settings keep each model to seconds on a 2-core machine.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa

from streamtune.config import Settings
from streamtune.models.datasets import snapshot_from_table
from streamtune.models.datasets.columns import SOURCE_SCHEMAS
from streamtune.models.loop.recent import dataset_row
from streamtune.models.training.run import train_model
from streamtune.schemas.events import CommandEvent, ErrorEvent, Event
from streamtune.schemas.topics import SOURCES
from streamtune.simulator import Scenario, Simulator
from streamtune.streams.worker.batch import BatchProcessor, RawRecord

QUICK_TRAINING: dict[str, Any] = {
    "intent_classifier": {"total_epochs": 3, "teacher": False},
    "command_predictor": {"epochs_per_stage": 1},
    "error_recovery": {"epochs_per_stage": 1},
}
"""Training overrides for tests (``make_settings(..., training=QUICK_TRAINING)``)."""

LOOP_MODELS = ["intent_classifier", "command_predictor", "error_recovery"]


def simulated(seed: int, events: int, *, scenario: Scenario | None = None,
              hours_ago: float = 1.0) -> list[Event]:
    """Raw simulated events, starting ``hours_ago`` ago."""
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=hours_ago)
    return list(Simulator(seed, start=start, scenario=scenario).events(events))


def clean(settings: Settings, events: list[Event]) -> list[Event]:
    """What the worker's batch processor makes of ``events`` (cleaned, annotated)."""
    records = [RawRecord(f"raw.{SOURCES[e.kind]}", 0, i, e.model_dump_json().encode())
               for i, e in enumerate(events)]
    return [e for e, _ in BatchProcessor(settings).process(records).events]


def train_champions(settings: Settings, events: list[Event],
                    models: list[str] = LOOP_MODELS) -> dict[str, str]:
    """Train ``models`` on the clean ``events``; return model -> registered version."""
    tables = {
        "commands": [dataset_row(e) for e in events if isinstance(e, CommandEvent)],
        "errors": [dataset_row(e) for e in events if isinstance(e, ErrorEvent)],
    }
    wanted = {"errors" if model == "error_recovery" else "commands" for model in models}
    snapshots = {name: snapshot_from_table(
        settings, name, pa.Table.from_pylist(rows, schema=SOURCE_SCHEMAS[name]),  # type: ignore[arg-type]
        lineage={"description": "simulated events for tests"})
        for name, rows in tables.items() if name in wanted}
    versions = {}
    for model in models:
        dataset = "errors" if model == "error_recovery" else "commands"
        result = train_model(settings, model, dataset_id=snapshots[dataset].id)
        versions[model] = result.version.version
    return versions
