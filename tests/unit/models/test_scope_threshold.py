"""The inline out-of-scope flag: calibrated on validation, carried by a model version."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from streamtune.config import TrainingSettings
from streamtune.models.detection.scope import ScopeThreshold
from streamtune.models.export import export_model
from streamtune.models.scoring import Scorer
from streamtune.models.tasks import TASKS
from streamtune.models.training import run
from streamtune.models.training.trainer import train

LABELS = ["a", "b", "oos"]


def test_the_flag_takes_the_false_alarm_share_of_in_scope_inputs() -> None:
    rng = np.random.default_rng(0)
    inside = rng.dirichlet([8, 1, 1], size=2000)
    scope = ScopeThreshold.calibrate("intent", LABELS, inside, ["a"] * 2000, false_alarm=0.1)
    assert scope.column == 2
    assert 0.09 <= scope.flag(inside).mean() <= 0.11
    fresh = rng.dirichlet([8, 1, 1], size=2000)
    assert 0.07 <= scope.flag(fresh).mean() <= 0.13
    outside = rng.dirichlet([1, 1, 8], size=500)
    assert scope.flag(outside).mean() > 0.95


def test_without_an_oos_class_the_unsure_are_flagged() -> None:
    sure, unsure = [[0.95, 0.05]] * 50, [[0.5, 0.5]]
    scope = ScopeThreshold.calibrate("intent", ["a", "b"], np.array(sure + [[0.7, 0.3]] * 50),
                                     ["a"] * 100, false_alarm=0.4)
    assert scope.column is None
    assert scope.flag(np.array(unsure + sure)).tolist() == [True] + [False] * 50
    assert ScopeThreshold.from_json(json.loads(json.dumps(scope.to_json()))) == scope


def test_calibration_needs_in_scope_rows_and_a_share_below_one() -> None:
    with pytest.raises(ValueError, match="no in-scope"):
        ScopeThreshold.calibrate("intent", LABELS, np.ones((2, 3)) / 3, ["oos", None],
                                 false_alarm=0.1)
    with pytest.raises(ValueError, match="false_alarm"):
        ScopeThreshold.calibrate("intent", LABELS, np.ones((2, 3)) / 3, ["a", "a"],
                                 false_alarm=1.0)


def test_a_version_carries_its_flag_and_foreign_requests_raise_it(tmp_path: Path) -> None:
    from streamtune.simulator import Simulator

    commands = [{"normalized_input": e.raw_input.lower(), "command_type": e.command_type}
                for e in Simulator(5).events(1500) if e.kind == "command"]
    cut = len(commands) * 3 // 4
    hp = TrainingSettings().intent_classifier.model_copy(
        update={"teacher": False, "total_epochs": 5})
    trained = train(TASKS["intent_classifier"], commands[:cut], commands[cut:], hp)
    export_model(trained, tmp_path)
    run.calibrate_scope(tmp_path, commands[cut:], 0.05)
    stored = json.loads((tmp_path / "labels.json").read_text())["scope"]
    assert stored["head"] == "command_type" and stored["false_alarm"] == 0.05

    scorer = Scorer(tmp_path)
    inside = [p["command_type"].out_of_scope for p in scorer.predict(commands[cut:])]
    assert sum(inside) <= 0.05 * len(inside) + 1
    foreign = ["what is the weather like in paris tomorrow", "tell me a joke about cats",
               "how many calories are in a banana", "who won the football game last night",
               "play some jazz music", "translate good morning into french"]
    flagged = [p["command_type"].out_of_scope
               for p in scorer.predict([{"normalized_input": t} for t in foreign])]
    assert sum(flagged) >= 5, flagged
    metrics = run.test_metrics(scorer, commands[cut:])
    assert metrics["command_type.out_of_scope_rate"] == pytest.approx(sum(inside) / len(inside))
