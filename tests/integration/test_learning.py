"""Train every model from snapshots of a real chdb store, export to ONNX, register, warm-start."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

from streamtune.config import Settings
from streamtune.models.datasets import build_snapshot
from streamtune.models.evaluation import evaluate_model
from streamtune.models.export import PARITY_SHAPES, PARITY_TOLERANCE
from streamtune.models.registry import Registry
from streamtune.models.scoring import Scorer
from streamtune.models.tagging import TagScorer
from streamtune.models.training.run import split_rows, train_model
from streamtune.models.training.trainer import Checkpoint, restore
from streamtune.simulator import Scenario
from streamtune.simulator.scenario import NewCommandTypeDrift
from streamtune.sinks.migrations import migrate
from streamtune.sinks.store import ClickHouseStore
from tests.conftest import make_settings
from tests.integration.datasets_fill import fill

NEW_TYPE = "isolate_segment"


@dataclass
class Lab:
    store: ClickHouseStore
    settings: Settings


@pytest.fixture(scope="module")
def lab(chdb_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """A store holding 12,000 simulated events (no new command type yet) and its snapshots."""
    database = f"l{uuid.uuid4().hex[:10]}"
    settings = make_settings(tmp_path_factory.mktemp("learning"),
                             store={"url": f"chdb://{chdb_path}", "database": database})
    store = ClickHouseStore.from_settings(settings)
    migrate(store)
    lab = Lab(store, settings)
    fill(store, settings, seed=21, events=12_000, hours_ago=2)
    for name in ("commands", "errors"):
        build_snapshot(store, settings, name, progress=False)  # type: ignore[arg-type]
    yield lab
    store.command(f"DROP DATABASE IF EXISTS {store.database}")


def _majority_share(labels: list[str]) -> float:
    return Counter(labels).most_common(1)[0][1] / len(labels)


def test_intent_classifier_is_accurate_exported_and_registered_as_first_champion(
        lab: Lab) -> None:
    result = train_model(lab.settings, "intent_classifier")
    assert result.metrics["command_type.macro_f1"] >= 0.97
    assert 0.9 < result.metrics["baseline.macro_f1"] <= 1.0  # TF-IDF + LR on the same split
    assert 0.9 < result.metrics["teacher.macro_f1"] <= 1.0  # MiniLM + TF-IDF, distilled
    assert result.parity <= PARITY_TOLERANCE
    registry = Registry(lab.settings)
    champion = registry.alias("intent_classifier", "champion")
    assert champion is not None and champion.version == result.version.version
    assert champion.dataset == {"name": "commands", "id": result.snapshot.id}
    assert [s["stage"] for s in champion.hyperparameters["stages"]] == [
        "base_model_adaptation", "intent_specialization", "context_integration"]
    assert 0.0 <= champion.hyperparameters["teacher"]["lexical_weight"] <= 1.0
    usage = result.snapshot.tracking()["usage_statistics"]
    assert any(u["model"] == "intent_classifier" for u in usage)

    scorer = Scorer(champion.path)
    test_rows = [r for r in split_rows(result.snapshot, scorer.task, "test")
                 if not r["synthetic"]]
    predicted = [p["command_type"].label for p in scorer.predict(test_rows)]
    hits = sum(p == r["command_type"] for p, r in zip(predicted, test_rows, strict=True))
    assert hits / len(test_rows) >= 0.97


@pytest.mark.parametrize(("name", "head"), [("command_predictor", "next_command"),
                                            ("error_recovery", "recovery_action")])
def test_session_and_error_models_beat_the_majority_class(lab: Lab, name: str,
                                                          head: str) -> None:
    result = train_model(lab.settings, name)
    assert result.parity <= PARITY_TOLERANCE
    scorer = Scorer(result.version.path)
    examples = scorer.task.examples(split_rows(result.snapshot, scorer.task, "test"), None)
    truth = [str(e.labels[head]) for e in examples if e.labels.get(head)]
    assert len(truth) >= 50
    majority = _majority_share(truth)
    # 10 points above the majority guess, or half its errors when it leaves fewer than 20
    # points to gain (the error split may leave one class dominant)
    assert result.metrics[f"{head}.accuracy"] > majority + min(0.1, (1 - majority) / 2)
    assert {"baseline.macro_f1", "baseline.accuracy"} <= set(result.metrics)


def test_parameter_extractor_finds_spans_in_unseen_commands(lab: Lab) -> None:
    result = train_model(lab.settings, "parameter_extractor")
    assert result.parity <= PARITY_TOLERANCE
    assert result.metrics["test_rows"] >= 100
    assert result.metrics["span.micro_f1"] >= 0.9
    assert not any(key.startswith("baseline.") for key in result.metrics)  # a tagger
    scorer = TagScorer(result.version.path)
    text = "restart pump-3"
    spans = scorer.extract([text])[0]
    assert [(s.name, text[s.start:s.end]) for s in spans] == [("device", "pump-3")]

    report, json_path, md_path = evaluate_model(lab.settings, "parameter_extractor")
    assert json.loads(json_path.read_text())["clean"]["model"]["micro"]["f1"] == pytest.approx(
        result.metrics["span.micro_f1"])
    assert report["typos"]["model"]["micro"]["f1"] > report["typos"]["grammar"]["micro"]["f1"]
    assert all(case["in_bounds"] for case in report["edge_cases"].values())
    assert "## Edge cases" in md_path.read_text()


def test_onnx_matches_torch_for_every_registered_model(lab: Lab) -> None:
    registry = Registry(lab.settings)
    names = {v.name for v in registry.versions()} - {"parameter_extractor"}  # own parity test
    assert {"intent_classifier", "command_predictor", "error_recovery"} <= names
    rng = np.random.default_rng(5)
    for name in names:
        version = registry.versions(name)[-1]
        trained = restore(Checkpoint.load(version.file("weights.pt")),
                          json.loads(version.file("labels.json").read_text()))
        scorer = Scorer(version.path)
        for batch, tokens in PARITY_SHAPES:
            ids = rng.integers(0, trained.featurizer.buckets, size=(batch, tokens),
                               dtype=np.int64)
            with torch.no_grad():
                expected = [t.numpy() for t in trained.model(torch.from_numpy(ids))]
            for a, b in zip(expected, scorer.logits(ids), strict=True):
                assert float(np.abs(a - b).max()) <= PARITY_TOLERANCE


def test_warm_start_learns_a_new_command_type_without_forgetting(lab: Lab) -> None:
    registry = Registry(lab.settings)
    if registry.alias("intent_classifier", "champion") is None:
        train_model(lab.settings, "intent_classifier")
    champion = registry.alias("intent_classifier", "champion")
    assert champion is not None
    drift = Scenario(new_command_type=NewCommandTypeDrift(at=0, share=0.1))
    fill(lab.store, lab.settings, seed=22, events=6000, scenario=drift, first_offset=100_000)
    snapshot = build_snapshot(lab.store, lab.settings, "commands", progress=False)

    result = train_model(lab.settings, "intent_classifier", dataset_id=snapshot.id)
    assert result.version.parent == champion.version
    assert result.trained.warm_started
    assert registry.alias("intent_classifier", "challenger") == result.version
    labels = result.trained.labels["command_type"]
    old = Checkpoint.load(champion.file("weights.pt")).labels["command_type"]
    assert NEW_TYPE not in old and labels[:len(old)] == old and NEW_TYPE in labels

    scorer = Scorer(result.version.path)
    rows = [r for r in snapshot.rows("test") if not r["synthetic"]]
    predicted = [p["command_type"].label for p in scorer.predict(rows)]
    truth = [r["command_type"] for r in rows]
    new = [p for p, t in zip(predicted, truth, strict=True) if t == NEW_TYPE]
    assert len(new) >= 20
    assert sum(p == NEW_TYPE for p in new) / len(new) >= 0.9
    f1s = []
    for label in set(old):
        tp = sum(p == t == label for p, t in zip(predicted, truth, strict=True))
        denominator = predicted.count(label) + truth.count(label)
        if truth.count(label):
            f1s.append(2 * tp / denominator)
    assert sum(f1s) / len(f1s) >= 0.95


def test_train_and_export_commands(lab: Lab, tmp_path: Path) -> None:
    env = {**os.environ, "STREAMTUNE_DATA_DIR": str(lab.settings.data_dir),
           "STREAMTUNE_TRAINING__ERROR_RECOVERY__EPOCHS_PER_STAGE": "1"}
    before = len(Registry(lab.settings).versions("error_recovery"))
    trained = subprocess.run([sys.executable, "-m", "streamtune", "train", "--model",
                              "error_recovery"], env=env, capture_output=True, text=True,
                             timeout=600, check=False)
    assert trained.returncode == 0, trained.stderr
    versions = Registry(lab.settings).versions("error_recovery")
    assert len(versions) == before + 1
    newest = versions[-1]
    assert f"error_recovery {newest.version}" in trained.stdout
    assert "broad_adaptation" in trained.stdout and "recovery_specialization" in trained.stdout

    exported = subprocess.run([sys.executable, "-m", "streamtune", "export", "error_recovery",
                               "--version", newest.version, "--out", str(tmp_path / "x")],
                              env=env, capture_output=True, text=True, timeout=300, check=False)
    assert exported.returncode == 0, exported.stderr
    ids = np.arange(1, 41, dtype=np.int64).reshape(2, 20)
    for a, b in zip(Scorer(newest.path).logits(ids), Scorer(tmp_path / "x").logits(ids),
                    strict=True):
        assert float(np.abs(a - b).max()) <= PARITY_TOLERANCE

    unknown = subprocess.run([sys.executable, "-m", "streamtune", "train", "--model", "nope"],
                             env=env, capture_output=True, text=True, timeout=120, check=False)
    assert unknown.returncode == 1
    assert unknown.stderr.strip().splitlines() == [
        "error: unknown model 'nope'; use one of intent_classifier, command_predictor, "
        "error_recovery, parameter_extractor"]
