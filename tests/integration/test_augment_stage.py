"""The augment stage as its own consumer group: its rows land exactly once across a
SIGKILL and a restart, and it scales out and turns off without the worker noticing.

The worker owns the embedded store; the stages' rows reach it through the store
outbox, imported when the worker stops at the latest.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from streamtune.config import Settings
from streamtune.models.augmentation import TECHNIQUES
from streamtune.schemas import EVENT_MODELS
from streamtune.schemas.events import CommandEvent, ErrorEvent, Event
from streamtune.schemas.topics import SOURCES
from streamtune.simulator import Simulator
from streamtune.streams.augment.stage import Augmentation
from streamtune.streams.kafka.admin import create_topics
from tests.support.loop_models import clean
from tests.support.worker_harness import (
    AugmentStage,
    Worker,
    augment_caught_up,
    caught_up,
    read_store,
    send_events,
    wait_for,
    worker_settings,
)

REPLAYABLE = {"techniques": [t for t in TECHNIQUES if t != "parameter_substitution"],
              "budget": 1.0, "rare_below": 0, "rate": 0.2, "seed": 3}
"""Budget and techniques that depend on the event alone, not on what the stage saw
before (``stage.py``): a replay then gives exactly the rows the lost landing gave."""

AUGMENTATION_QUERIES = {
    "augmented": "SELECT toString(augmented_id), toString(parent_event_id) "
                 "FROM streamtune.augmented FINAL",
    "qc": "SELECT sum(accepted), sum(skipped), countIf(batch_rejected) "
          "FROM streamtune.augmentation_qc FINAL",
}


def produced(settings: Settings, seed: int, count: int) -> list[Event]:
    create_topics(settings)
    events = list(Simulator(seed).events(count))
    send_events(settings, events)
    return events


def expected(wsettings: Settings, events: list[Event]) -> tuple[set[str], int]:
    """The augmented ids and the skipped count of augmenting every clean event at once."""
    parents = [e for e in clean(wsettings, events) if isinstance(e, CommandEvent | ErrorEvent)]
    rows, plan, _ = Augmentation(wsettings.augmentation).run(parents, "all")
    return ({str(fields["augmented_id"]) for table, fields in rows if table == "augmented"},
            sum(plan.skipped.values()))


def check_once(store: dict[str, list[list[Any]]]) -> None:
    """Each row once: the QC reports count exactly the augmented rows landed."""
    (accepted, _, rejected), = store["qc"]
    assert rejected == 0  # no technique batch fell under the dry-run rate
    assert accepted == len(store["augmented"]) > 0


@pytest.mark.timeout(500)
def test_stage_rows_land_exactly_once_across_a_sigkill_and_restart(
        settings: Settings, tmp_path: Path) -> None:
    events = produced(settings, 29, 2500)
    later = list(Simulator(30).events(500))  # sent once the first stage is dead
    wsettings = worker_settings(settings, tmp_path, batch_max_events=100,
                                groups={"augmentation": REPLAYABLE})
    worker = Worker(wsettings, log=tmp_path / "worker.log").start()
    try:
        wait_for(lambda: caught_up(wsettings), timeout=240, what="the stream committed",
                 worker=worker)
        first = AugmentStage(wsettings, log=tmp_path / "augment-1.log").start()
        try:
            wait_for(lambda: first.metric("streamtune_augment_events_in_total") >= 500,
                     timeout=180, what="a part of the clean stream augmented", worker=first,
                     interval=0.05)  # most likely in the middle of the stream
            first.kill()
        finally:
            first.ensure_stopped()
        send_events(settings, later)  # the restarted stage has work however fast the first was
        wait_for(lambda: caught_up(wsettings), timeout=240, what="the later events committed",
                 worker=worker)
        assert not augment_caught_up(wsettings)
        second = AugmentStage(wsettings, log=tmp_path / "augment-2.log").start()
        try:
            wait_for(lambda: augment_caught_up(wsettings), timeout=240,
                     what="the rest augmented", worker=second)
            assert second.terminate() == 0
        finally:
            second.ensure_stopped()
        assert worker.terminate() == 0  # it imports the outbox once more as it stops
    finally:
        worker.ensure_stopped()

    store = read_store(wsettings, AUGMENTATION_QUERIES)
    check_once(store)
    ids, skipped = expected(wsettings, events + later)
    assert {row[0] for row in store["augmented"]} == ids
    assert store["qc"][0][1] == skipped


@pytest.mark.timeout(500)
def test_the_stage_turns_off_and_scales_out_alone(settings: Settings, tmp_path: Path) -> None:
    events = produced(settings, 31, 2000)
    wsettings = worker_settings(settings, tmp_path, batch_max_events=200,
                                groups={"augmentation": REPLAYABLE})  # a rebalance replays
    tables = [SOURCES[kind] for kind in EVENT_MODELS]
    counts = {t: f"SELECT count() FROM streamtune.{t} FINAL" for t in tables}

    alone = Worker(wsettings, log=tmp_path / "worker-1.log").start()  # no augment stage
    try:
        wait_for(lambda: caught_up(wsettings), timeout=240, what="the stream committed",
                 worker=alone)
        assert alone.terminate() == 0
    finally:
        alone.ensure_stopped()
    store = read_store(wsettings, {**counts, **AUGMENTATION_QUERIES})
    for kind in EVENT_MODELS:
        assert store[SOURCES[kind]] == [[sum(e.kind == kind for e in events)]], kind
    assert store["augmented"] == []

    worker = Worker(wsettings, log=tmp_path / "worker-2.log").start()
    configs = [worker_settings(settings, tmp_path, worker_id=name, batch_max_events=200,
                               groups={"augmentation": REPLAYABLE}) for name in ("a", "b")]
    stages = [AugmentStage(c, log=tmp_path / f"augment-{c.worker_id}.log").start()
              for c in configs]
    try:
        wait_for(lambda: augment_caught_up(wsettings), timeout=240,
                 what="the clean stream augmented by two stages", worker=worker)
        reads = [stage.metric("streamtune_augment_events_in_total") for stage in stages]
        for stage in stages:
            assert stage.terminate() == 0
        wait_for(lambda: "rows from the store outbox" in worker.tail(), timeout=60,
                 what="the worker importing the stages' rows", worker=worker)
        assert worker.terminate() == 0
    finally:
        for stage in stages:
            stage.ensure_stopped()
        worker.ensure_stopped()
    assert all(r > 0 for r in reads)
    assert sum(reads) >= sum(isinstance(e, CommandEvent | ErrorEvent) for e in events)
    store = read_store(wsettings, {**counts, **AUGMENTATION_QUERIES})
    check_once(store)
    parents = {str(e.event_id) for e in events if isinstance(e, CommandEvent | ErrorEvent)}
    assert {row[1] for row in store["augmented"]} <= parents
    ids, skipped = expected(wsettings, events)
    assert {row[0] for row in store["augmented"]} == ids
    assert store["qc"][0][1] == skipped > 0
