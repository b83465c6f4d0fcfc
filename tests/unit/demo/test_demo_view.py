"""The demo's live view reads the served versions and the rollout step off the worker's
serving gauge (as ``LiveStage`` publishes it: roles champion and candidate)."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from streamtune.demo.view import live_view, serving_view

GAUGE = 'streamtune_serving_percent{{model="intent_classifier",version="{v}",role="{r}"}}'


def test_rollout_step_and_served_shares() -> None:
    series = {GAUGE.format(v="v1", r="champion"): 75.0,
              GAUGE.format(v="v2", r="candidate"): 25.0,
              'streamtune_events_in_total{topic="raw.commands"}': 9.0}
    assert serving_view(series) == ("v1 75 %, v2 25 %", "v2 at 25 %")


def test_a_canary_serves_nothing_yet() -> None:
    series = {GAUGE.format(v="v1", r="champion"): 100.0, GAUGE.format(v="v2", r="candidate"): 0.0}
    assert serving_view(series) == ("v1 100 %", "v2 canary (shadow)")


def test_before_the_first_champion() -> None:
    assert serving_view({}) == ("training...", "-")


def test_each_stage_shows_its_rate_and_lag(tmp_path: Path) -> None:
    worker = {'streamtune_events_in_total{topic="raw.commands"}': 1200.0,
              'streamtune_consumer_lag{topic="raw.commands",partition="0"}': 300.0,
              'streamtune_consumer_lag{topic="raw.errors",partition="1"}': 45.0}
    augment = {'streamtune_augment_events_in_total{topic="clean.commands"}': 800.0,
               'streamtune_augment_consumer_lag{topic="clean.commands",partition="0"}': 17.0}
    worker['streamtune_alerts_total{kind="model",severity="info"}'] = 1.0
    detect = {'streamtune_detect_events_in_total{topic="clean.commands"}': 700.0,
              'streamtune_detect_consumer_lag{topic="clean.errors",partition="2"}': 23.0,
              'streamtune_alerts_total{kind="drift",severity="warning"}': 2.0}
    console = Console(record=True, width=200)
    console.print(live_view(1500, worker, 410.0, 12.0, tmp_path / "trainer.log",
                            augment=(augment, 90.0), detect=(detect, 75.0)))
    text = console.export_text()
    stream, stage, watch, loop = (_row(text, title) for title in (
        "stream", "augment stage", "detect stage", "loop"))
    assert stream["lag"] == "345" and stream["read/s"] == "410"
    assert stage["lag"] == "17" and stage["read/s"] == "90"
    assert watch["lag"] == "23" and watch["read/s"] == "75" and watch["alerts"] == "2"
    assert loop["alerts"] == "3"  # the worker's (model loads) and the stage's


def _row(text: str, title: str) -> dict[str, str]:
    """The first row of the table titled ``title`` in rendered text, by column header."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == title)
    header, row = (
        [cell.strip() for cell in line.strip().strip("┃│").split("┃" if "┃" in line else "│")]
        for line in (lines[start + 2], lines[start + 4]))
    return dict(zip(header, row, strict=True))
