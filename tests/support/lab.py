"""A learning lab: a chdb database holding 12,000 simulated events and their snapshots,
which the training tests train every model from (the intent classifier in fewer epochs)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from streamtune.config import Settings
from streamtune.models.datasets import build_snapshot
from streamtune.sinks.migrations import migrate
from streamtune.sinks.store import ClickHouseStore
from tests.support.datasets_fill import fill
from tests.support.settings import make_settings

LAB_TRAINING = {"intent_classifier": {"total_epochs": 8}}
"""The intent classifier in 8 epochs of the shipped 20: macro-F1 on the lab's test split is
1.0 either way, in 9 CPU-s instead of 15 (the recipe's own figures on real text:
``benchmarks/learning.py``)."""


@dataclass
class Lab:
    store: ClickHouseStore
    settings: Settings


@contextmanager
def open_lab(chdb_path: Path, data_dir: Path) -> Iterator[Lab]:
    """The session's chdb path, a database of the lab's own (dropped at the end), 12,000
    simulated events (no new command type yet) and a snapshot of commands and errors."""
    database = f"l{uuid.uuid4().hex[:10]}"
    settings = make_settings(data_dir, store={"url": f"chdb://{chdb_path}", "database": database},
                             training=LAB_TRAINING)
    store = ClickHouseStore.from_settings(settings)
    migrate(store)
    fill(store, settings, seed=21, events=12_000, hours_ago=2)
    for name in ("commands", "errors"):
        build_snapshot(store, settings, name, progress=False)  # type: ignore[arg-type]
    try:
        yield Lab(store, settings)
    finally:
        store.command(f"DROP DATABASE IF EXISTS {store.database}")
