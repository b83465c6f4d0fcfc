"""The demo's live view reads the served versions and the rollout step off the worker's
serving gauge (as ``LiveStage`` publishes it: roles champion and candidate)."""

from __future__ import annotations

from streamtune.demo.view import serving_view

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
