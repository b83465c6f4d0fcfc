"""The worker's progress lines: one per interval while there is work, one when it becomes
idle, then silence."""

from __future__ import annotations

from streamtune.prometheus import PipelineMetrics
from streamtune.streams.worker.progress import ProgressReporter


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def reporter() -> tuple[ProgressReporter, PipelineMetrics, Clock, list[str]]:
    metrics, clock, lines = PipelineMetrics(), Clock(), []
    made = ProgressReporter(metrics, every_s=5.0, emit=lines.append, clock=clock)
    made.sample()  # the worker's first sample starts the first interval
    return made, metrics, clock, lines


def at(made: ProgressReporter, clock: Clock, *times: float) -> None:
    for t in times:
        clock.now = t
        made.sample()


def test_lines_while_busy_one_idle_line_then_silence() -> None:
    made, metrics, clock, lines = reporter()
    metrics.events_in.labels("raw.commands").inc(1000)
    metrics.events_in.labels("raw.errors").inc(500)
    metrics.dead_letters.labels("raw.commands", "validation").inc(3)
    metrics.consumer_lag.labels("raw.commands", "0").set(1500)
    metrics.consumer_lag.labels("raw.errors", "2").set(500)
    at(made, clock, 1.0, 2.0, 4.0)
    assert lines == []  # not before the interval is over
    at(made, clock, 5.0)
    assert lines == ["1,500 events in 5.0 s (300/s), lag 2,000 records, 3 dead letters"]

    metrics.events_in.labels("raw.commands").inc(2000)
    metrics.consumer_lag.labels("raw.commands", "0").set(0)
    metrics.consumer_lag.labels("raw.errors", "2").set(0)
    at(made, clock, 6.0, 10.0)
    assert lines[1:] == ["2,000 events in 5.0 s (400/s), lag 0 records, 0 dead letters"]

    at(made, clock, 15.0, 20.0, 25.0, 60.0)
    assert lines[2:] == ["idle, caught up: 3,500 events and 3 dead letters since the start"]

    metrics.events_in.labels("raw.metrics").inc(10)  # a trickle wakes it up again
    at(made, clock, 70.0)
    assert lines[3:] == ["10 events in 10.0 s (1/s), lag 0 records, 0 dead letters"]


def test_waiting_records_without_progress_are_work_and_a_pause_is_said() -> None:
    made, metrics, clock, lines = reporter()
    metrics.consumer_lag.labels("raw.commands", "1").set(800)
    metrics.paused.set(1)
    at(made, clock, 5.0)
    assert lines == ["0 events in 5.0 s (0/s), lag 800 records, 0 dead letters; "
                     "paused (the store is unavailable)"]


def test_idle_from_the_start_says_nothing() -> None:
    made, _, clock, lines = reporter()
    at(made, clock, 5.0, 10.0, 300.0)
    assert lines == []
