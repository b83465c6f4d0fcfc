"""Augmentation in a child process, beside the batch thread.

Augmenting a batch costs about as much as validating, cleaning and annotating it
(two synthetic events per selected parent, each validated and put through the
quality gates), and the batch thread holds the GIL. So the worker hands each
batch's clean command and error events, as the JSON it publishes anyway, to one
child process and goes on with the live stage, the ClickHouse insert and the
Kafka sends; it collects the rows before it confirms and commits the batch, so
a crash still replays every batch whose rows are not all written.

The child's :class:`Augmenter` sees the batches in order, as an in-process one
would, so the rows are the same. A child that dies is replaced and the batch
resubmitted once; a second failure stops the worker (its batch is replayed).
"""

from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from pydantic import TypeAdapter

from streamtune.config import AugmentationSettings
from streamtune.models.augmentation import FAMILIES_FOR_KIND, AugmentationResult, Augmenter
from streamtune.processes import name_thread, terminate_with_parent, tune_gc
from streamtune.schemas.events import CommandEvent, ErrorEvent, Event

log = logging.getLogger(__name__)

AUGMENTED_KINDS = frozenset(FAMILIES_FOR_KIND)
"""Kinds of clean events the augmenter takes."""

_PARENTS: TypeAdapter[list[Event]] = TypeAdapter(list[Event])
"""Decodes a batch by each event's ``kind`` (a plain union would try every model)."""
_augmenter: Augmenter | None = None


def _start_child(settings: dict[str, Any]) -> None:
    global _augmenter
    terminate_with_parent()
    name_thread("st-augment")
    _augmenter = Augmenter(AugmentationSettings.model_validate(settings))
    tune_gc()


def _augment(encoded: Sequence[bytes]) -> AugmentationResult:
    if _augmenter is None:
        raise RuntimeError("augmentation child not initialised")
    events = _PARENTS.validate_json(b"[" + b",".join(encoded) + b"]")
    result = _augmenter.augment([e for e in events if isinstance(e, CommandEvent | ErrorEvent)])
    result.rejected.clear()  # only counted in the QC reports: no need to send them back
    return result


class AugmentationProcess:
    """One child process that augments batches submitted in order."""

    def __init__(self, settings: AugmentationSettings) -> None:
        self._settings = settings.model_dump()
        self._pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_start_child, initargs=(self._settings,))

    def submit(self, encoded: list[bytes]) -> Future[AugmentationResult]:
        """Start augmenting these clean command/error events (their JSON)."""
        try:
            return self._pool.submit(_augment, encoded)
        except BrokenProcessPool:
            self._replace()
            return self._pool.submit(_augment, encoded)

    def result(self, pending: Future[AugmentationResult], encoded: list[bytes]
               ) -> AugmentationResult:
        """Wait for a submitted batch; resubmit it once if the child died meanwhile."""
        try:
            return pending.result()
        except BrokenProcessPool:
            log.warning("augmentation child died; starting another and resubmitting the batch")
            self._replace()
            return self._pool.submit(_augment, encoded).result()

    def _replace(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._pool = self._new_pool()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
