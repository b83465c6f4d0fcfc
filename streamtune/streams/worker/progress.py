"""What a worker says while it works: a progress line every few seconds, quiet when idle.

:class:`ProgressReporter` reads the worker's own Prometheus metrics (nothing is
counted twice): records committed, dead letters, the consumer lag the ingest
loop refreshes every 5 s and whether consumption is paused. While there is work
(records came in, or some wait) it logs one line every ``every_s`` seconds;
when the work is done it logs one ``idle, caught up`` line, then nothing until
records come again.

Examples
--------
>>> from streamtune.prometheus import PipelineMetrics
>>> metrics, lines = PipelineMetrics(), []
>>> reporter = ProgressReporter(metrics, emit=lines.append, clock=iter([0.0, 5.0]).__next__)
>>> reporter.sample()
>>> metrics.events_in.labels("raw.commands").inc(1000)
>>> reporter.sample()
>>> lines
['1,000 events in 5.0 s (200/s), lag 0 records, 0 dead letters']
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from prometheus_client.metrics import MetricWrapperBase

from streamtune.prometheus import PipelineMetrics

log = logging.getLogger(__name__)

PROGRESS_EVERY_S = 5.0
"""Seconds between two progress lines while the worker has work."""
SAMPLE_EVERY_S = 1.0
"""How often the worker samples its metrics."""
LAST_BATCH = "streamtune_last_batch_timestamp_seconds"
"""The gauge (set by the ingest loop at each commit) that ``streamtune status`` shows."""


@dataclass(frozen=True, slots=True)
class Reading:
    """The worker's figures at one moment (counters since it started)."""

    events_in: float
    dead_letters: float
    lag: float
    paused: bool


def read(metrics: PipelineMetrics) -> Reading:
    """The figures :class:`ProgressReporter` reports, summed over their labels."""
    return Reading(events_in=_sum(metrics.events_in, "_total"),
                   dead_letters=_sum(metrics.dead_letters, "_total"),
                   lag=_sum(metrics.consumer_lag, ""), paused=_sum(metrics.paused, "") > 0)


def _sum(metric: MetricWrapperBase, suffix: str) -> float:
    return sum(sample.value for family in metric.collect() for sample in family.samples
               if sample.name == family.name + suffix)


class ProgressReporter:
    """Progress lines from a worker's metrics; call :meth:`sample` every second or so.

    Parameters
    ----------
    metrics
        The worker's metrics.
    every_s
        Seconds between two lines while there is work.
    emit
        Where a line goes (the log by default).
    clock
        Monotonic time, for tests.
    """

    def __init__(self, metrics: PipelineMetrics, *, every_s: float = PROGRESS_EVERY_S,
                 emit: Callable[[str], None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.metrics = metrics
        self.every_s = every_s
        self.emit = emit or log.info
        self.clock = clock
        self._line_at: float | None = None  # set by the first sample: start-up is not work
        self._at_line = read(metrics)
        self._working = False

    def sample(self) -> None:
        """Every ``every_s`` seconds, emit a line if there is work."""
        now, reading = self.clock(), read(self.metrics)
        if self._line_at is None:
            self._line_at = now
        if now - self._line_at < self.every_s:
            return
        line = self.line(self._at_line, reading, now - self._line_at)
        self._line_at, self._at_line = now, reading
        if line is not None:
            self.emit(line)

    def line(self, before: Reading, after: Reading, seconds: float) -> str | None:
        """The line for the interval from ``before`` to ``after``; None when there is
        nothing to say (idle, and already said so)."""
        events = after.events_in - before.events_in
        if events > 0 or after.lag > 0 or after.paused:
            self._working = True
            dead = after.dead_letters - before.dead_letters
            line = (f"{events:,.0f} events in {seconds:.1f} s ({events / seconds:,.0f}/s), "
                    f"lag {after.lag:,.0f} records, {dead:,.0f} dead letters")
            if after.paused:
                line += "; paused (the store is unavailable)"
            return line
        if self._working:
            self._working = False
            return (f"idle, caught up: {after.events_in:,.0f} events and "
                    f"{after.dead_letters:,.0f} dead letters since the start")
        return None
