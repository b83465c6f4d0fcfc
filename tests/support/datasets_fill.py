"""Fill a store with simulated events through the real batch processor and row writer.

Also runnable, to fill a chdb path from a process of its own (chdb allows one
path per process): ``python -m tests.support.datasets_fill DATA_DIR SEED EVENTS``.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from streamtune.config import Settings
from streamtune.schemas.topics import SOURCES
from streamtune.simulator import Scenario, Simulator
from streamtune.sinks.migrations import migrate
from streamtune.sinks.rows import RowWriter
from streamtune.sinks.store import ClickHouseStore
from streamtune.streams.worker.batch import BatchProcessor, RawRecord


def fill(store: ClickHouseStore, settings: Settings, *, seed: int, events: int,
         hours_ago: int = 1, scenario: Scenario | None = None, first_offset: int = 0) -> None:
    """Simulate ``events`` events (starting ``hours_ago`` ago) and write every row they make.

    ``first_offset`` is the raw offset of the first event: give later fills of the
    same store offsets of their own.
    """
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=hours_ago)
    simulator = Simulator(seed, start=start, scenario=scenario)
    records = [RawRecord(f"raw.{SOURCES[e.kind]}", 0, first_offset + i,
                         e.model_dump_json().encode())
               for i, e in enumerate(simulator.events(events))]
    processor, writer = BatchProcessor(settings), RowWriter(store)
    for first in range(0, len(records), 1000):
        writer.write(processor.process(records[first:first + 1000]).table_rows())


if __name__ == "__main__":
    from tests.support.settings import make_settings

    cfg = make_settings(Path(sys.argv[1]))
    with ClickHouseStore.from_settings(cfg) as opened:
        migrate(opened)
        fill(opened, cfg, seed=int(sys.argv[2]), events=int(sys.argv[3]))
