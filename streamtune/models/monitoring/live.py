"""Live accuracy of served predictions, counted in hourly buckets by event time.

The trainer feeds every record of the ``scored`` topic to :class:`LiveAccuracy`;
only answers that were served and whose truth is known (``correct`` 1 or 0)
count, each event once per version (replays are recognised by event id).
Memory is bounded: one ``[correct, total]`` pair per (model, version, hour),
the most recent event ids, and buckets older than ``retention`` behind the newest event seen are
dropped (late events older than that are ignored). The hourly evaluation and
the "accuracy before, during and after" timeline read these counts.

Examples
--------
>>> live = LiveAccuracy()
>>> live.observe(record)                                           # doctest: +SKIP
True
>>> live.accuracy("intent_classifier", since=t0, until=t1)        # doctest: +SKIP
(97, 100)
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from streamtune.schemas.predictions import PredictionRecord

HOUR = timedelta(hours=1)
Bucket = tuple[str, str, datetime]  # (model, version, hour start)


def aware(time: datetime) -> datetime:
    """``time`` itself; a clear ValueError when it has no time zone."""
    if time.tzinfo is None or time.utcoffset() is None:
        raise ValueError(f"time {time.isoformat()} has no time zone; use tz-aware UTC times")
    return time


def hour_start(time: datetime) -> datetime:
    """The start of ``time``'s hour (tz-aware times only)."""
    return aware(time).replace(minute=0, second=0, microsecond=0)


class LiveAccuracy:
    """Labelled outcomes of served predictions per (model, version) and hour.

    Parameters
    ----------
    retention
        How far behind the newest event a bucket is kept (default 7 days).
    remember
        How many counted events (model, version, event id) are remembered, so that a
        replayed record is not counted again (the most recent ones; saved with the state).
    """

    def __init__(self, retention: timedelta = timedelta(days=7), *,
                 remember: int = 20_000) -> None:
        if retention < HOUR:
            raise ValueError(f"retention must be at least one hour, not {retention}")
        if remember < 1:
            raise ValueError(f"remember at least one event, not {remember}")
        self.retention = retention
        self.remember = remember
        self._seen: OrderedDict[tuple[str, str, str], int] = OrderedDict()
        """The outcome counted for each recent (model, version, event id)."""
        self._counts: dict[Bucket, list[int]] = {}
        self._newest: datetime | None = None

    def observe(self, record: PredictionRecord) -> bool:
        """Count ``record`` if it was served and its truth is known; return whether it counted.

        Each event counts once per model version: a record seen again (a replay) changes
        nothing, and a re-emitted record with another outcome (a later correction)
        corrects the count instead of adding a second one."""
        if not record.served or record.correct == -1:
            return False
        hour = hour_start(record.event_time)
        if self._newest is not None and hour < self._newest - self.retention:
            return False
        key = (record.model, record.version, hour)
        seen = (record.model, record.version, record.event_id)
        earlier = self._seen.pop(seen, None)
        if earlier is None and record.replaces != -1:
            earlier = record.replaces  # counted before the events seen were remembered
        self._seen[seen] = record.correct
        if len(self._seen) > self.remember:
            self._seen.popitem(last=False)
        if earlier is not None:
            if key not in self._counts:  # the earlier outcome was never counted here
                return False
            self._counts[key][0] += record.correct - earlier
            return record.correct != earlier
        counts = self._counts.setdefault(key, [0, 0])
        counts[0] += record.correct
        counts[1] += 1
        if self._newest is None or hour > self._newest:
            self._newest = hour
            self._expire()
        return True

    def accuracy(self, model: str, *, since: datetime, until: datetime,
                 version: str | None = None) -> tuple[int, int]:
        """``(correct, total)`` of ``model`` (of one ``version`` if given) over the hours
        whose start lies in ``[since, until)``."""
        since, until = aware(since), aware(until)
        correct = total = 0
        for (name, ver, hour), (right, count) in self._counts.items():
            if name == model and since <= hour < until and version in (None, ver):
                correct += right
                total += count
        return correct, total

    def timeline(self, model: str) -> list[tuple[datetime, str, int, int]]:
        """``(hour_start, version, correct, total)`` of ``model``, oldest hour first."""
        return sorted((hour, ver, right, count)
                      for (name, ver, hour), (right, count) in self._counts.items()
                      if name == model)

    def state(self) -> dict[str, Any]:
        """The counts as a JSON-ready object, for :meth:`restore` after a restart."""
        return {"retention_s": self.retention.total_seconds(), "remember": self.remember,
                "buckets": [[m, v, h.isoformat(), c[0], c[1]]
                            for (m, v, h), c in sorted(self._counts.items())],
                "seen": [[m, v, e, c] for (m, v, e), c in self._seen.items()]}

    @classmethod
    def restore(cls, state: dict[str, Any]) -> LiveAccuracy:
        """A :class:`LiveAccuracy` holding the counts of :meth:`state`."""
        try:
            live = cls(timedelta(seconds=float(state["retention_s"])),
                       remember=int(state.get("remember", 20_000)))
            live._load((str(m), str(v), datetime.fromisoformat(h), int(c), int(n))
                       for m, v, h, c, n in state["buckets"])
            live._seen.update(((str(m), str(v), str(e)), int(c))
                              for m, v, e, c in state.get("seen", []))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a LiveAccuracy state: {exc}") from exc
        return live

    def _load(self, rows: Iterable[tuple[str, str, datetime, int, int]]) -> None:
        for model, version, hour, correct, total in rows:
            if not 0 <= correct <= total:
                raise ValueError(f"bucket {model} {version} {hour}: {correct} of {total}")
            self._counts[(model, version, hour_start(hour))] = [correct, total]
            if self._newest is None or hour > self._newest:
                self._newest = hour
        if self._newest is not None:
            self._expire()

    def _expire(self) -> None:
        assert self._newest is not None  # noqa: S101 - only called after an event
        oldest = self._newest - self.retention
        for key in [k for k in self._counts if k[2] < oldest]:
            del self._counts[key]
