"""Event-time order across batches, for the drift detectors.

A batch holds what the consumer happened to fetch. Working off a backlog, or
against a broker that answers partition by partition, one batch may hold a
minute of commands and the next the errors of the same minute. The error-rate
stream mixes both (0 per command, 1 per error), so fed batch by batch it would
see runs of 0s and then of 1s, and a detector reads that as drift.

:class:`EventTimeOrder` holds items back until every source partition still
delivering has got past them (the watermark: the least of the partitions'
latest event times), then releases them in event-time order. A partition that
delivered nothing for ``idle_s`` stops holding the others back, and at most
``max_items`` are held (beyond that the oldest go first), so a stalled
partition delays detection by at most ``idle_s`` and costs bounded memory (less with
``slim``, which replaces each item still held after a release by a lighter copy).
Partitions just assigned are announced with :meth:`EventTimeOrder.expect`:
until they deliver or go idle, the first records of the others wait for them.
The same holds after a lull: when every partition has gone idle, the first
delivery after it waits (``idle_s`` at most) for the others, which are about to
deliver the same minutes; without that, a quiet spell followed by a batch of one
topic would be fed before the other topic's share of the same minutes.
"""

from __future__ import annotations

import heapq
import math
import time
from collections.abc import Callable, Hashable, Iterable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class EventTimeOrder(Generic[T]):
    """Reorder items by event time (epoch seconds) under a per-source watermark."""

    def __init__(self, *, idle_s: float, max_items: int,
                 slim: Callable[[T], T] | None = None) -> None:
        if idle_s <= 0 or max_items < 1:
            raise ValueError("idle_s must be > 0 and max_items >= 1")
        self.idle_s = idle_s
        self.max_items = max_items
        self.slim = slim
        """Applied once to each item still held after the release that followed its
        arrival: what a long hold keeps (items released at once are never slimmed)."""
        self._held: list[tuple[float, int, Hashable, T]] = []
        """(event time, arrival number, source, item), a heap."""
        self._arrivals = 0
        """Items added so far: the next one's arrival number (equal times keep their order)."""
        self._unslimmed_from = 0
        """The arrival number of the first item not slimmed yet."""
        self._sources: dict[Hashable, tuple[float, float]] = {}
        """source -> (latest event time it delivered, monotonic time it last delivered)."""

    def __len__(self) -> int:
        return len(self._held)

    def expect(self, sources: Iterable[Hashable], *, now: float | None = None) -> None:
        """Sources about to deliver (e.g. partitions just assigned): until they do, or go
        idle, they hold back what the others delivered."""
        now = time.monotonic() if now is None else now
        for source in sources:
            if source not in self._sources:
                self._sources[source] = (-math.inf, now)

    def add(self, items: Iterable[tuple[float, Hashable, T]], *,
            now: float | None = None) -> None:
        """Hold ``(event time, source, item)`` triples until the watermark passes them."""
        now = time.monotonic() if now is None else now
        sources, arrival = self._sources, self._arrivals
        lull = bool(sources) and all(now - seen >= self.idle_s for _, seen in sources.values())
        try:
            for at, source, item in items:
                if lull:  # the first delivery after a lull: expect every source again
                    for name, (reached, _) in list(sources.items()):
                        sources[name] = (reached, now)
                    lull = False
                latest = sources.get(source)
                sources[source] = (at if latest is None else max(latest[0], at), now)
                heapq.heappush(self._held, (at, arrival, source, item))
                arrival += 1
        finally:  # also when ``items`` fails midway: every number is given once
            self._arrivals = arrival

    def watermark(self, *, now: float | None = None) -> float:
        """The event time every source still delivering has reached (inf when all are idle)."""
        now = time.monotonic() if now is None else now
        active = [latest for latest, seen in self._sources.values() if now - seen < self.idle_s]
        return min(active, default=math.inf)

    def release(self, *, now: float | None = None) -> list[T]:
        """The held items the watermark has passed (and any over ``max_items``), oldest first."""
        mark = self.watermark(now=now)
        held, out = self._held, []
        while held and (held[0][0] <= mark or len(held) > self.max_items):
            out.append(heapq.heappop(held)[3])
        if self.slim is not None:
            self._slim(self.slim)
        return out

    def _slim(self, slim: Callable[[T], T]) -> None:
        """Slim the held items that arrived since the last release (their keys unchanged,
        so the heap stays a heap); no scan when none did (idle polls release too)."""
        held, first = self._held, self._unslimmed_from
        if first == self._arrivals:
            return
        for i, (at, arrival, source, item) in enumerate(held):
            if arrival >= first:
                held[i] = (at, arrival, source, slim(item))
        self._unslimmed_from = self._arrivals

    def items(self) -> Iterator[T]:
        """The held items, in no particular order."""
        return (item for _, _, _, item in self._held)

    def forget(self, sources: Iterable[Hashable]) -> None:
        """Stop waiting for ``sources`` (partitions revoked) and drop the items held from
        them (their next owner reads them again)."""
        gone = set(sources)
        for source in gone:
            self._sources.pop(source, None)
        kept = [entry for entry in self._held if entry[2] not in gone]
        if len(kept) < len(self._held):
            self._held = kept
            heapq.heapify(kept)

    def drain(self) -> list[T]:
        """Every held item, oldest first (at shutdown)."""
        out = [item for _, _, _, item in sorted(self._held)]
        self._held.clear()
        return out
