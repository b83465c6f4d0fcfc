"""``paced`` releases items at a steady rate; ``produce --rate`` rejects what it cannot do."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from streamtune.streams.kafka.sending import paced
from tests.unit.test_cli import run_cli


def test_paced_holds_the_rate() -> None:
    started = time.perf_counter()
    released = []
    for item in paced(range(41), 200.0):
        released.append((item, time.perf_counter() - started))
    assert [item for item, _ in released] == list(range(41))
    # item i is due at i / 200 s: never early, and late by a few ms at most
    assert all(at >= i / 200 - 1e-4 for i, at in released)
    assert released[-1][1] < 40 / 200 + 0.1


def test_paced_catches_up_after_a_stall() -> None:
    started = time.perf_counter()
    stamps = []
    for i in paced(range(21), 100.0):
        if i == 5:
            time.sleep(0.08)  # a slow send: items 6-13 (due by 130 ms) are overdue
        stamps.append(time.perf_counter() - started)
    # they go out at once (a gap-keeping pacer would need 80 + 8 * 10 ms)
    assert stamps[13] - stamps[5] < 0.12
    assert 0.2 - 1e-4 <= stamps[-1] < 0.3


def test_rate_zero_does_not_wait() -> None:
    started = time.perf_counter()
    assert sum(paced(range(100_000), 0)) == sum(range(100_000))
    assert time.perf_counter() - started < 1.0


def test_negative_rate_is_refused() -> None:
    with pytest.raises(ValueError, match="rate must be >= 0"):
        list(paced([1], -1))


@pytest.mark.parametrize("args", [
    ["produce", "--synthetic", "10", "--rate", "-5"],
    ["produce", "--file", "events.jsonl", "--rate", "10"],
])
def test_produce_rejects_a_bad_rate(tmp_path: Path, args: list[str]) -> None:
    result = run_cli(*args, cwd=tmp_path)
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == ["error: --rate takes events/s >= 0 and goes with --synthetic N"]
