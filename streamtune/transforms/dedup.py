"""Tell replays and reused ids from new events, by ``event_id`` within a horizon.

Kept in memory per worker: events of one session share a partition, so a
producer's resend reaches the worker that saw the original. A restarted
worker starts empty; the store's ``event_id`` identity still folds any
replay that slips through.

An id seen again with the same bytes is a replay; with other bytes it is a
conflict (an id reused for a different event), which the batch dead-letters.

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
from collections import OrderedDict
from collections.abc import Hashable


class Seen(enum.Enum):
    """What an id with its content is, against the ids seen within the horizon."""

    NEW = "new"
    REPLAY = "replay"
    CONFLICT = "conflict"


class RecentIds:
    """Remembers ids and a digest of their content for ``horizon_s`` seconds, at most
    ``max_ids`` of them (oldest go first)."""

    def __init__(self, *, horizon_s: float, max_ids: int) -> None:
        self.horizon_s = horizon_s
        self.max_ids = max_ids
        self._seen: OrderedDict[Hashable, tuple[float, int]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._seen)

    def see(self, event_id: Hashable, digest: int, *, now: float) -> Seen:
        """Classify ``event_id`` (a string, or a UUID's ``int``: cheaper) with its content
        ``digest``; a new one is remembered."""
        seen = self._seen.get(event_id)
        if seen is not None and now - seen[0] <= self.horizon_s:
            return Seen.REPLAY if seen[1] == digest else Seen.CONFLICT
        self._seen[event_id] = (now, digest)
        self._seen.move_to_end(event_id)
        self._expire(now)
        return Seen.NEW

    def _expire(self, now: float) -> None:
        seen = self._seen
        while seen:
            oldest_id, (oldest_at, _) = next(iter(seen.items()))
            if len(seen) > self.max_ids or now - oldest_at > self.horizon_s:
                seen.popitem(last=False)
            else:
                break
