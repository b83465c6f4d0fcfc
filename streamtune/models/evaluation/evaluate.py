"""Evaluate an exported model on dataset rows, or a registered version on its snapshot's test split.

:func:`evaluate` builds the task's evaluation examples (every original row; for
the command predictor every (history -> next command) transition) and measures
accuracy per head, robustness and efficiency. :func:`evaluate_model` does it
for a registry version, sets the TF-IDF + logistic regression baseline trained on
the same snapshot's training rows beside it (``result["baseline"]``), writes
``evaluation.json`` and ``evaluation.md`` into the version folder and records the
headline figures with the snapshot.

Examples
--------
>>> result, json_path, md_path = evaluate_model(settings, "intent_classifier")  # doctest: +SKIP
>>> result["accuracy"]["command_type"]["macro_f1"]  # doctest: +SKIP
0.93
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from streamtune.config import Settings
from streamtune.errors import DatasetError
from streamtune.models.datasets import open_snapshot, record_usage
from streamtune.models.evaluation import robustness
from streamtune.models.evaluation.baseline import fit_baseline
from streamtune.models.evaluation.efficiency import efficiency
from streamtune.models.evaluation.extraction import (
    evaluate_extractor,
    extractor_headline,
    write_extractor_report,
)
from streamtune.models.evaluation.metrics import classification
from streamtune.models.evaluation.perturb import KINDS, RATES
from streamtune.models.evaluation.predict import predict_inputs
from streamtune.models.evaluation.report import write_report
from streamtune.models.registry import ModelVersion, Registry
from streamtune.models.scoring import Scorer
from streamtune.models.tagging import TagScorer
from streamtune.models.tasks import PredictorTask
from streamtune.models.tasks.predictor import carry_parameters, transitions


def evaluate(scorer: Scorer, rows: Sequence[Mapping[str, Any]], *,
             progress: Progress | None = None, seed: int = 0) -> dict[str, Any]:
    """Accuracy, robustness and efficiency of ``scorer``'s model on ``rows``."""
    examples = scorer.task.examples(rows, None)
    if not examples:
        raise DatasetError(f"no {scorer.task.name} examples in {len(rows)} rows to evaluate")
    bar = progress.add_task("evaluating", total=4 + len(KINDS)) if progress else None

    def step(description: str) -> None:
        if progress is not None and bar is not None:
            progress.update(bar, description=description, advance=1)

    predicted = predict_inputs(scorer, [e.text for e in examples], [e.fields for e in examples])
    result: dict[str, Any] = {
        "model": {"task": scorer.task.name, "heads": list(scorer.heads),
                  "classes": {h: len(v) for h, v in scorer.labels.items()},
                  "directory": str(scorer.directory)},
        "rows": len(rows), "examples": len(examples), "seed": seed,
        "accuracy": {head: classification([e.labels.get(head) for e in examples],
                                          predicted.labels[head], known=scorer.labels[head])
                     for head in scorer.heads},
    }
    if isinstance(scorer.task, PredictorTask):
        result["carried_parameters"] = carried_parameters(rows, predicted.labels["next_command"])
    step("accuracy")
    noise = robustness.noise(scorer, examples, seed=seed, step=step)
    step("context sensitivity")
    context = robustness.context(scorer, examples, seed=seed)
    step("edge cases")
    edges = robustness.edge_cases(scorer, examples, seed=seed)
    result["robustness"] = {"rates": list(RATES), **noise, "context": context,
                            "edge_cases": edges}
    step("efficiency")
    result["efficiency"] = efficiency(scorer, examples)
    if progress is not None and bar is not None:
        progress.remove_task(bar)
    return result


def carried_parameters(rows: Sequence[Mapping[str, Any]],
                       predicted: Sequence[str]) -> dict[str, Any]:
    """Share of next-command parameters that history named and carrying forward got right.

    Counted over every parameter of each next command whose name occurs in its
    history; ``with_true_type`` carries for the true command type instead of the
    predicted one, so the two figures separate type errors from carrying errors.
    """
    pairs = transitions(rows)
    if len(pairs) != len(predicted):
        raise ValueError(f"{len(pairs)} transitions but {len(predicted)} predictions")
    total = hit = hit_true = 0
    for (history, target), guess in zip(pairs, predicted, strict=True):
        named = {name for command in history for name in (command.get("parameters") or {})}
        from_guess = carry_parameters(history, guess)
        from_truth = carry_parameters(history, str(target.get("command_type")))
        for name, value in (target.get("parameters") or {}).items():
            if name in named:
                total += 1
                hit += from_guess.get(name) == value
                hit_true += from_truth.get(name) == value
    return {"parameters": total, "accuracy": hit / total if total else None,
            "with_true_type": hit_true / total if total else None}


