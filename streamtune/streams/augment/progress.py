"""What the augment stage says while it works: a line every few seconds, quiet when idle.

Like the worker's (``streams/worker/progress.py``), from the stage's own
metrics: events read, augmented rows landed, events the budget skipped, lag.

Examples
--------
>>> metrics, lines = AugmentMetrics(), []
>>> progress = Progress(metrics, lag=lambda: 0, emit=lines.append,
...                     clock=iter([0.0, 5.0]).__next__)
>>> progress.sample()
>>> metrics.events_in.labels("clean.commands").inc(1000)
>>> metrics.rows_out.labels("augmented").inc(300)
>>> progress.sample()
>>> lines
['augment: 1,000 events in 5.0 s (200/s), 300 rows, 0 skipped, lag 0 records']
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from prometheus_client.metrics import MetricWrapperBase

from streamtune.streams.augment.metrics import AugmentMetrics

log = logging.getLogger(__name__)
PROGRESS_EVERY_S = 5.0


def _total(metric: MetricWrapperBase, only: str | None = None) -> float:
    return sum(s.value for family in metric.collect() for s in family.samples
               if s.name == family.name + "_total" and (only is None or only in s.labels.values()))


class Progress:
    """Progress lines; call :meth:`sample` after every poll."""

    def __init__(self, metrics: AugmentMetrics, *, lag: Callable[[], float],
                 every_s: float = PROGRESS_EVERY_S,
                 emit: Callable[[str], None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.metrics = metrics
        self.lag = lag
        self.every_s = every_s
        self.emit = emit or log.info
        self.clock = clock
        self._line_at: float | None = None
        self._before = self._read()
        self._working = False

    def _read(self) -> tuple[float, float, float]:
        m = self.metrics
        return _total(m.events_in), _total(m.rows_out, "augmented"), _total(m.skipped)

    def sample(self) -> None:
        """Every ``every_s`` seconds, emit a line if there was work."""
        now = self.clock()
        if self._line_at is None:
            self._line_at = now
        seconds = now - self._line_at
        if seconds < self.every_s:
            return
        after, lag = self._read(), self.lag()
        events, rows, skipped = (a - b for a, b in zip(after, self._before, strict=True))
        self._line_at, self._before = now, after
        if events > 0 or lag > 0:
            self._working = True
            self.emit(f"augment: {events:,.0f} events in {seconds:.1f} s "
                      f"({events / seconds:,.0f}/s), {rows:,.0f} rows, {skipped:,.0f} skipped, "
                      f"lag {lag:,.0f} records")
        elif self._working:
            self._working = False
            self.emit(f"augment: idle, caught up: {after[0]:,.0f} events, {after[1]:,.0f} rows "
                      "since the start")
