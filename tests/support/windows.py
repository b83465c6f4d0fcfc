"""One-minute windows recomputed from the stored rows, checked against the stored windows."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from typing import Any


def recompute_windows(rows: list[list[Any]], window_s: int) -> dict[tuple[str, int], dict]:
    grouped: dict[tuple[str, int], dict] = defaultdict(lambda: {"n": 0, "ok": 0, "times": []})
    for command_type, epoch_ms, success, seconds in rows:
        start = int(epoch_ms) - int(epoch_ms) % (window_s * 1000)
        cell = grouped[(command_type, start)]
        cell["n"] += 1
        cell["ok"] += int(success)
        cell["times"].append(float(seconds))
    return grouped


def check_windows(store: dict[str, list[list[Any]]], window_s: int = 60) -> None:
    expected = recompute_windows(store["command_rows"], window_s)
    got = {(row[0], int(row[1])): row[2:] for row in store["command_windows"]}
    assert set(got) == set(expected)
    for key, cell in expected.items():
        events, successes, p50, p95 = got[key]
        assert (events, successes) == (cell["n"], cell["ok"]), key
        times = sorted(cell["times"])
        for q, value in ((0.5, p50), (0.95, p95)):
            exact = times[math.floor(q * (len(times) - 1))]
            assert abs(value - exact) <= 0.011 * exact + 1e-4, (key, q, value, exact)
    errors_expected = Counter((r[0], r[1]) for r in store["error_rows"])
    errors_got: Counter[tuple[str, str]] = Counter()
    for command_type, by_type in store["error_windows"]:
        for error_type, count in (by_type.items() if isinstance(by_type, dict) else by_type):
            errors_got[(command_type, error_type)] += count
    assert errors_got == errors_expected


WINDOW_QUERIES = {
    "command_rows": "SELECT command_type, toUnixTimestamp64Milli(event_time), success, "
                    "execution_time FROM streamtune.commands FINAL",
    "command_windows": "SELECT command_type, toUnixTimestamp64Milli(window_start), events, "
                       "successes, execution_time_p50, execution_time_p95 "
                       "FROM streamtune.aggregates FINAL WHERE source = 'commands' "
                       "AND command_type != ''",
    "error_rows": "SELECT JSONExtractString(failed_command, 'command_type'), error_type "
                  "FROM streamtune.errors FINAL",
    "error_windows": "SELECT command_type, errors_by_type FROM streamtune.aggregates FINAL "
                     "WHERE source = 'errors'",
}
