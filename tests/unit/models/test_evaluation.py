"""Evaluation: metrics by hand, seeded perturbations, and reports of a real trained model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from streamtune.config import Settings, TrainingSettings
from streamtune.errors import ModelNotFound
from streamtune.models.datasets import Snapshot, snapshot_from_table
from streamtune.models.evaluation import (
    EDGE_CASES,
    KINDS,
    RATES,
    TERMINAL_ROWS,
    baseline_table,
    carried_parameters,
    class_rows,
    class_table,
    classification,
    edge_case,
    evaluate,
    evaluate_model,
    headline,
    perturb,
    render_markdown,
    write_report,
)
from streamtune.models.evaluation.baseline import GRID
from streamtune.models.registry import Registry
from streamtune.models.scoring import Scorer
from tests.support.settings import make_settings
from tests.support.tables import command_table

# --- metrics -------------------------------------------------------------------------------

def test_classification_matches_hand_computed_figures() -> None:
    truth = ["a", "a", "b", "c", None]
    predicted = ["a", "b", "b", "a", "a"]
    r = classification(truth, predicted, known=["a", "b"])
    assert (r["examples"], r["missing"]) == (4, 1)
    assert r["accuracy"] == pytest.approx(0.5)
    assert r["per_class"]["a"] == pytest.approx(
        {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2})
    assert r["per_class"]["b"] == pytest.approx(
        {"precision": 0.5, "recall": 1.0, "f1": 2 / 3, "support": 1})
    assert r["per_class"]["c"] == pytest.approx(
        {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1})
    assert r["macro_f1"] == pytest.approx((0.5 + 2 / 3 + 0.0) / 3)
    assert r["unknown"] == {"c": 1}  # never learned: counted wrong and listed


def test_classification_without_labels_and_with_bad_lengths() -> None:
    assert classification([None, None], ["a", "b"], known=["a"])["accuracy"] is None
    with pytest.raises(ValueError, match="2 labels but 1"):
        classification(["a", "b"], ["a"], known=["a"])


def test_carried_parameters_by_hand() -> None:
    def row(i: int, kind: str, params: dict[str, Any]) -> dict[str, Any]:
        return {"session_id": "s", "event_time": f"2026-01-01T00:00:0{i}", "event_id": str(i),
                "command_type": kind, "parameters": params}

    rows = [row(0, "start_pump", {"pump": "pump-1"}), row(1, "stop_pump", {"pump": "pump-1"}),
            row(2, "set_speed", {"device": "fan-1", "rpm": 900}),
            row(3, "start_pump", {"pump": "pump-2"})]
    # counted: stop_pump's pump (history has pump-1: carried right) and the last start_pump's
    # pump (history's latest pump is pump-1, not pump-2: wrong); set_speed's names are new
    right = carried_parameters(rows, ["stop_pump", "set_speed", "start_pump"])
    assert right == {"parameters": 2, "accuracy": 0.5, "with_true_type": 0.5}
    wrong = carried_parameters(rows, ["query_status"] * 3)
    assert wrong["accuracy"] == 0.0 and wrong["with_true_type"] == 0.5


# --- the per-class table beside the baseline -------------------------------------------------

def graded(n: int) -> dict[str, Any]:
    """A result with ``n`` classes ``c00``.. whose model F1 falls as the number grows, but
    the last two tie (the larger support, the last class's, comes first)."""
    per_class = {f"c{i:02d}": {"precision": 1.0, "recall": 1.0, "f1": 1 - i / 40,
                               "support": 10 + i} for i in range(n)}
    per_class[f"c{n - 2:02d}"]["f1"] = per_class[f"c{n - 1:02d}"]["f1"]
    theirs = {label: {**c, "f1": 0.25} for label, c in per_class.items() if label != "c02"}
    head = {"examples": 100, "missing": 0, "accuracy": 0.9, "macro_f1": 0.85,
            "per_class": per_class, "unknown": {}}
    return {"accuracy": {"command_type": head},
            "baseline": {"method": "TF-IDF", "head": "command_type", "C": 10.0,
                         "train_examples": 500, "validation_examples": 80, "seconds": 0.4,
                         "examples": 100, "missing": 0, "accuracy": 0.8, "macro_f1": 0.7,
                         "per_class": theirs, "unknown": {},
                         "difference": {"accuracy": 0.1, "macro_f1": 0.15}}}


def test_classes_worst_first_with_the_baseline_beside() -> None:
    rows = class_rows(graded(20), "command_type")
    assert [r["class"] for r in rows] == [f"c{i:02d}" for i in range(19, -1, -1)]
    by_class = {r["class"]: r for r in rows}
    assert by_class["c05"]["baseline_f1"] == 0.25 and by_class["c05"]["support"] == 15
    assert by_class["c02"]["baseline_f1"] is None  # no baseline figure for it


def test_the_terminal_shows_the_worst_classes_and_counts_the_rest() -> None:
    table, left_out = class_table(graded(20))
    assert (table.row_count, left_out) == (TERMINAL_ROWS, 20 - TERMINAL_ROWS)
    first = [cell for cell in table.columns[0].cells]
    assert first[:2] == ["c19", "c18"]
    assert [c for c in table.columns[5].cells][0] == "0.2500"
    small, none_left = class_table(graded(4))
    assert (small.row_count, none_left) == (4, 0)
    beside = baseline_table(graded(4))
    assert beside is not None and [c for c in beside.columns[3].cells] == ["+0.1500", "+0.1000"]
    assert baseline_table({"accuracy": graded(4)["accuracy"]}) is None
    with_teacher = baseline_table({**graded(4), "teacher": {"macro_f1": 0.9, "accuracy": 0.95}})
    assert with_teacher is not None and with_teacher.columns[4].header == "teacher (offline)"
    assert [c for c in with_teacher.columns[4].cells] == ["0.9000", "0.9500"]
    opinion = baseline_table({**graded(4), "teacher": {"macro_f1": 0.9, "accuracy": 0.95},
                              "second_opinion": {"macro_f1": 0.85, "accuracy": 0.9,
                                                 "asked": 0.15}})
    assert opinion is not None
    assert opinion.columns[5].header == "with second opinion (15% asked)"
    assert [c for c in opinion.columns[5].cells] == ["0.8500", "0.9000"]


def test_the_report_holds_the_baseline_and_every_class() -> None:
    result = {**graded(20), "model": {"task": "intent_classifier", "heads": ["command_type"]},
              "examples": 100, "rows": 100, "seed": 0}
    lines = render_markdown_accuracy(result)
    assert "### Baseline" in lines and "| macro-F1 | 0.850 | 0.700 | 0.150 |" in lines
    section = lines.split("### Per class: command_type")[1].split("##")[0]
    table = [line for line in section.splitlines()
             if line.startswith("| c") and not line.startswith("| class")]
    assert len(table) == 20 and table[0] == "| c19 | 29 | 1.000 | 1.000 | 0.525 | 0.250 |"
    assert table[-3] == "| c02 | 12 | 1.000 | 1.000 | 0.950 | – |"
    assert headline_baseline(result) == {"baseline.accuracy": 0.8, "baseline.macro_f1": 0.7}


def render_markdown_accuracy(result: dict[str, Any]) -> str:
    """The markdown report of a result without robustness or efficiency figures."""
    full = {**result, "robustness": {"rates": [0.1], "clean": {"command_type": 0.9},
                                     "perturbed": {}, "context": None, "edge_cases": {}},
            "efficiency": dict.fromkeys(
                ("single_p50_us", "single_p99_us", "batch_size", "batched_events_per_s",
                 "cpu_ms_per_1k_events", "rss_bytes", "rss_growth_bytes", "file_bytes",
                 "parameters", "weight_bytes"))}
    return render_markdown(full)


def headline_baseline(result: dict[str, Any]) -> dict[str, float]:
    full = {**result, "robustness": {"rates": [0.1], "perturbed": {}, "edge_cases": {}},
            "efficiency": {}}
    return {k: v for k, v in headline(full).items() if k.startswith("baseline.")}


# --- perturbations -------------------------------------------------------------------------

WORDS = " ".join(f"w{chr(97 + i % 26)}{chr(97 + i * 7 % 26)}{chr(97 + i * 3 % 26)}xyz"
                 for i in range(3000))


@pytest.mark.parametrize("kind", KINDS)
def test_perturbations_are_seeded_and_identity_at_rate_zero(kind: str) -> None:
    assert perturb(WORDS, kind, 0.0, seed=3) == WORDS
    assert perturb(WORDS, kind, 0.2, seed=3) == perturb(WORDS, kind, 0.2, seed=3)
    assert perturb(WORDS, kind, 0.2, seed=3) != perturb(WORDS, kind, 0.2, seed=4)


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("kind", ["typo", "casing"])
def test_word_edits_hit_about_rate_of_the_words(kind: str, rate: float) -> None:
    before, after = WORDS.split(), perturb(WORDS, kind, rate, seed=1).split()
    changed = sum(a != b for a, b in zip(before, after, strict=True)) / len(before)
    assert abs(changed - rate) < 0.035


@pytest.mark.parametrize("rate", RATES)
def test_drop_and_shuffle_rates(rate: float) -> None:
    words = WORDS.split()
    kept = perturb(WORDS, "drop", rate, seed=1).split()
    assert abs(1 - len(kept) / len(words) - rate) < 0.035
    assert perturb(WORDS, "drop", 1.0, seed=1) == ""
    shuffled = perturb(WORDS, "shuffle", rate, seed=1).split()
    assert sorted(shuffled) == sorted(words)
    moved = sum(a != b for a, b in zip(words, shuffled, strict=True)) / len(words)
    assert rate / 2 < moved <= rate + 0.035


def test_edge_case_inputs() -> None:
    import random

    rng = random.Random(0)
    assert edge_case("empty", "restart pump-3", rng=rng) == ""
    assert len(edge_case("very_long", "restart pump-3", rng=rng)) == 10_000
    mixed = edge_case("mixed_scripts", "restart pump-3", rng=rng)
    assert "restart" in mixed and not mixed.isascii()
    with pytest.raises(ValueError, match="unknown perturbation"):
        perturb("x", "reverse", 0.1)


# --- a real model: simulator rows -> snapshot -> trained -> exported -> registered ---------

@dataclass
class Trained:
    settings: Settings
    snapshot: Snapshot
    directory: Path


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Trained]:
    import torch

    from streamtune.models.export import export_model
    from streamtune.models.tasks import TASKS
    from streamtune.models.training.trainer import train

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("evaluation")
    settings = make_settings(root / "data")
    snap = snapshot_from_table(settings, "commands", command_table(3000, seed=3),
                               lineage={"description": "simulator"})
    hp = TrainingSettings().for_model("intent_classifier").model_copy(
        update={"total_epochs": 3})
    model = train(TASKS["intent_classifier"], snap.rows("train"), snap.rows("validation"), hp)
    files = export_model(model, root / "export")
    Registry(settings).register("intent_classifier", files,
                                dataset={"name": "commands", "id": snap.id},
                                hyperparameters=hp.model_dump(), metrics={},
                                architecture=model.model.architecture)
    yield Trained(settings, snap, root / "export")


