"""Report periods and the markdown/HTML text, without a store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from streamtune.cli.app import iso_time
from streamtune.errors import UsageError
from streamtune.reports import ReportError, period_for
from streamtune.reports.queries import Headline, ReportData
from streamtune.reports.render import html_page, markdown

END = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("name", "hours", "bucket"), [
    ("hour", 1, "minute"), ("day", 24, "hour"), ("week", 7 * 24, "day"), ("month", 30 * 24, "day")])
def test_periods_reach_back_their_length(name: str, hours: int, bucket: str) -> None:
    period = period_for(name, END)
    assert (period.start, period.end, period.bucket) == (END - timedelta(hours=hours), END, bucket)
    before = period.previous()
    assert (before.start, before.end) == (END - timedelta(hours=2 * hours), period.start)


def test_end_is_utc_and_bad_input_is_a_clear_error() -> None:
    assert iso_time("2026-03-15T12:00", "--end") == END
    assert iso_time("2026-03-15T14:00+02:00", "--end") == END  # the same instant
    assert period_for("day", iso_time("2026-03-15T14:00+02:00", "--end")).end.tzinfo == UTC
    assert iso_time(None, "--end") is None
    with pytest.raises(UsageError, match=r"^--end .last tuesday. is not an ISO time \(e\.g"):
        iso_time("last tuesday", "--end")
    with pytest.raises(ReportError,
                       match="unknown period 'year'; use one of hour, day, week, month"):
        period_for("year")
    now = datetime.now(UTC)
    assert abs(period_for("day").end - now) < timedelta(seconds=5)


def _data(title: str, reason: str) -> ReportData:
    head = Headline(events=0, commands=0, errors=0, dead_letters=0, alerts=1, promotions=0,
                    rollbacks=0, accuracy={})
    t = datetime(2026, 3, 15, 11, 0)  # noqa: DTZ001 - the store gives naive UTC times
    return ReportData(period=period_for("day", END), headline=head, previous=None, throughput=[],
                      events_by_kind={}, events_by_source={}, commands_per_bucket={},
                      errors_per_bucket=[], errors_by_type={}, predictions=[],
                      alerts=[(t, "drift", "critical", "error", "global", "", "", title)],
                      decisions=[(t, "m", "v2", "canary", "reject", reason)])


def test_store_strings_are_escaped_in_both_texts() -> None:
    data = _data("<img src=x onerror=alert(1)> | x", "line one\nline | two")
    md, page = markdown(data, []), html_page(data, [])
    assert "| &lt;" not in md and "<img src=x onerror=alert(1)> \\| x |" in md
    assert "| line one line \\| two |" in md
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt; | x" in page
    assert "No events in this period." in md and "No events in this period." in page
    assert "| events | 0 |" in md and "| error rate | n/a |" in md
