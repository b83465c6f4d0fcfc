"""The report's figures as PNG files (matplotlib, Agg, no pyplot state).

Each function draws one figure from :class:`ReportData` and returns False when
it has nothing to show, so an empty period makes no blank images. Alerts are
marked as vertical lines on the time axes of throughput and accuracy.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter, date2num  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from streamtune.reports.queries import ReportData  # noqa: E402

SIZE = (10.0, 4.0)  # inches at DPI: 1000 x 400 pixels
DPI = 100
_SEVERITY = {"critical": "tab:red", "warning": "tab:orange", "info": "tab:gray"}


def _x(when: datetime) -> float:
    """Matplotlib's date number (days since its epoch) of a naive UTC time."""
    return float(date2num(when.replace(tzinfo=None)))  # type: ignore[no-untyped-call]


_BUCKETS = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}


def _bucket(data: ReportData) -> timedelta:
    return _BUCKETS[data.period.bucket]


def _width(data: ReportData) -> float:
    """A bar's width in days: 80% of a bucket."""
    return _bucket(data) * 0.8 / timedelta(days=1)


def _floor(when: datetime, data: ReportData) -> datetime:
    """The start of the bucket ``when`` falls in (naive UTC)."""
    when = when.replace(tzinfo=None, second=0, microsecond=0)
    if data.period.bucket == "minute":
        return when
    when = when.replace(minute=0)
    return when if data.period.bucket == "hour" else when.replace(hour=0)


def _mid(xs: list[datetime], data: ReportData) -> list[float]:
    """Bucket starts moved to the middle of their bars."""
    return [_x(x) + _width(data) / 2 for x in xs]


def _time_axis(ax: Axes, data: ReportData) -> None:
    """Whole buckets from the bucket before the period's first event (or the period's start,
    if later) to the period's last bucket: data that began late in the period is not
    squeezed into its right edge."""
    locator = AutoDateLocator()  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
    start = _floor(data.period.start, data)
    if data.throughput:
        start = max(start, _floor(data.throughput[0][0], data) - _bucket(data))
    last = data.period.end - timedelta(microseconds=1)
    ax.set_xlim(_x(start), _x(_floor(last, data) + _bucket(data)))
    ax.set_xlabel("time (UTC)")
    ax.grid(alpha=0.3)


def _mark_alerts(ax: Axes, data: ReportData) -> None:
    seen: set[str] = set()
    for raised_at, _, severity, *_ in data.alerts:
        label = None if severity in seen else f"alert ({severity})"
        seen.add(severity)
        ax.axvline(_x(raised_at), color=_SEVERITY.get(severity, "tab:purple"), linestyle="--",
                   linewidth=1, alpha=0.8, label=label)


def _lines(ax: Axes, series: dict[str, dict[datetime, float]], data: ReportData, *,
           markersize: float) -> None:
    """One line per series, each point in the middle of its bucket."""
    for name, points in sorted(series.items()):
        xs = sorted(points)
        ax.plot(_mid(xs, data), [points[x] for x in xs], marker="o", markersize=markersize,
                label=name)


def _stacked(ax: Axes, series: dict[str, dict[datetime, int]], width: float) -> None:
    bottom: dict[datetime, int] = defaultdict(int)
    for name, points in sorted(series.items()):
        xs = sorted(points)
        ax.bar([_x(x) for x in xs], [points[x] for x in xs], width=width, align="edge", label=name,
               bottom=[bottom[x] for x in xs])
        for x in xs:
            bottom[x] += points[x]


def throughput(data: ReportData, ax: Axes) -> bool:
    if not data.throughput:
        return False
    series: dict[str, dict[datetime, int]] = defaultdict(dict)
    for b, source, n in data.throughput:
        series[source][b] = n
    _stacked(ax, series, _width(data))
    _mark_alerts(ax, data)
    _time_axis(ax, data)
    ax.set_ylabel(f"events per {data.period.bucket}")
    ax.set_title(f"Throughput by source (events per {data.period.bucket}) with alerts")
    return True


def error_rates(data: ReportData, ax: Axes) -> bool:
    series: dict[str, dict[datetime, float]] = defaultdict(dict)
    for b, kind, n in data.errors_per_bucket:
        if data.commands_per_bucket.get(b):
            series[kind][b] = n / data.commands_per_bucket[b]
    if not series:
        return False
    ax.set_prop_cycle(color=matplotlib.color_sequences["tab20"])  # a dozen error types
    _lines(ax, series, data, markersize=3)
    _time_axis(ax, data)
    ax.set_ylim(bottom=0)
    ax.set_ylabel("errors / commands")
    ax.set_title(f"Error rate by type (errors per command, per {data.period.bucket})")
    return True


def accuracy(data: ReportData, ax: Axes) -> bool:
    series: dict[str, dict[datetime, float]] = defaultdict(dict)
    for b, model, version, _, judged, right in data.predictions:
        if judged:
            series[f"{model} {version}"][b] = right / judged
    if not series:
        return False
    _lines(ax, series, data, markersize=4)
    _mark_alerts(ax, data)
    _time_axis(ax, data)
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("served accuracy")
    ax.set_title("Served accuracy by model version (where the truth is known) with alerts")
    return True


def served(data: ReportData, ax: Axes) -> bool:
    series: dict[str, dict[datetime, int]] = defaultdict(dict)
    for b, model, version, count, _, _ in data.predictions:
        series[f"{model} {version}"][b] = count
    if not series:
        return False
    _stacked(ax, series, _width(data))
    _time_axis(ax, data)
    ax.set_ylabel(f"served predictions per {data.period.bucket}")
    ax.set_title("Served volume by model version")
    return True


def quality(data: ReportData, fig: Figure) -> bool:
    if not data.dead_letters and not data.qc:
        return False
    left, right = fig.subplots(1, 2)
    cats = list(data.dead_letters)
    left.barh(cats, [data.dead_letters[c] for c in cats], color="tab:red")
    left.set_title("Dead letters by category")
    left.set_xlabel("dead letters")
    techniques = [row[0] for row in data.qc]
    rates = [row[6] / row[2] if row[2] else 0.0 for row in data.qc]
    right.barh(techniques, rates, color="tab:green")
    right.set_xlim(0, 1)
    right.set_title("Augmentation QC pass rate")
    right.set_xlabel("accepted / generated")
    for ax in (left, right):
        ax.grid(alpha=0.3, axis="x")
    return True


#: file stem -> (caption, drawing function on one axes)
AXES_PLOTS: dict[str, tuple[str, Callable[[ReportData, Axes], bool]]] = {
    "throughput": ("Throughput by source", throughput),
    "error_rates": ("Error rate by type", error_rates),
    "accuracy": ("Accuracy by model version", accuracy),
    "served": ("Served volume by model version", served),
}


def draw_all(data: ReportData, out_dir: Path) -> list[tuple[str, str]]:
    """Write every figure that has data to ``out_dir``; returns (file name, caption) pairs."""
    written = []
    for stem, (caption, draw) in AXES_PLOTS.items():
        fig = Figure(figsize=SIZE, dpi=DPI, layout="constrained")
        ax = fig.subplots()
        if draw(data, ax):
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.0, 1.0))
            written.append(_save(fig, out_dir, stem, caption))
    fig = Figure(figsize=SIZE, dpi=DPI, layout="constrained")
    if quality(data, fig):
        written.append(_save(fig, out_dir, "quality", "Data quality"))
    return written


def _save(fig: Figure, out_dir: Path, stem: str, caption: str) -> tuple[str, str]:
    name = f"{stem}.png"
    fig.savefig(out_dir / name, dpi=DPI)
    return name, caption
