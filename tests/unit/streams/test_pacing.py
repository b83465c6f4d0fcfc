"""``paced`` releases items at a steady rate; ``produce --rate`` rejects what it cannot do."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamtune.streams.kafka import sending
from streamtune.streams.kafka.sending import paced
from tests.support.cli import run_cli


class FakeClock:
    """``time`` for ``paced``: ``perf_counter`` reads it, ``sleep`` advances it (and counts).

    The pacer's schedule is checked exactly, with no wall clock to flake under load.
    """

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def perf_counter(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds > 0
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(sending, "time", fake)
    return fake


def test_paced_holds_the_rate(clock: FakeClock) -> None:
    started = clock.now
    released = [(item, clock.now - started) for item in paced(range(41), 200.0)]
    assert [item for item, _ in released] == list(range(41))
    # item i is released at i / 200 s: never early, never late
    assert all(at == pytest.approx(i / 200, abs=1e-9) for i, at in released)


def test_paced_catches_up_after_a_stall(clock: FakeClock) -> None:
    started = clock.now
    stamps = []
    for i in paced(range(21), 100.0):
        if i == 5:
            clock.sleep(0.08)  # a slow send: items 6-13 (due by 130 ms) are overdue
        stamps.append(clock.now - started)
    # they go out at once, without a wait (a gap-keeping pacer would need 80 + 8 * 10 ms)
    assert stamps[5:14] == [pytest.approx(0.13)] * 9
    assert stamps[14] == pytest.approx(0.14)  # then the schedule again: the rate holds
    assert stamps[-1] == pytest.approx(0.2)


def test_rate_zero_does_not_wait(clock: FakeClock) -> None:
    assert sum(paced(range(100_000), 0)) == sum(range(100_000))
    assert clock.sleeps == []


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
