"""Which windows each window-deltas partition holds, so a tick reads its own only.

A tick used to walk the whole ``windows`` table: every partition's windows, an
hour of closed ones each (``benchmarks/window_tick.py``: ~4 ms per tick for 100
(source, command type) pairs, six ticks a second). The index keeps, per
partition, the open windows, the closed ones due for a rewrite, and the closed
ones by start time, for forgetting (the heap may name a window twice, or one gone
already: forgetting checks each against the window's state). The agent's own
writes keep it; anything else that changes the table (faust's recovery after a
rebalance) makes it stale, and it is built again from the table.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from streamtune.streams.worker.windows import WindowKey, WindowState, is_window_key


@dataclass
class PartitionWindows:
    """One partition's windows: open, due for a rewrite, and closed (by start)."""

    open: set[str] = field(default_factory=set)
    rewrite: set[str] = field(default_factory=set)
    closed: list[tuple[int, str]] = field(default_factory=list)
    """A heap of (window start in ms, table key); a key may be in it more than once."""

    def add_closed(self, table_key: str) -> None:
        heapq.heappush(self.closed, (WindowKey.parse(table_key).start_ms, table_key))

    def pop_closed_before(self, start_ms: int) -> list[str]:
        """Take out the closed windows that start before ``start_ms``."""
        taken: list[str] = []
        while self.closed and self.closed[0][0] < start_ms:
            taken.append(heapq.heappop(self.closed)[1])
        return taken


class WindowIndex:
    """Per window-deltas partition, its windows in the table (see the module)."""

    def __init__(self) -> None:
        self._partitions: dict[int, PartitionWindows] = {}
        self._table_size = -1
        self._stale = True

    def mark_stale(self) -> None:
        """Something other than the agent changed the table: build again before use."""
        self._stale = True

    def refresh(self, table: Mapping[str, Any]) -> bool:
        """Build the index again if it is stale, or if the table's size is not the one
        :meth:`seen` last recorded (the agent's writes are all followed by :meth:`seen`);
        whether it was built again."""
        if not self._stale and len(table) == self._table_size:
            return False
        self._partitions = {}
        for table_key, raw in table.items():
            if is_window_key(table_key):
                windows = self.partition(int(raw["partition"]))
                if not raw["closed"]:
                    windows.open.add(table_key)
                    continue
                if raw.get("rewrite"):
                    windows.rewrite.add(table_key)
                windows.add_closed(table_key)
        self._stale = False
        self.seen(table)
        return True

    def seen(self, table: Mapping[str, Any]) -> None:
        """Record the table's size after the agent's own writes."""
        self._table_size = len(table)

    def partition(self, partition: int) -> PartitionWindows:
        windows = self._partitions.get(partition)
        if windows is None:
            windows = self._partitions[partition] = PartitionWindows()
        return windows

    def changed(self, table_key: str, state: WindowState) -> None:
        """The agent set ``state`` for ``table_key`` (held, then written at the tick)."""
        windows = self.partition(state.partition)
        if not state.closed:
            windows.open.add(table_key)
        elif state.rewrite:
            windows.rewrite.add(table_key)

    def open_count(self) -> int:
        """Windows open in every partition, as far as the index knows."""
        return sum(len(windows.open) for windows in self._partitions.values())
