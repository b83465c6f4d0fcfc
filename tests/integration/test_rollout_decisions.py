"""Rollout decisions on live traffic: a real worker scores, the trainer judges and decides.

A champion intent model serves. A candidate fine-tuned from the same first
version on the same traffic, but with one command type (about 2 % of commands)
relabelled as another, is about two points worse: the sequential test rolls it
back at the canary, and the decision row says why. Then the traffic brings a new command type the
champion never saw; a candidate trained on such traffic is better and is
promoted through the canary and the 5 / 25 / 100 % stages.
"""

from __future__ import annotations

import json
from pathlib import Path

from streamtune.config import Settings
from streamtune.models.control import Serving, publish
from streamtune.models.registry import Registry
from streamtune.schemas.events import CommandEvent, Event
from streamtune.simulator import Scenario
from streamtune.simulator.scenario import NewCommandTypeDrift
from streamtune.streams.kafka.admin import create_topics
from tests.support.loop_harness import DETECTION, LOOP, TrainerThread, produce
from tests.support.loop_models import QUICK_TRAINING, clean, simulated, train_champions
from tests.support.worker_harness import (
    Worker,
    caught_up,
    read_store,
    wait_for,
    worker_settings,
)

MODEL = "intent_classifier"
DROPPED, INTO = "backup_database", "export_report"
"""The worse candidate learns DROPPED commands as INTO (about 2 % of commands)."""


def relabelled(events: list[Event]) -> list[Event]:
    return [e.model_copy(update={"command_type": INTO}) if isinstance(e, CommandEvent)
            and e.command_type == DROPPED else e for e in events]


def judge(settings: Settings, worker: Worker, loop: TrainerThread, *, champion: str,
          candidate: str, stream: list[Event], verdicts: tuple[str, ...]) -> None:
    """Roll ``candidate`` out on ``stream`` (in live slices) until a verdict in ``verdicts``."""
    publish(settings, Serving(MODEL, champion=champion, candidate=candidate, reason="canary"))
    loop.trainer.start_rollout(MODEL, champion=champion, candidate=candidate)
    for first in range(0, len(stream), 500):
        produce(settings, stream[first:first + 500])
        wait_for(lambda: caught_up(settings), timeout=120, what="a slice", worker=worker)
        if any(loop.said(v) for v in verdicts):
            break
    wait_for(lambda: any(loop.said(v) for v in verdicts), timeout=60,
             what=f"a verdict on {candidate}: {loop.lines}", worker=worker)


def test_two_points_worse_is_rolled_back_and_a_better_one_promoted(
        settings: Settings, tmp_path: Path) -> None:
    settings = worker_settings(settings, tmp_path, batch_max_events=500, groups={
        "scoring": {"models": [MODEL]}, "detection": DETECTION, "training": QUICK_TRAINING,
        "loop": {**LOOP, "triggers": []}})  # only the rollouts this test starts
    create_topics(settings)
    history = clean(settings, simulated(3, 5000))
    first = train_champions(settings, history, [MODEL])[MODEL]
    # both fine-tuned from the first version on the same traffic, one with DROPPED relabelled
    worse = train_champions(settings, relabelled(history), [MODEL])[MODEL]
    champion = train_champions(settings, history, [MODEL])[MODEL]
    registry = Registry(settings)
    registry.promote(MODEL, champion, reason=f"fine-tuned from {first}")
    worker = Worker(settings, log=tmp_path / "worker.log").start()
    try:
        with TrainerThread(settings) as loop:
            judge(settings, worker, loop, champion=champion, candidate=worse,
                  stream=simulated(13, 8000, hours_ago=0.5), verdicts=("reject", "rollback"))
            assert registry.alias(MODEL, "challenger") is None
            assert registry.alias(MODEL, "champion").version == champion  # type: ignore[union-attr]

            drift = Scenario(new_command_type=NewCommandTypeDrift(at=0, share=0.1))
            better = train_champions(settings, clean(settings, simulated(
                21, 5000, scenario=drift, hours_ago=0.4)), [MODEL])[MODEL]
            judge(settings, worker, loop, champion=champion, candidate=better,
                  stream=simulated(22, 8000, scenario=drift, hours_ago=0.3),
                  verdicts=("promote",))
            wait_for(lambda: registry.alias(MODEL, "champion").version == better,  # type: ignore[union-attr]
                     timeout=30, what="the better candidate as champion", worker=worker)
        assert worker.terminate() == 0  # a stopping worker imports the trainer's decision rows
    finally:
        worker.ensure_stopped()
    rows = read_store(settings, {"decisions": (
        "SELECT candidate, stage, decision, reason, metrics FROM streamtune.loop_decisions "
        "FINAL WHERE stage != 'offline' ORDER BY time")})["decisions"]
    by_candidate: dict[str, list[tuple[str, str, str, dict[str, object]]]] = {}
    for candidate, stage, decision, reason, metrics in rows:
        by_candidate.setdefault(candidate, []).append((stage, decision, reason,
                                                       json.loads(metrics)))
    (stage, decision, reason, metrics), = by_candidate[worse]
    assert (stage, decision) == ("canary", "reject")
    assert "worse than the champion by more than the margin" in reason
    low, high = metrics["diff_interval"]  # type: ignore[misc]
    assert high <= 0 and -0.04 < metrics["diff_estimate"] < -0.01, metrics  # type: ignore[operator]
    assert metrics["evidence_worse"] >= 1 / metrics["beta_false_rollback"]  # type: ignore[operator]
    assert metrics["margin"] == 0.01 and metrics["alpha_false_promotion"] == 0.05
    assert [(s, d) for s, d, _, _ in by_candidate[better]] == [
        ("canary", "advance"), ("rollout_5", "advance"), ("rollout_25", "advance"),
        ("rollout_100", "promote")]
    promoted = by_candidate[better][-1][3]
    assert promoted["verdict"] == "not_worse" and promoted["diff_estimate"] > 0  # type: ignore[operator]
    print(f"\nworse: {metrics['diff_estimate']:+.4f} over {metrics['pairs']} pairs; "
          f"better: {promoted['diff_estimate']:+.4f} over {promoted['pairs']} pairs")