@pytest.fixture(scope="module")
def result(trained: Trained) -> dict[str, Any]:
    return evaluate(Scorer(trained.directory), trained.snapshot.rows("test"), seed=0)


def test_accuracy_agrees_with_the_scorer_on_live_events(trained: Trained,
                                                        result: dict[str, Any]) -> None:
    rows = trained.snapshot.rows("test")
    predictions = Scorer(trained.directory).predict(rows)
    right = sum(p["command_type"].label == r["command_type"] for p, r in zip(
        predictions, rows, strict=True))
    report = result["accuracy"]["command_type"]
    assert report["examples"] == len(rows) > 100
    assert report["accuracy"] == pytest.approx(right / len(rows))
    assert 0.3 < report["accuracy"] <= 1.0  # a learned model, far above chance (1/24)
    assert sum(c["support"] for c in report["per_class"].values()) == len(rows)


def test_a_label_the_model_never_saw_counts_wrong_and_is_listed(trained: Trained,
                                                                 result: dict[str, Any]) -> None:
    rows = trained.snapshot.rows("test")
    rows[0] = {**rows[0], "command_type": "launch_rocket"}
    report = evaluate(Scorer(trained.directory), rows)["accuracy"]["command_type"]
    assert report["unknown"] == {"launch_rocket": 1}
    assert report["per_class"]["launch_rocket"]["recall"] == 0.0
    assert report["accuracy"] <= result["accuracy"]["command_type"]["accuracy"]


