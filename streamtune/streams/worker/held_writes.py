"""The window agent's table writes, held per window-deltas partition until its next tick.

Every write to the faust table is a changelog record: an encoding, a future and a
send on the faust loop. A window used to be written on every deltas record that
touched it and again when it closed; in a backlog (event time running minutes a
second) that is three or four changelog records a window, and the faust loop spent
about half its time producing them (py-spy of a worker working off 200,000
events). Held until the partition's next tick (every second), a window is
written once however many records changed it, and once more when it is forgotten.

The agent's progress marker is held too and written last, so whatever the
changelog holds is still the effect of the records up to its marker. Writes that
were held when the worker stopped or crashed are redone from the window-deltas
log: the restarted agent finds the marker behind the records faust hands it and
reads the ones in between back (``WindowAgent.handle``).
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from typing import Any

_DELETED = object()


class HeldWrites:
    """Table writes held per window-deltas partition, read through before the table."""

    def __init__(self, table: MutableMapping[str, Any]) -> None:
        self.table = table
        self._held: dict[int, dict[str, Any]] = {}

    def get(self, partition: int, key: str) -> tuple[bool, Any]:
        """``(True, value)`` when a write of ``key`` is held (``None``: a deletion), else
        ``(False, None)``: the table holds what is current."""
        held = self._held.get(partition)
        if held is None or key not in held:
            return False, None
        value = held[key]
        return True, None if value is _DELETED else value

    def current(self, partition: int, key: str) -> Any:
        """``key``'s value with the held writes applied (``None``: none)."""
        found, value = self.get(partition, key)
        return value if found else self.table.get(key)

    def set(self, partition: int, key: str, value: Any) -> None:
        self._held.setdefault(partition, {})[key] = value

    def delete(self, partition: int, key: str) -> None:
        self._held.setdefault(partition, {})[key] = _DELETED

    def count(self, partition: int) -> int:
        """Writes held for ``partition``."""
        return len(self._held.get(partition, ()))

    def write(self, partition: int, encode: Callable[[str, Any], Any],
              last: tuple[str, Any]) -> None:
        """Write ``partition``'s held writes to the table in the order they were made
        (``encode(key, value)`` gives the table value), then ``last`` (the marker)."""
        table = self.table
        for key, value in self._held.pop(partition, {}).items():
            if key == last[0]:
                continue
            if value is not _DELETED:
                table[key] = encode(key, value)
            elif key in table:  # a key set and deleted between two ticks (late arrivals) is not
                del table[key]
        table[last[0]] = last[1]

    def drop(self) -> None:
        """Forget every held write (the table was restored under them)."""
        self._held.clear()
