"""``streamtune report``: an hourly, daily, weekly or monthly report (HTML with plots, markdown)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from streamtune.cli.app import app, console, iso_time, load_settings, open_store


@app.command("report")
def report(
    period: Annotated[str, typer.Option(
        help="hour (minute buckets), day (hourly), week or month (daily)")]
    = "day",
    end: Annotated[str | None, typer.Option(help="end of the period, ISO time (UTC if naive); "
                                            "default now")] = None,
    out: Annotated[Path | None, typer.Option(help="folder for report.html, summary.md and the "
                                             "plots; default <data_dir>/reports/<period>-<date>")]
    = None,
) -> None:
    """Write a report of the store's data: throughput, errors, accuracy, alerts, quality, loop."""
    from streamtune.reports import default_dir, period_for, write_report

    window = period_for(period, iso_time(end, "--end"))  # bad input fails before the store opens
    settings = load_settings()
    store = open_store(settings, "write a report")
    folder = out or default_dir(settings.data_dir, window)
    with store, console.status(f"writing the {period} report"):
        page = write_report(store, period, folder, end=window.end)
    console.print(f"{period} report for {window.label()}:")
    for path in (page, page.with_name("summary.md")):  # whole paths, never wrapped
        console.print(f"  {path}", soft_wrap=True, markup=False, highlight=False)