def test_the_report_carries_robustness_figures(result: dict[str, Any]) -> None:
    noise = result["robustness"]
    clean = noise["clean"]["command_type"]
    assert set(noise["perturbed"]) == set(KINDS)
    for by_rate in noise["perturbed"].values():
        assert set(by_rate) == {str(r) for r in RATES}
        assert all(0.0 <= acc["command_type"] <= 1.0 for acc in by_rate.values())
    assert clean >= noise["perturbed"]["drop"]["0.3"]["command_type"]
    assert clean > noise["perturbed"]["typo"]["0.3"]["command_type"]
    # the featurizer lower-cases text, so casing noise cannot change a prediction
    assert all(acc["command_type"] == clean for acc in noise["perturbed"]["casing"].values())
    context = noise["context"]
    assert set(context) == {"real", "removed", "shuffled"}
    assert context["real"]["command_type"] == clean


def test_edge_cases_give_known_labels_with_probabilities(trained: Trained,
                                                         result: dict[str, Any]) -> None:
    scorer = Scorer(trained.directory)
    edges = result["robustness"]["edge_cases"]
    assert set(edges) == set(EDGE_CASES)
    for outcome in edges.values():
        head = outcome["heads"]["command_type"]
        assert head["valid_share"] == 1.0
        assert 0.0 <= head["confidence_min"] <= head["confidence_max"] <= 1.0
        assert set(head["labels"]) <= set(scorer.labels["command_type"])
    texts = ["", "x" * 10_000, "qzxv wplk", "перезапустить pump-3 重启泵 أعد"]
    for prediction in scorer.predict([{"normalized_input": t} for t in texts]):
        assert prediction["command_type"].label in scorer.labels["command_type"]
        assert 0.0 <= prediction["command_type"].confidence <= 1.0


