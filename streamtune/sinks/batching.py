"""The batching base every sink subclasses: buffer, then write only on flush.

``flush`` retries a failing write with exponential back-off and jitter for
as long as ``keep_trying()`` says so — the caller holds its offsets until
``flush`` returns, so a store outage stops consumption instead of losing or
buffering without bound.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

from streamtune.errors import StoreUnavailable

log = logging.getLogger(__name__)
T = TypeVar("T")


class SinkUnavailable(StoreUnavailable):
    """The sink gave up before its buffer was written; nothing may be committed."""


class BatchingSink(ABC, Generic[T]):
    """Buffer items and write them in one go on :meth:`flush`.

    Parameters
    ----------
    retry_initial_s, retry_max_s
        Back-off bounds between failed write attempts.
    """

    def __init__(self, *, retry_initial_s: float = 0.2, retry_max_s: float = 10.0) -> None:
        self.retry_initial_s = retry_initial_s
        self.retry_max_s = retry_max_s
        self._buffer: list[T] = []
        self._rng = random.Random()  # noqa: S311 - jitter, not security

    def __len__(self) -> int:
        return len(self._buffer)

    def add(self, items: Iterable[T]) -> None:
        """Buffer items; nothing is written yet."""
        self._buffer.extend(items)

    @abstractmethod
    def write(self, items: list[T]) -> None:
        """Write ``items`` durably or raise :class:`StoreUnavailable`."""

    def flush(
        self,
        *,
        keep_trying: Callable[[], bool] = lambda: True,
        on_failure: Callable[[int, Exception], None] | None = None,
        wait: Callable[[float], None] = time.sleep,
    ) -> int:
        """Write the buffer; retry until it is written or ``keep_trying()`` turns False.

        Returns the number of items written. Raises :class:`SinkUnavailable`
        when it gave up; the buffer is kept for a later flush.
        """
        if not self._buffer:
            return 0
        delay = self.retry_initial_s
        attempt = 0
        while True:
            attempt += 1
            try:
                self.write(self._buffer)
                break
            except StoreUnavailable as exc:
                if on_failure:
                    on_failure(attempt, exc)
                log.warning("sink write failed (attempt %d), retrying in %.1f s: %s",
                            attempt, delay, exc)
                if not keep_trying():
                    raise SinkUnavailable(f"gave up after {attempt} attempts: {exc}") from exc
                wait(delay * (0.5 + self._rng.random()))
                delay = min(delay * 2, self.retry_max_s)
        written = len(self._buffer)
        self._buffer = []
        return written


def grace_after(stop: threading.Event, grace_s: float) -> Callable[[], bool]:
    """A ``keep_trying`` for :meth:`BatchingSink.flush`: yes until ``stop`` is set, then
    for ``grace_s`` seconds more."""
    give_up_at: float | None = None

    def keep_trying() -> bool:
        nonlocal give_up_at
        if not stop.is_set():
            return True
        if give_up_at is None:
            give_up_at = time.monotonic() + grace_s
        return time.monotonic() < give_up_at
    return keep_trying
