"""The producer's replay window keeps what a killed broker may have lost, outages aside."""

from __future__ import annotations

from streamtune.streams.kafka.replay_window import ReplayWindow


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_records_older_than_the_window_are_dropped() -> None:
    clock = Clock()
    window: ReplayWindow[str] = ReplayWindow(5.0, clock)
    for name in ("a", "b", "c"):
        window.acknowledged(name)
        clock.now += 2.0
    window.acknowledged("d")  # 6 s after "a", 4 s after "b"
    assert window.take() == ["b", "c", "d"]
    assert window.take() == []


def test_an_outage_longer_than_the_window_does_not_age_out_what_came_before_it() -> None:
    """Acknowledged, then Kafka killed for 8 s; the restarted broker acknowledges one
    partition before refusing another: the records from before the kill are still kept."""
    clock = Clock()
    window: ReplayWindow[str] = ReplayWindow(5.0, clock)
    window.acknowledged("before-1")
    clock.now += 0.5
    window.acknowledged("before-2")
    clock.now += 0.3
    window.away()
    clock.now += 8.0
    window.away()  # told again: the outage still starts at the first notice
    window.back()
    window.acknowledged("after")
    assert window.take() == ["before-1", "before-2", "after"]


def test_the_window_ages_again_once_kafka_is_back() -> None:
    clock = Clock()
    window: ReplayWindow[str] = ReplayWindow(5.0, clock)
    window.acknowledged("before")
    clock.now += 1.0
    window.away()
    clock.now += 30.0
    window.back()
    clock.now += 4.5  # 5.5 s of reachable time since "before"
    window.acknowledged("later")
    assert len(window) == 1
    assert window.take() == ["later"]


def test_records_taken_by_a_test_leave_the_window_and_the_rest_stay_in_order() -> None:
    clock = Clock()
    window: ReplayWindow[tuple[str, int]] = ReplayWindow(5.0, clock)
    for record in [("a", 0), ("b", 1), ("a", 2), ("b", 3)]:
        window.acknowledged(record)
    assert window.take(lambda record: record[0] == "a") == [("a", 0), ("a", 2)]
    assert window.take(lambda record: record[0] == "a") == []
    assert window.take() == [("b", 1), ("b", 3)]