def test_efficiency_figures(trained: Trained, result: dict[str, Any]) -> None:
    e = result["efficiency"]
    assert 0 < e["single_p50_us"] <= e["single_p99_us"]
    assert e["batched_events_per_s"] > 0 and e["cpu_ms_per_1k_events"] > 0
    hp = TrainingSettings().for_model("intent_classifier")
    assert e["parameters"] >= hp.buckets * hp.dim  # the embedding alone
    assert e["file_bytes"] == (trained.directory / "model.onnx").stat().st_size


def test_report_files_hold_the_result_and_every_section(tmp_path: Path,
                                                        result: dict[str, Any]) -> None:
    json_path, md_path = write_report(result, tmp_path)
    assert json.loads(json_path.read_text()) == result
    text = md_path.read_text()
    for section in ("## Accuracy", "### Per class: command_type", "### Noise resistance",
                    "### Context sensitivity", "### Edge cases", "## Efficiency"):
        assert section in text
    assert "| typo | 0.3 |" in text and "| mixed_scripts | command_type | 1.000 |" in text


def test_evaluate_model_writes_into_the_version_and_records_usage(trained: Trained) -> None:
    result, json_path, md_path = evaluate_model(trained.settings, "intent_classifier", "v1",
                                                progress=False)
    version = Registry(trained.settings).get("intent_classifier", "v1")
    assert json_path == version.path / "evaluation.json" and md_path.is_file()
    assert result["dataset"] == {"name": "commands", "id": trained.snapshot.id,
                                 "split": "test", "by": "template"}
    assert result["examples"] == len(trained.snapshot.rows("test"))
    impact = trained.snapshot.tracking()["performance_impact"]
    assert impact[-1]["model"] == "intent_classifier" and impact[-1]["version"] == "v1"
    assert impact[-1]["metrics"]["command_type.accuracy"] == pytest.approx(
        result["accuracy"]["command_type"]["accuracy"])
    baseline, model = result["baseline"], result["accuracy"]["command_type"]
    assert baseline["head"] == "command_type" and baseline["C"] in GRID
    assert baseline["train_examples"] == sum(
        1 for r in trained.snapshot.rows("train") if not r.get("synthetic"))
    assert baseline["examples"] == model["examples"]
    assert baseline["accuracy"] > 0.9  # the simulator's phrasings name their command
    assert baseline["difference"]["macro_f1"] == pytest.approx(
        model["macro_f1"] - baseline["macro_f1"])
    assert impact[-1]["metrics"]["baseline.macro_f1"] == pytest.approx(baseline["macro_f1"])
    assert "### Baseline" in md_path.read_text()
    with pytest.raises(ModelNotFound, match="no model intent_classifier v7"):
        evaluate_model(trained.settings, "intent_classifier", "v7", progress=False)


def run_cli(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMTUNE_")}
    env.update({"STREAMTUNE_DATA_DIR": str(data_dir), "COLUMNS": "160"})
    return subprocess.run([sys.executable, "-m", "streamtune", *args], cwd=data_dir.parent,
                          text=True, capture_output=True, timeout=120, env=env)


def test_cli_evaluate_prints_figures_and_report_paths(trained: Trained) -> None:
    data_dir = trained.settings.data_dir
    done = run_cli("evaluate", "intent_classifier", "--version", "v1", "--dataset",
                   trained.snapshot.id[:8], data_dir=data_dir)
    assert done.returncode == 0, done.stderr
    assert "command_type.macro_f1" in done.stdout
    assert "the model beside the baseline" in done.stdout and "TF-IDF + LR" in done.stdout
    assert "command_type per class, worst first" in done.stdout
    report = json.loads((data_dir / "models" / "intent_classifier" / "v1"
                         / "evaluation.json").read_text())
    classes = len(report["accuracy"]["command_type"]["per_class"])
    assert classes > TERMINAL_ROWS
    assert f"and {classes - TERMINAL_ROWS} more classes in evaluation.md" in done.stdout
    assert str(data_dir / "models" / "intent_classifier" / "v1" / "evaluation.md") in done.stdout
    failed = run_cli("evaluate", "intent_classifier", "--version", "v1", "--dataset", "ffff",
                     data_dir=data_dir)
    lines = [line for line in failed.stderr.splitlines() if line.strip()]
    assert failed.returncode == 1 and len(lines) == 1
    assert lines[0] == "error: no commands snapshot matches 'ffff'"
