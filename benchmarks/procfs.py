"""CPU time and memory of processes and threads, read from ``/proc`` (shared by the benchmarks)."""

from __future__ import annotations

import contextlib
from pathlib import Path


def stat_fields(path: Path) -> list[str]:
    """The fields after the command name of a ``/proc/.../stat`` file; [] once it is gone."""
    try:
        return path.read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return []


def ticks(stat: list[str]) -> int:
    """CPU clock ticks (user + system) in a stat line's fields; 0 for a process gone."""
    return int(stat[11]) + int(stat[12]) if stat else 0


def thread_ticks(process: int | str) -> list[tuple[str, str, int]]:
    """(thread id, name, CPU ticks) of each thread of ``/proc/<process>`` (a pid or
    ``"self"``) still there when read."""
    found = []
    for task in Path(f"/proc/{process}/task").iterdir():
        with contextlib.suppress(OSError):  # a thread gone meanwhile
            found.append((task.name, (task / "comm").read_text().strip(),
                          ticks(stat_fields(task / "stat"))))
    return found


def status_mb(process: int | str, field: str) -> float:
    """A memory field of ``/proc/<process>/status`` (``VmHWM``, ``RssAnon``...) in MB;
    ``process``: a pid or ``"self"``."""
    status = Path(f"/proc/{process}/status").read_text()
    line = next(x for x in status.splitlines() if x.startswith(field + ":"))
    return int(line.split()[1]) / 1024


def group_ticks(pgid: int) -> int:
    """CPU ticks of every process in a process group (the dev broker runs as one)."""
    total = 0
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit() and (stat := stat_fields(proc / "stat")) and int(stat[2]) == pgid:
            total += ticks(stat)
    return total