def headline(result: Mapping[str, Any]) -> dict[str, float]:
    """The figures worth a line: accuracy and macro-F1 per head, the baseline's, worst noise,
    latency."""
    if result["model"]["task"] == "parameter_extractor":
        return extractor_headline(result)
    out: dict[str, float] = {}
    worst_rate = str(result["robustness"]["rates"][-1])
    for head, report in result["accuracy"].items():
        for key in ("accuracy", "macro_f1"):
            if report[key] is not None:
                out[f"{head}.{key}"] = report[key]
        noisy = [by_rate[worst_rate][head] for by_rate in result["robustness"]["perturbed"].values()
                 if by_rate[worst_rate].get(head) is not None]
        if noisy:
            out[f"{head}.worst_noise@{worst_rate}"] = min(noisy)
    baseline = result.get("baseline") or {}
    for key in ("accuracy", "macro_f1"):
        if baseline.get(key) is not None:
            out[f"baseline.{key}"] = baseline[key]
    carried = result.get("carried_parameters") or {}
    if carried.get("accuracy") is not None:
        out["carried_parameters.accuracy"] = carried["accuracy"]
    edges = [h["valid_share"] for case in result["robustness"]["edge_cases"].values()
             for h in case.get("heads", {}).values()]
    crashed = any("error" in case for case in result["robustness"]["edge_cases"].values())
    out["edge_cases.valid_share"] = 0.0 if crashed else min(edges, default=0.0)
    speed = result["efficiency"]
    for key in ("single_p50_us", "single_p99_us", "batched_events_per_s"):
        if speed.get(key) is not None:
            out[key] = speed[key]
    return out


def evaluate_model(settings: Settings, name: str, ref: str = "champion",
                   dataset_id: str | None = None,
                   progress: bool = True) -> tuple[dict[str, Any], Path, Path]:
    """Evaluate registry version ``ref`` of ``name`` on its snapshot's (or ``dataset_id``'s) test
    split; write the report into the version folder and record the figures with the snapshot."""
    version = Registry(settings).get(name, ref)
    version.file("labels.json")  # ModelNotFound with a clear message if the export lacks it
    if name == "parameter_extractor":
        return _evaluate_extractor(settings, version, dataset_id)
    scorer = Scorer(version.path)
    task = scorer.task
    trained_on = version.dataset.get("id") if version.dataset.get("name") == task.dataset else None
    snapshot = open_snapshot(settings, task.dataset, dataset_id or trained_on)
    by: Literal["template", "session"] = (
        "session" if task.split_column == "session_split" else "template")
    rows = snapshot.rows("test", by=by)
    if not rows:
        raise DatasetError(f"{task.dataset} snapshot {snapshot.id} has no test rows")
    columns = (TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True,
                  disable=not progress) as bar:
        result = evaluate(scorer, rows, progress=bar)
        found = fit_baseline(task, snapshot.rows("train", by=by),
                             snapshot.rows("validation", by=by), rows, progress=bar)
    if found is not None:
        result["baseline"] = _beside(found.summary(), result["accuracy"][found.head])
    if snapshot.id == trained_on and "teacher.macro_f1" in version.metrics:
        # the teacher scores offline only; training measured it on this same test split
        result["teacher"] = {key: version.metrics[f"teacher.{key}"]
                             for key in ("macro_f1", "accuracy")}
    if snapshot.id == trained_on and "second_opinion.macro_f1" in version.metrics:
        # the stored answers with the teacher's second opinion, measured at training too
        result["second_opinion"] = {key: version.metrics[f"second_opinion.{key}"]
                                    for key in ("macro_f1", "accuracy", "asked")}
    result["model"].update({"name": name, "version": version.version})
    result["dataset"] = {"name": snapshot.name, "id": snapshot.id, "split": "test", "by": by}
    json_path, md_path = write_report(result, version.path)
    record_usage(snapshot, name, version.version, headline(result))
    return result, json_path, md_path


def _beside(baseline: dict[str, Any], model: Mapping[str, Any]) -> dict[str, Any]:
    """The baseline's summary with ``difference``: the model's figure minus the baseline's."""
    difference = {key: None if model[key] is None or baseline[key] is None
                  else model[key] - baseline[key] for key in ("accuracy", "macro_f1")}
    return {**baseline, "difference": difference}


def _evaluate_extractor(settings: Settings, version: ModelVersion,
                        dataset_id: str | None) -> tuple[dict[str, Any], Path, Path]:
    trained_on = version.dataset.get("id") if version.dataset.get("name") == "commands" else None
    snapshot = open_snapshot(settings, "commands", dataset_id or trained_on)
    rows = snapshot.rows("test")
    if not rows:
        raise DatasetError(f"commands snapshot {snapshot.id} has no test rows")
    result = evaluate_extractor(TagScorer(version.path), rows)
    result["model"].update({"name": version.name, "version": version.version})
    result["dataset"] = {"name": snapshot.name, "id": snapshot.id, "split": "test",
                         "by": "template"}
    json_path, md_path = write_extractor_report(result, version.path)
    record_usage(snapshot, version.name, version.version, extractor_headline(result))
    return result, json_path, md_path
