"""The records Kafka acknowledged lately, kept in case a dying broker lost them."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class ReplayWindow(Generic[T]):
    """The records acknowledged in the last ``seconds`` of time Kafka was reachable.

    A broker killed outright comes back without what it acknowledged since its last
    save (the dev broker saves about once a second). The window's clock stops while
    Kafka is away: an outage longer than the window, followed by a first acknowledgement
    from the restarted broker, must not age out the records acknowledged just before it.
    """

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self._records: deque[tuple[float, T]] = deque()
        self._away_since: float | None = None
        self._away_total = 0.0

    def _now(self) -> float:
        """Seconds Kafka was reachable (up to an arbitrary origin)."""
        now = self._clock() if self._away_since is None else self._away_since
        return now - self._away_total

    def away(self) -> None:
        """Kafka became unreachable: the window stops ageing."""
        if self._away_since is None:
            self._away_since = self._clock()

    def back(self) -> None:
        """Kafka answers again: the window ages again."""
        if self._away_since is not None:
            self._away_total += self._clock() - self._away_since
            self._away_since = None

    def acknowledged(self, record: T) -> None:
        """Keep ``record``, and drop those older than the window."""
        now = self._now()
        self._records.append((now, record))
        while self._records[0][0] < now - self.seconds:
            self._records.popleft()

    def take(self, which: Callable[[T], bool] | None = None) -> list[T]:
        """The records in the window (``which``: those it is true of), oldest first; they
        leave the window."""
        taken: list[T] = []
        kept: deque[tuple[float, T]] = deque()
        for entry in self._records:
            if which is None or which(entry[1]):
                taken.append(entry[1])
            else:
                kept.append(entry)
        self._records = kept
        return taken

    def __len__(self) -> int:
        return len(self._records)
