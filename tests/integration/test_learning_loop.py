"""The loop end to end: a real worker scores and watches, the trainer retrains and rolls out.

A champion intent model is trained on simulated traffic; the worker serves it.
Then a new command type appears: the worker's template miner raises a
new-pattern alert, the trainer fine-tunes on recent events, passes the offline
gate, canaries the candidate in shadow, rolls it out 5 -> 25 -> 100 % and
promotes it. A deliberately worse candidate is rolled back instead.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from streamtune.config import Settings
from streamtune.models.control import Serving, publish
from streamtune.models.registry import Registry
from streamtune.schemas.events import CommandEvent
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

NEW_TYPE = "isolate_segment"
def loop_settings(settings: Settings, tmp_path: Path) -> Settings:
    return worker_settings(settings, tmp_path, batch_max_events=500, groups={
        "scoring": {"models": ["intent_classifier"]}, "detection": DETECTION, "loop": LOOP,
        "training": QUICK_TRAINING})


@pytest.fixture
def served(settings: Settings, tmp_path: Path) -> Iterator[tuple[Settings, Worker, str]]:
    """A worker serving a champion intent model trained on traffic without the new type."""
    wsettings = loop_settings(settings, tmp_path)
    create_topics(wsettings)
    champion = train_champions(wsettings, clean(wsettings, simulated(3, 5000)),
                               ["intent_classifier"])["intent_classifier"]
    worker = Worker(wsettings, log=tmp_path / "worker.log").start()
    try:
        yield wsettings, worker, champion
    finally:
        worker.ensure_stopped()


def live_accuracy(settings: Settings, version: str) -> tuple[float, int]:
    rows = read_store(settings, {"acc": (
        "SELECT avg(correct), count() FROM streamtune.predictions FINAL "
        f"WHERE model = 'intent_classifier' AND served AND version = '{version}'")})["acc"]
    return float(rows[0][0]), int(rows[0][1])


def test_a_new_command_type_is_learned_canaried_rolled_out_and_promoted(
        served: tuple[Settings, Worker, str]) -> None:
    settings, worker, champion = served
    drift = Scenario(new_command_type=NewCommandTypeDrift(at=2000, share=0.25))
    stream = simulated(11, 9000, scenario=drift, hours_ago=0.5)
    for first in range(0, 4000, 500):  # live, not a backlog: 2000 before the change, 2000 after
        produce(settings, stream[first:first + 500])
        wait_for(lambda: caught_up(settings), timeout=120, what="a slice", worker=worker)
    # the detectors hold the last events for event-time order until their partitions go
    # idle: their alerts must be out before the trainer starts, or they trigger again later
    wait_for(lambda: worker.metric("streamtune_detection_held_events") == 0, timeout=30,
             what="the detectors' last alerts", worker=worker)
    registry = Registry(settings)
    with TrainerThread(settings) as loop:
        wait_for(lambda: bool(loop.said("trained")), timeout=300,
                 what="a retraining triggered by the new pattern", worker=worker)
        assert any("new_pattern" in line for line in loop.said("trigger")), loop.lines
        candidate = registry.alias("intent_classifier", "challenger")
        assert candidate is not None and candidate.version != champion
        for first in range(4000, 9000, 500):  # live traffic for the canary and the rollout
            produce(settings, stream[first:first + 500])
            champ = registry.alias("intent_classifier", "champion")
            if champ is not None and champ.version == candidate.version:
                break
            wait_for(lambda: caught_up(settings), timeout=120, what="a slice", worker=worker)
        try:
            wait_for(lambda: (c := registry.alias("intent_classifier", "champion")) is not None
                     and c.version == candidate.version and bool(loop.said("promote")),
                     timeout=180,
                     what="the candidate's promotion", worker=worker)
        except AssertionError as exc:
            raise AssertionError(f"trainer said: {loop.lines}, {loop.failure!r}") from exc
        print(f"\nfirst trigger -> promoted: "  # the figure quoted in docs/loop.md
              f"{loop.times['promote'] - loop.times['trigger']:.0f} s")
        decisions = loop.said("advance") + loop.said("promote")
        assert [d.split(" ", 1)[0] for d in decisions][:1] == [candidate.version]
        assert len(loop.said("advance")) == 4  # offline gate, canary, 5 %, 25 %
        after = simulated(12, 2000, scenario=Scenario(new_command_type=NewCommandTypeDrift(
            at=0, share=0.25)), hours_ago=0.1)
        produce(settings, after)
        wait_for(lambda: caught_up(settings), timeout=240, what="traffic after promotion",
                 worker=worker)
    assert worker.terminate() == 0
    before, n_before = live_accuracy(settings, champion)
    now, n_now = live_accuracy(settings, candidate.version)
    assert n_before > 1000 and n_now > 500
    pre_drift = read_store(settings, {"pre": (
        "SELECT avg(correct) FROM streamtune.predictions FINAL WHERE model = "
        f"'intent_classifier' AND served AND version = '{champion}' AND command_type != "
        f"'{NEW_TYPE}'")})["pre"][0][0]
    assert now >= float(pre_drift) - 0.02, (before, now, pre_drift)
    counts = read_store(settings, {
        "commands": "SELECT uniqExact(event_id) FROM streamtune.commands",
        "served": "SELECT count() FROM streamtune.predictions FINAL WHERE model = "
                  "'intent_classifier' AND served",
        "decisions": "SELECT decision FROM streamtune.loop_decisions FINAL "
                     f"WHERE candidate = '{candidate.version}' ORDER BY time",
    })
    assert counts["served"][0][0] == counts["commands"][0][0]  # no prediction lost or doubled
    # the candidate's own decisions (traffic after the promotion may already train the next)
    assert [row[0] for row in counts["decisions"]] == ["advance"] * 4 + ["promote"]


def test_a_worse_candidate_is_rolled_back_and_the_champion_keeps_serving(
        served: tuple[Settings, Worker, str]) -> None:
    settings, worker, champion = served
    # a deliberately worse candidate: the same traffic with its labels shuffled
    events = clean(settings, simulated(4, 3000))
    commands = [e for e in events if isinstance(e, CommandEvent)]
    types = [e.command_type for e in commands]
    random.Random(0).shuffle(types)
    spoiled = [e.model_copy(update={"command_type": t}) for e, t in zip(commands, types,
                                                                          strict=True)]
    candidate = train_champions(settings, spoiled, ["intent_classifier"])["intent_classifier"]
    registry = Registry(settings)
    assert registry.alias("intent_classifier", "challenger").version == candidate  # type: ignore[union-attr]
    stream = simulated(13, 3000, hours_ago=0.2)
    with TrainerThread(settings) as loop:
        publish(settings, Serving("intent_classifier", champion=champion, candidate=candidate,
                                  reason="canary"))
        loop.trainer.start_rollout("intent_classifier", champion=champion,
                                   candidate=candidate)
        for first in range(0, 3000, 500):
            produce(settings, stream[first:first + 500])
            wait_for(lambda: caught_up(settings), timeout=120, what="a slice", worker=worker)
            if loop.said("reject") or loop.said("rollback"):
                break
        wait_for(lambda: bool(loop.said("reject") or loop.said("rollback")), timeout=120,
                 what=f"the verdict on the worse candidate: {loop.lines}", worker=worker)
        assert registry.alias("intent_classifier", "challenger") is None
        assert registry.alias("intent_classifier", "champion").version == champion  # type: ignore[union-attr]
        produce(settings, simulated(14, 500, hours_ago=0.1))
        wait_for(lambda: caught_up(settings), timeout=120, what="traffic after", worker=worker)
    assert worker.terminate() == 0
    rows = read_store(settings, {"served": (
        "SELECT version, role, count() FROM streamtune.predictions FINAL WHERE model = "
        "'intent_classifier' AND served GROUP BY version, role"), "shadow": (
        "SELECT count() FROM streamtune.predictions FINAL WHERE model = 'intent_classifier' "
        f"AND role = 'shadow' AND version = '{candidate}'")})
    assert [tuple(r) for r in rows["served"]] == [(champion, "champion", rows["served"][0][2])]
    assert rows["shadow"][0][0] >= LOOP["canary_min_events"]  # it was judged on live traffic
