"""Tell replays and reused ids from new events, by ``event_id`` within a horizon.

Kept in memory per worker: events of one session share a partition, so a
producer's resend reaches the worker that saw the original. A restarted
worker starts empty; the store's ``event_id`` identity still folds any
replay that slips through.

An id seen again with the same bytes is a replay; with other bytes it is a
conflict (an id reused for a different event), which the batch dead-letters.

Memory: a worker remembers up to ``pipeline.dedup_max_ids`` ids (a million by
default, reached within the horizon above ~280 events/s), so each is kept small,
~120 bytes (``benchmarks/memory.py``): the id's int, one int packing when it was
seen with its content digest, a dict slot and a slot in the arrival queue (a
tuple per id in an ``OrderedDict`` took ~210).

Examples
--------
>>> seen = RecentIds(horizon_s=60, max_ids=10)
>>> [seen.see("a", 1, now=t).name for t in (0.0, 1.0, 90.0)]
['NEW', 'REPLAY', 'NEW']
>>> seen.see("a", 2, now=91.0).name
'CONFLICT'
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Hashable

_DIGEST_BITS = 64
_DIGEST_MASK = (1 << _DIGEST_BITS) - 1


class Seen(enum.Enum):
    """What an id with its content is, against the ids seen within the horizon."""

    NEW = "new"
    REPLAY = "replay"
    CONFLICT = "conflict"


class RecentIds:
    """Remembers ids and a digest of their content for ``horizon_s`` seconds, at most
    ``max_ids`` of them (oldest go first). ``now`` must not go back (a monotonic clock)."""

    def __init__(self, *, horizon_s: float, max_ids: int) -> None:
        self.horizon_s = horizon_s
        self.max_ids = max_ids
        self._horizon_ms = round(horizon_s * 1000)
        self._seen: dict[Hashable, int] = {}
        """id -> when it was seen (ms) above the low 64 bits, its content digest in them."""
        self._arrivals: deque[Hashable] = deque()
        """The remembered ids, oldest first (each once)."""

    def __len__(self) -> int:
        return len(self._seen)

    def see(self, event_id: Hashable, digest: int, *, now: float) -> Seen:
        """Classify ``event_id`` (a string, or a UUID's ``int``: cheaper) with its content
        ``digest`` (64 bits of it count); a new one is remembered."""
        when = int(now * 1000)
        self._forget_before(when - self._horizon_ms)
        digest &= _DIGEST_MASK
        packed = self._seen.get(event_id)
        if packed is not None and when - (packed >> _DIGEST_BITS) <= self._horizon_ms:
            return Seen.REPLAY if packed & _DIGEST_MASK == digest else Seen.CONFLICT
        if packed is None:  # else it stays where it arrived first: forgotten a bit early
            self._arrivals.append(event_id)
        self._seen[event_id] = (when << _DIGEST_BITS) | digest
        if len(self._seen) > self.max_ids:
            del self._seen[self._arrivals.popleft()]
        return Seen.NEW

    def _forget_before(self, oldest_ms: int) -> None:
        seen, arrivals = self._seen, self._arrivals
        while arrivals and seen[arrivals[0]] >> _DIGEST_BITS < oldest_ms:
            del seen[arrivals.popleft()]
