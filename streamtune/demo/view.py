"""The demo's live view: the worker's, the augment stage's and the detect stage's metrics,
the served model versions and the rollout step, and the trainer's latest decisions."""

from __future__ import annotations

from pathlib import Path

from rich.console import Group
from rich.table import Table
from rich.text import Text

from streamtune.prometheus import totals


def _labels(sample: str) -> dict[str, str]:
    inner = sample[sample.index("{") + 1:-1]
    return {key: value.strip('"') for key, value in
            (part.split("=", 1) for part in inner.split(",") if "=" in part)}


def serving_view(series: dict[str, float]) -> tuple[str, str]:
    """(served versions with their share, the rollout step) from the serving gauge: a
    candidate at 0 % is a canary answering in shadow."""
    served, rollout = [], []
    for sample, value in series.items():
        if not sample.startswith("streamtune_serving_percent{"):
            continue
        labels = _labels(sample)
        if value > 0:
            served.append(f"{labels['version']} {value:.0f} %")
        if labels["role"] == "candidate":
            rollout.append(f"{labels['version']} at {value:.0f} %" if value > 0
                           else f"{labels['version']} canary (shadow)")
    return ", ".join(sorted(served)) or "training...", ", ".join(rollout) or "-"


Figures = tuple[dict[str, float], float]
"""A stage's metrics (as scraped) and its recent records read per second."""


def live_view(produced: int, series: dict[str, float], rate: float, elapsed: float,
              trainer_log: Path, *, augment: Figures | None = None,
              detect: Figures | None = None) -> Group:
    """One refresh of the live view; ``rate`` is the worker's recent events/s, ``augment``
    and ``detect`` those stages' figures."""
    metrics = totals(series)
    read = metrics.get("streamtune_events_in_total", 0.0)
    served, rollout = serving_view(series)
    stream = Table("elapsed", "sent", "worker read", "read/s", "lag", "DLQ", "dup", "redacted",
                   "windows", title="stream", title_justify="left")
    stream.add_row(
        f"{elapsed:.0f} s", f"{produced:,}", f"{read:,.0f}", f"{rate:,.0f}",
        *(f"{metrics.get(name, 0):,.0f}" for name in (
            "streamtune_consumer_lag",
            "streamtune_dead_letters_total", "streamtune_duplicates_dropped_total",
            "streamtune_redactions_total", "streamtune_windows_emitted_total")))
    stages = [stream]
    if augment is not None:
        stages.append(_stage_table("augment", totals(augment[0]), augment[1], {
            "augmented rows": "streamtune_augmented_rows_total",
            "skipped": "streamtune_augment_events_skipped_total"}))
    alerts = metrics.get("streamtune_alerts_total", 0.0)
    if detect is not None:
        alerts += totals(detect[0]).get("streamtune_alerts_total", 0.0)
        stages.append(_stage_table("detect", totals(detect[0]), detect[1], {
            "held for order": "streamtune_detection_held_events",
            "alerts": "streamtune_alerts_total"}))
    loop = Table("alerts", "intent model serving", "rollout", title="loop",
                 title_justify="left")
    loop.add_row(f"{alerts:,.0f}", served, rollout)
    lines = trainer_log.read_text(errors="replace").splitlines()[-7:] \
        if trainer_log.exists() else []
    return Group(*stages, loop, Text("trainer: " + "\n         ".join(
        line.strip() for line in lines if line.strip()), style="cyan", no_wrap=True,
        overflow="ellipsis"))


def _stage_table(stage: str, figures: dict[str, float], rate: float,
                 more: dict[str, str]) -> Table:
    """A stage's row: records read, its rate, its lag, then ``more`` (heading: metric)."""
    table = Table("read", "read/s", "lag", *more, title=f"{stage} stage", title_justify="left")
    table.add_row(*(f"{value:,.0f}" for value in (
        figures.get(f"streamtune_{stage}_events_in_total", 0.0), rate,
        figures.get(f"streamtune_{stage}_consumer_lag", 0.0),
        *(figures.get(metric, 0.0) for metric in more.values()))))
    return table
