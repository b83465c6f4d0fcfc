"""Report periods: which time window an hour/day/week/month report covers, and its buckets.

A period ends at ``end`` (default: now, UTC) and reaches back a fixed length;
``previous()`` is the window of equal length just before it, for trends.
Windows are half-open, ``[start, end)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from streamtune.errors import StreamtuneError

#: period name -> (length, bucket: "minute", "hour" or "day", title)
PERIODS: dict[str, tuple[timedelta, str, str]] = {
    "hour": (timedelta(hours=1), "minute", "hourly close-up"),
    "day": (timedelta(days=1), "hour", "daily summary"),
    "week": (timedelta(days=7), "day", "weekly analysis"),
    "month": (timedelta(days=30), "day", "monthly trends"),
}


class ReportError(StreamtuneError):
    """A report cannot be made as asked (bad period, bad time, store unavailable)."""


@dataclass(frozen=True)
class Period:
    """One report window: ``[start, end)`` in UTC, cut into minute, hour or day buckets."""

    name: str
    start: datetime
    end: datetime
    bucket: str

    @property
    def title(self) -> str:
        return PERIODS[self.name][2]

    def previous(self) -> Period:
        """The window of the same length just before this one."""
        length = self.end - self.start
        return Period(self.name, self.start - length, self.start, self.bucket)

    def label(self) -> str:
        """``2026-11-19 00:00 – 2026-11-26 00:00 UTC``."""
        return f"{self.start:%Y-%m-%d %H:%M} – {self.end:%Y-%m-%d %H:%M} UTC"


def period_for(name: str, end: datetime | None = None) -> Period:
    """The ``name`` period (hour, day, week or month) ending at ``end`` (default now)."""
    if name not in PERIODS:
        raise ReportError(f"unknown period {name!r}; use one of {', '.join(PERIODS)}")
    stop = (end or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    length, bucket, _ = PERIODS[name]
    return Period(name, stop - length, stop, bucket)
