"""Daily, weekly and monthly reports from ClickHouse, for users without Grafana.

``write_report`` reads a period's figures from the store, draws them as PNG
files and writes ``report.html`` (tables and plots) and ``summary.md`` (the
same tables, machine-checkable) into one folder.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from streamtune.reports.periods import PERIODS, Period, ReportError, period_for
from streamtune.sinks.store import ClickHouseStore

__all__ = ["PERIODS", "Period", "ReportError", "default_dir", "period_for", "write_report"]


def default_dir(data_dir: Path, period: Period) -> Path:
    """``<data_dir>/reports/<period>-<end date>`` (and the end's time for an hour)."""
    stamp = "%Y-%m-%d-%H%M" if period.name == "hour" else "%Y-%m-%d"
    return data_dir / "reports" / f"{period.name}-{period.end.strftime(stamp)}"


def write_report(store: ClickHouseStore, period: str, out_dir: Path, *,
                 end: datetime | None = None) -> Path:
    """Write the ``period`` report (hour, day, week or month) ending at ``end`` (default now).

    Returns the HTML path; ``summary.md`` and the PNG plots lie beside it.
    Week and month reports compare their headline with the previous period.
    """
    from streamtune.reports import plots, render
    from streamtune.reports.queries import check_tables, collect

    window = period_for(period, end)
    check_tables(store)
    data = collect(store, window, compare=period != "day")
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("*.png"):  # a rerun must not leave plots of an earlier one
        old.unlink()
    drawn = plots.draw_all(data, out_dir)
    (out_dir / "summary.md").write_text(render.markdown(data, drawn), encoding="utf-8")
    page = out_dir / "report.html"
    page.write_text(render.html_page(data, drawn), encoding="utf-8")
    return page
