"""Drop events whose ``event_id`` was seen within a horizon.

Kept in memory per worker: events of one session share a partition, so a
producer's resend reaches the worker that saw the original. A restarted
worker starts empty; the store's ``event_id`` identity still folds any
duplicate that slips through.

Examples
--------
>>> seen = RecentIds(horizon_s=60, max_ids=10)
>>> seen.first_time("a", now=0.0), seen.first_time("a", now=1.0), seen.first_time("a", now=90.0)
(True, False, True)
"""

from __future__ import annotations

from collections import OrderedDict


class RecentIds:
    """Remembers ids for ``horizon_s`` seconds, at most ``max_ids`` of them (oldest go first)."""

    def __init__(self, *, horizon_s: float, max_ids: int) -> None:
        self.horizon_s = horizon_s
        self.max_ids = max_ids
        self._seen: OrderedDict[str, float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._seen)

    def first_time(self, event_id: str, *, now: float) -> bool:
        """True when ``event_id`` was not seen within the horizon; records it."""
        seen_at = self._seen.get(event_id)
        if seen_at is not None and now - seen_at <= self.horizon_s:
            return False
        self._seen[event_id] = now
        self._seen.move_to_end(event_id)
        self._expire(now)
        return True

    def _expire(self, now: float) -> None:
        seen = self._seen
        while seen:
            oldest_id, oldest_at = next(iter(seen.items()))
            if len(seen) > self.max_ids or now - oldest_at > self.horizon_s:
                seen.popitem(last=False)
            else:
                break
