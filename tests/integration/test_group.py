"""Two workers in one consumer group split the partitions and lose nothing.

In embedded mode each worker owns its own chdb store, so a batch replayed
after the rebalance (its commit refused mid-rebalance) may land in both stores;
against one ClickHouse server the event_id identity folds such replays.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from streamtune.config import Settings
from streamtune.schemas import EVENT_MODELS
from streamtune.schemas.topics import SOURCES
from streamtune.simulator import Simulator
from streamtune.streams.kafka.admin import create_topics
from tests.support.worker_harness import (
    Worker,
    caught_up,
    members_with_partitions,
    read_store,
    send_events,
    wait_for,
    worker_settings,
)


@pytest.mark.timeout(400)
def test_two_workers_split_the_partitions(settings: Settings, tmp_path: Path) -> None:
    create_topics(settings)
    configs = [worker_settings(settings, tmp_path / name, worker_id=name) for name in "ab"]
    workers = [Worker(c, log=tmp_path / f"{c.worker_id}.log").start() for c in configs]
    events = list(Simulator(41).events(3000))
    try:
        group = f"{settings.topics.prefix}streamtune-ingest"
        wait_for(lambda: members_with_partitions(settings, group) == 2, timeout=120,
                 what="both workers holding partitions", worker=workers)
        send_events(settings, events)
        wait_for(lambda: caught_up(configs[0]), timeout=240, what="the stream committed",
                 worker=workers)
        reads = [worker.metric("streamtune_events_in_total") for worker in workers]
        for worker in workers:
            assert worker.terminate() == 0
    finally:
        for worker in workers:
            worker.ensure_stopped()

    tables = [SOURCES[kind] for kind in EVENT_MODELS]
    queries = {t: f"SELECT toString(event_id) FROM streamtune.{t} FINAL" for t in tables}
    stores = [read_store(c, queries) for c in configs]
    for kind in EVENT_MODELS:
        landed = {row[0] for store in stores for row in store[SOURCES[kind]]}
        assert landed == {str(e.event_id) for e in events if e.kind == kind}, kind
    assert all(sum(len(store[t]) for t in tables) > 0 for store in stores)
    assert all(r > 0 for r in reads) and sum(reads) >= len(events)
