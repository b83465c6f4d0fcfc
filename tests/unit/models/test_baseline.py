"""The TF-IDF + logistic regression baseline on hand-made data, and beside a trained model."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamtune.models.evaluation import fit_baseline, fit_texts
from streamtune.models.evaluation.baseline import GRID
from streamtune.models.tasks import TASKS
from tests.support.settings import make_settings

WORDS = {"start": "ignite", "stop": "halt", "status": "report"}


def pairs(per_class: int, *, offset: int = 0) -> list[tuple[str, str]]:
    """Each class has its own verb; the objects are shared, so only the verb tells."""
    return [(f"please {verb} unit{(i + offset) % 5} now", label)
            for label, verb in WORDS.items() for i in range(per_class)]


def rows(data: list[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"raw_input": text, "command_type": label} for text, label in data]


def test_distinct_words_per_class_are_learned() -> None:
    test = [("ignite unit9", "start"), ("halt it", "stop"), ("report please", "status")]
    fitted = fit_texts(pairs(6), pairs(2, offset=1), [t for t, _ in test])
    assert fitted.predicted == ["start", "stop", "status"]
    assert fitted.c in GRID


def test_task_rows_give_the_model_metrics_and_a_class_only_in_test() -> None:
    test = [("ignite unit1", "start"), ("ignite unit2", "start"), ("halt unit3", "stop"),
            ("halt unit4", "stop"), ("ignite the new thing", "launch")]
    found = fit_baseline(TASKS["intent_classifier"], rows(pairs(6)), rows(pairs(2)),
                         rows(test))
    assert found is not None
    assert found.head == "command_type" and found.train_examples == 18
    assert found.validation_examples == 6
    assert found.predicted == ["start", "start", "stop", "stop", "start"]
    report = found.report
    assert report["unknown"] == {"launch": 1}  # never in training: counted wrong, listed
    assert report["accuracy"] == pytest.approx(4 / 5)
    # start: precision 2/3, recall 1 -> F1 0.8; stop: 1; launch: 0
    assert report["macro_f1"] == pytest.approx((0.8 + 1.0 + 0.0) / 3)
    assert found.metrics() == pytest.approx({"baseline.macro_f1": 0.6, "baseline.accuracy": 0.8})
    summary = found.summary()
    assert "predicted" not in summary and summary["C"] == found.c
    assert summary["per_class"]["launch"]["support"] == 1


def test_one_class_empty_words_and_no_validation() -> None:
    single = fit_texts([("ignite a", "start"), ("ignite b", "start")], [("x", "start")],
                       ["halt", "report"])
    assert single.predicted == ["start", "start"] and single.c is None
    no_words = fit_texts([("a", "x"), ("b", "y"), ("c", "y")], [], ["a"])
    assert no_words.predicted == ["y"] and no_words.c is None  # the most common label
    blind = fit_texts(pairs(4), [], ["halt unit1"])
    assert blind.predicted == ["stop"] and blind.c == GRID[0]  # no validation: the default C
    with pytest.raises(ValueError, match="at least one labelled training text"):
        fit_texts([], [], ["a"])
    unlabelled = [{"raw_input": "ignite", "command_type": None}]
    assert fit_baseline(TASKS["intent_classifier"], unlabelled, [], rows(pairs(1))) is None


def test_train_records_the_baseline_beside_the_model(tmp_path: Path) -> None:
    from streamtune.models.datasets import snapshot_from_table
    from streamtune.models.training.run import train_model
    from tests.support.tables import command_table

    settings = make_settings(tmp_path, training={"intent_classifier": {"total_epochs": 1}})
    snap = snapshot_from_table(settings, "commands", command_table(1200, seed=5),
                               lineage={"description": "simulator"})
    metrics = train_model(settings, "intent_classifier", dataset_id=snap.id).metrics
    assert {"baseline.macro_f1", "baseline.accuracy"} <= set(metrics)
    # the simulator's phrasings name their command: words alone get nearly all of them
    assert metrics["baseline.accuracy"] > 0.9 and 0.0 < metrics["baseline.macro_f1"] <= 1.0
