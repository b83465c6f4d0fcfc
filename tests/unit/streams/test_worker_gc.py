"""With the worker's collector settings, a full batch is processed without a collection.

A young-generation collection traverses every young object still alive: during a step
that is the batch itself (its events, rows and JSON). Under ``tune_gc``'s 50,000 one ran
every few thousand records; the worker's threshold leaves room for a whole batch.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from streamtune.simulator import Simulator
from streamtune.sinks.rows import event_json
from streamtune.streams.worker.batch import BatchProcessor, RawRecord
from streamtune.streams.worker.startup import tune_worker_gc
from tests.support.settings import make_settings

START = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def collections() -> Iterator[list[int]]:
    """Generations collected while the test runs, under the worker's settings."""
    thresholds, seen = gc.get_threshold(), []

    def count(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            seen.append(info["generation"])

    tune_worker_gc()
    gc.callbacks.append(count)
    try:
        yield seen
    finally:
        gc.callbacks.remove(count)
        gc.unfreeze()
        gc.set_threshold(*thresholds)


def test_a_full_batch_is_processed_without_a_collection(tmp_path: Path,
                                                        collections: list[int]) -> None:
    settings = make_settings(tmp_path)
    size = settings.pipeline.batch_max_events
    records = [RawRecord(f"raw.{e.kind}", 0, i, e.model_dump_json().encode())
               for i, e in enumerate(Simulator(2, start=START).events(size))]
    processor = BatchProcessor(settings)
    gc.collect()
    del collections[:]
    result = processor.process(records, now=0.0, augment=False)
    encoded = [event_json(event) for event, _ in result.events]
    rows = result.event_rows()
    assert len(encoded) == sum(len(data) for _, data in rows) == size
    assert collections == []
