"""What a stage says while it works: a line every few seconds, quiet when idle.

Like the worker's (``streams/worker/progress.py``), from the stage's own metrics: the
records it read and the other counters it names, and its lag.

Examples
--------
>>> from prometheus_client import CollectorRegistry, Counter
>>> registry, lines = CollectorRegistry(), []
>>> read = Counter("read", "", registry=registry)
>>> rows = Counter("rows", "", registry=registry)
>>> progress = StageProgress("augment", {"events": read, "rows": rows}, lag=lambda: 0,
...                          emit=lines.append, clock=iter([0.0, 5.0, 10.0]).__next__)
>>> progress.sample()
>>> read.inc(1000); rows.inc(300)
>>> progress.sample()
>>> progress.sample()
>>> lines  # doctest: +NORMALIZE_WHITESPACE
['augment: 1,000 events in 5.0 s (200/s), 300 rows, lag 0 records',
 'augment: idle, caught up: 1,000 events, 300 rows since the start']
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping

from prometheus_client.metrics import MetricWrapperBase

log = logging.getLogger(__name__)
PROGRESS_EVERY_S = 5.0


def counter_total(metric: MetricWrapperBase, only: str | None = None) -> float:
    """A counter's total over its labels (those with the value ``only``, if given)."""
    return sum(s.value for family in metric.collect() for s in family.samples
               if s.name == family.name + "_total" and (only is None or only in s.labels.values()))


class StageProgress:
    """Progress lines of a stage named ``name``; call :meth:`sample` after every poll.

    ``counters`` maps what each counter counts (in words) to it, the records read first;
    a value may be a callable returning the figure instead."""

    def __init__(self, name: str,
                 counters: Mapping[str, MetricWrapperBase | Callable[[], float]], *,
                 lag: Callable[[], float], every_s: float = PROGRESS_EVERY_S,
                 emit: Callable[[str], None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self.counters = dict(counters)
        self.lag = lag
        self.every_s = every_s
        self.emit = emit or log.info
        self.clock = clock
        self._line_at: float | None = None
        self._before = self._read()
        self._working = False

    def _read(self) -> list[float]:
        return [counter_total(counter) if isinstance(counter, MetricWrapperBase) else counter()
                for counter in self.counters.values()]

    def sample(self) -> None:
        """Every ``every_s`` seconds, emit a line if there was work."""
        now = self.clock()
        if self._line_at is None:
            self._line_at = now
        seconds = now - self._line_at
        if seconds < self.every_s:
            return
        after, lag = self._read(), self.lag()
        grown = [a - b for a, b in zip(after, self._before, strict=True)]
        self._line_at, self._before = now, after
        words = list(self.counters)
        if grown[0] > 0 or lag > 0:
            self._working = True
            self.emit(f"{self.name}: {grown[0]:,.0f} {words[0]} in {seconds:.1f} s "
                      f"({grown[0] / seconds:,.0f}/s), " + "".join(
                          f"{value:,.0f} {word}, " for word, value in zip(words[1:], grown[1:],
                                                                           strict=True))
                      + f"lag {lag:,.0f} records")
        elif self._working:
            self._working = False
            self.emit(f"{self.name}: idle, caught up: " + ", ".join(
                f"{value:,.0f} {word}" for word, value in zip(words, after, strict=True))
                + " since the start")
