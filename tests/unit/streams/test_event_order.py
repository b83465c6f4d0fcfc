"""Event-time order across batches for the drift detectors (``streams/live/event_order.py``)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from streamtune.schemas.events import CommandEvent, ErrorEvent, Event
from streamtune.streams.live.event_order import EventTimeOrder
from streamtune.streams.live.signals import Watch
from tests.support.settings import make_settings

COMMANDS, ERRORS = ("raw.commands", 0), ("raw.errors", 0)


def test_items_wait_until_every_delivering_source_has_passed_them() -> None:
    order: EventTimeOrder[str] = EventTimeOrder(idle_s=5.0, max_items=100)
    order.add([(float(t), "a", f"a{t}") for t in range(10)], now=0.0)
    order.add([(t + 0.5, "b", f"b{t}") for t in range(3)], now=0.0)
    assert order.release(now=1.0) == ["a0", "b0", "a1", "b1", "a2", "b2"]
    order.add([(t + 0.5, "b", f"b{t}") for t in range(3, 12)], now=1.0)
    assert order.release(now=1.0) == [
        *(x for t in range(3, 9) for x in (f"a{t}", f"b{t}")), "a9"]
    assert len(order) == 3  # b9 to b11 wait for a


def test_items_held_past_a_release_are_slimmed_once_and_keep_their_order() -> None:
    slimmed: list[str] = []

    def slim(item: str) -> str:
        slimmed.append(item)
        return item.upper()

    order: EventTimeOrder[str] = EventTimeOrder(idle_s=5.0, max_items=100, slim=slim)
    order.add([(float(t), "a", f"a{t}") for t in range(4)], now=0.0)
    order.add([(t + 0.5, "b", f"b{t}") for t in range(2)], now=0.0)
    assert order.release(now=0.0) == ["a0", "b0", "a1", "b1"]  # released at once: as they came
    assert sorted(slimmed) == ["a2", "a3"]
    order.add([(t + 0.5, "b", f"b{t}") for t in range(2, 6)], now=0.0)
    assert order.release(now=0.0) == ["A2", "b2", "A3"]
    assert sorted(slimmed) == ["a2", "a3", "b3", "b4", "b5"]  # each once, only while held
    assert order.drain() == ["B3", "B4", "B5"]


def test_a_silent_source_stops_holding_the_others_back() -> None:
    order: EventTimeOrder[str] = EventTimeOrder(idle_s=2.0, max_items=100)
    order.add([(0.0, "b", "b0")], now=0.0)
    order.add([(1.0, "a", "a1"), (2.0, "a", "a2")], now=1.5)
    assert order.release(now=1.9) == ["b0"]
    assert order.release(now=2.1) == ["a1", "a2"]  # b idle for 2.1 s


def test_at_most_max_items_are_held_and_drain_gives_the_rest_in_order() -> None:
    order: EventTimeOrder[str] = EventTimeOrder(idle_s=60.0, max_items=3)
    order.add([(0.0, "slow", "s0")], now=0.0)
    order.add([(float(t), "fast", f"f{t}") for t in (5, 3, 1, 4, 2)], now=0.0)
    assert order.release(now=0.0) == ["s0", "f1", "f2"]
    assert order.drain() == ["f3", "f4", "f5"]
    assert len(order) == 0


def test_an_expected_source_holds_the_others_back_until_it_delivers_or_goes_idle() -> None:
    order: EventTimeOrder[str] = EventTimeOrder(idle_s=2.0, max_items=100)
    order.expect(["a", "b"], now=0.0)
    order.add([(5.0, "a", "a5")], now=0.5)
    assert order.release(now=1.0) == []
    order.add([(4.0, "b", "b4")], now=1.0)
    assert order.release(now=1.0) == ["b4"]
    order.expect(["a", "c"], now=1.0)  # a is known: expecting it again changes nothing
    order.add([(7.0, "b", "b7")], now=1.0)
    assert order.release(now=1.0) == []
    assert order.release(now=3.1) == ["a5", "b7"]  # c never delivered


def test_a_forgotten_source_holds_nothing_back_and_its_items_are_dropped() -> None:
    order: EventTimeOrder[str] = EventTimeOrder(idle_s=60.0, max_items=100)
    order.add([(float(t), "a", f"a{t}") for t in (5, 1, 3)], now=0.0)
    order.add([(t + 0.5, "b", f"b{t}") for t in (4, 2)], now=0.0)
    order.expect(["c"], now=0.0)
    assert order.release(now=1.0) == []  # c expected: everything waits for it
    order.forget(["a", "c"])
    assert sorted(order.items()) == ["b2", "b4"]  # a's items went; b's stay
    assert order.release(now=1.0) == ["b2", "b4"]  # b alone delivers now: its own mark
    assert len(order) == 0


def test_equal_times_keep_their_arrival_order_and_bad_limits_are_refused() -> None:
    order: EventTimeOrder[str] = EventTimeOrder(idle_s=1.0, max_items=10)
    order.add([(1.0, "a", x) for x in "xyz"], now=0.0)
    assert order.release(now=0.0) == ["x", "y", "z"]
    with pytest.raises(ValueError, match="idle_s"):
        EventTimeOrder(idle_s=0, max_items=1)


def _stationary_slices(seconds: int = 600) -> list[tuple[list[Event], list[tuple[str, int]]]]:
    """A 10 % error rate, steady over time, delivered as the consumer may fetch it:
    a minute of commands in one batch, the same minute's errors in the next."""
    rng = random.Random(7)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    batches: list[tuple[list[Event], list[tuple[str, int]]]] = []
    for minute in range(seconds // 60):
        commands: list[Event] = []
        errors: list[Event] = []
        for i in range(600):
            at = t0 + timedelta(seconds=minute * 60 + i / 10)
            if rng.random() < 0.1:
                errors.append(ErrorEvent(
                    event_time=at, source="plant", session_id="s", error_type="timeout",
                    error_message="valve v1 did not answer", failed_command={},
                    success_indicator=False))
            else:
                commands.append(CommandEvent(
                    event_time=at, source="plant", session_id="s", raw_input="open valve v1",
                    command_type="open_valve", success=True, execution_time=0.2))
        batches += [(commands, [COMMANDS] * len(commands)), (errors, [ERRORS] * len(errors))]
    return batches


def _error_alerts(tmp_path: Path, **detection: object) -> int:
    watch = Watch(make_settings(tmp_path, detection=detection), source="w1")
    watch.expect([COMMANDS, ERRORS], now=0.0)  # as the ingest loop does on assignment
    alerts = []
    for events, sources in _stationary_slices():
        alerts += watch.observe(events, sources=sources, now=0.0)
    alerts += watch.drain()
    return sum(1 for a in alerts if a.signal == "error")


def test_topic_by_topic_batches_raise_no_error_rate_drift(tmp_path: Path) -> None:
    # without order across batches (one event held at most) the error-rate stream is
    # runs of 0s and 1s, and the detector reads that as drift; in event-time order it
    # is the steady 10 % it is
    assert _error_alerts(tmp_path / "unordered", reorder_max_events=1) >= 1
    assert _error_alerts(tmp_path / "ordered") == 0


def test_after_a_lull_the_first_delivery_waits_for_the_other_sources() -> None:
    order: EventTimeOrder[str] = EventTimeOrder(idle_s=2.0, max_items=100)
    order.add([(0.0, "a", "a0"), (0.0, "b", "b0")], now=0.0)
    assert order.release(now=0.0) == ["a0", "b0"]
    order.add([(float(t), "a", f"a{t}") for t in (1, 3)], now=10.0)  # b idle, as a was
    assert order.release(now=10.0) == []  # b is about to deliver the same seconds
    order.add([(2.0, "b", "b2")], now=10.5)
    assert order.release(now=10.5) == ["a1", "b2"]
    order.add([], now=20.0)  # no delivery: the sources stay idle
    assert order.release(now=20.0) == ["a3"]


def test_topic_by_topic_batches_after_lulls_raise_no_error_rate_drift(tmp_path: Path) -> None:
    # live traffic in bursts: each minute's commands, then its errors a moment later,
    # after a quiet spell longer than reorder_idle_s
    def alerts(**detection: object) -> int:
        watch = Watch(make_settings(tmp_path / str(detection), detection=detection),
                      source="w1")
        watch.expect([COMMANDS, ERRORS], now=0.0)
        raised = []
        for i, (events, sources) in enumerate(_stationary_slices()):
            raised += watch.observe(events, sources=sources, now=10.0 * (i // 2) + 0.1 * (i % 2))
        raised += watch.drain()
        return sum(1 for a in raised if a.signal == "error")
    assert alerts(reorder_idle_s=20.0) == 0  # lulls shorter than the idle time
    assert alerts() == 0
