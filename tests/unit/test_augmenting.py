"""The augmentation child: the same rows as augmenting in-process, and it survives its death."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import pytest

from streamtune.config import AugmentationSettings
from streamtune.models.augmentation import AugmentationResult, Augmenter
from streamtune.schemas.events import CommandEvent, ErrorEvent
from streamtune.streams.worker.augmenting import AugmentationProcess
from tests.loop_models import simulated

SETTINGS = AugmentationSettings(rate=0.3, seed=5)


def batches() -> list[list[CommandEvent | ErrorEvent]]:
    events = [e for e in simulated(11, 2400) if isinstance(e, CommandEvent | ErrorEvent)]
    return [events[i:i + 500] for i in range(0, len(events), 500)]


def encoded(batch: list[CommandEvent | ErrorEvent]) -> list[bytes]:
    return [event.model_dump_json().encode() for event in batch]


def rows(result: AugmentationResult) -> list[tuple[object, ...]]:
    return [(r.augmented_id, r.parent_event_id, r.technique, r.event.model_dump_json())
            for r in result.rows]


def qc(result: AugmentationResult) -> list[tuple[object, ...]]:
    return [(q.technique, q.generated, q.accepted, q.batch_rejected) for q in result.qc]


@pytest.fixture
def child() -> Iterator[AugmentationProcess]:
    process = AugmentationProcess(SETTINGS)
    yield process
    process.close()


def child_pids(process: AugmentationProcess) -> list[int]:
    return [p.pid for p in process._pool._processes.values()]  # noqa: SLF001


def test_batches_augmented_in_the_child_equal_in_process_augmentation(
        child: AugmentationProcess) -> None:
    local = Augmenter(SETTINGS)
    # submitted ahead, as the worker does; the child keeps its observed values between batches
    pending = [(batch, child.submit(encoded(batch))) for batch in batches()]
    produced = 0
    for batch, future in pending:
        expected = local.augment(batch)
        got = child.result(future, encoded(batch))
        assert rows(got) == rows(expected)
        assert qc(got) == qc(expected)
        assert got.selected == expected.selected
        produced += len(got.rows)
    assert produced > 100


def test_a_killed_child_is_replaced_and_the_batch_resubmitted(
        child: AugmentationProcess) -> None:
    batch = batches()[0]
    child.result(child.submit(encoded(batch)), encoded(batch))  # the child is up
    (pid,) = child_pids(child)
    future = child.submit(encoded(batch))
    os.kill(pid, signal.SIGKILL)
    result = child.result(future, encoded(batch))
    assert rows(result) == rows(Augmenter(SETTINGS).augment(batch))
    assert child_pids(child) and pid not in child_pids(child)


def test_close_stops_the_child() -> None:
    process = AugmentationProcess(SETTINGS)
    batch = batches()[0]
    process.result(process.submit(encoded(batch)), encoded(batch))
    (pid,) = child_pids(process)
    process.close()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
