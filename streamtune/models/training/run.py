"""Train one model from a dataset snapshot into the registry: the whole ``streamtune train``.

snapshot -> staged training (warm-started from the champion when it has one)
-> ONNX export -> parity check -> test-split metrics -> registered version. A
classifier's metrics also hold the TF-IDF + logistic regression baseline's
(``baseline.macro_f1``, ``baseline.accuracy``: the first head, same split), the
bar the offline gate holds a candidate to, and with a teacher the teacher's
(``teacher.macro_f1``, ``teacher.accuracy``) beside the inline student's.
The first version of a model becomes its champion; later ones become the
challenger, for the canary to judge. The snapshot records which model used it.
Training reads only the snapshot, never the live store.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from rich.progress import Progress

from streamtune.config import MODEL_TRAINING, Settings
from streamtune.errors import TrainingError
from streamtune.models.datasets import Snapshot, open_snapshot, record_usage
from streamtune.models.detection.scope import OUT_OF_SCOPE_LABEL, ScopeThreshold
from streamtune.models.evaluation.baseline import fit_baseline
from streamtune.models.evaluation.metrics import classification
from streamtune.models.evaluation.predict import predict_inputs
from streamtune.models.export import PARITY_TOLERANCE, export_model, parity
from streamtune.models.registry import ModelVersion, Registry
from streamtune.models.scoring import Scorer
from streamtune.models.tasks import TASKS, RecoveryTask, Task
from streamtune.models.tasks.base import Example
from streamtune.models.training.second_opinion import OPINION_FILE, SecondOpinion
from streamtune.models.training.teacher import Teacher, fit_task_teacher, teacher_metrics
from streamtune.models.training.trainer import Checkpoint, train


@dataclass(frozen=True)
class TrainResult:
    """What one ``streamtune train`` produced."""

    version: ModelVersion
    trained: Any  # TrainedModel, or TrainedTagger for the parameter extractor
    snapshot: Snapshot
    parity: float
    metrics: dict[str, float]
    alias: str


def split_rows(snapshot: Snapshot, task: Task, split: str) -> list[dict[str, Any]]:
    """Rows of ``split`` as the task splits them (sessions for the predictor)."""
    by: Literal["template", "session"] = (
        "session" if task.split_column == "session_split" else "template")
    return snapshot.rows(split, by=by)


def task_for_rows(name: str, rows: Sequence[Mapping[str, Any]]) -> Task:
    """The task; an error dataset without corrections (Loghub) learns type and category."""
    if name == "error_recovery" and not any(
            isinstance(r.get("correction"), dict) and r["correction"].get("action")
            for r in rows):
        return RecoveryTask(("error_type", "error_category"), type_as_input=False)
    return TASKS[name]


MODELS = tuple(MODEL_TRAINING)
"""Every model ``streamtune train`` knows."""


@dataclass(frozen=True)
class _Fitted:
    trained: Any  # TrainedModel or TrainedTagger: .history, .seconds, .hyperparameters
    files: dict[str, Path]
    parity: float
    metrics: dict[str, float]
    architecture: dict[str, Any]
    warm_from: str | None


def train_model(settings: Settings, name: str, *, dataset_id: str | None = None,
                warm_start: bool = True, progress: Progress | None = None) -> TrainResult:
    """Train ``name`` on a snapshot (default: the latest) and register the result."""
    if name not in MODELS:
        raise TrainingError(f"unknown model {name!r}; use one of {', '.join(MODELS)}")
    snapshot = open_snapshot(settings, "errors" if name == "error_recovery" else "commands",
                             dataset_id)
    registry = Registry(settings)
    champion = registry.alias(name, "champion") if warm_start else None
    fit = _fit_tagger if name == "parameter_extractor" else _fit_classifier
    with tempfile.TemporaryDirectory() as tmp:
        fitted = fit(settings, name, snapshot, champion, Path(tmp), progress)
        if fitted.parity > PARITY_TOLERANCE:
            raise TrainingError(f"ONNX export of {name} differs from torch by {fitted.parity:.2e}")
        metrics = {**fitted.metrics, "train_seconds": round(fitted.trained.seconds, 2),
                   "onnx_parity_max_abs_diff": fitted.parity}
        version = registry.register(
            name, fitted.files, dataset={"name": snapshot.name, "id": snapshot.id},
            hyperparameters={**fitted.trained.hyperparameters, "seed": settings.training.seed,
                             "stages": fitted.trained.history},
            metrics=metrics, architecture=fitted.architecture, parent=fitted.warm_from,
            usage=_usage(name))
    alias = "challenger" if registry.alias(name, "champion") is not None else "champion"
    if alias == "champion":
        registry.promote(name, version.version, reason="first version")
    else:
        registry.set_challenger(name, version.version)
    record_usage(snapshot, name, version.version, metrics)
    return TrainResult(version, fitted.trained, snapshot, fitted.parity, metrics, alias)


def _fit_classifier(settings: Settings, name: str, snapshot: Snapshot,
                    champion: ModelVersion | None, out: Path,
                    progress: Progress | None) -> _Fitted:
    template_train = snapshot.rows("train")
    task = task_for_rows(name, template_train)
    train_rows = (template_train if task.split_column == "split"
                  else split_rows(snapshot, task, "train"))
    if not task.examples(train_rows, None):
        raise TrainingError(f"snapshot {snapshot.id} has no training examples for {name}")
    checkpoint = _warm_checkpoint(champion, task)
    validation_rows = split_rows(snapshot, task, "validation")
    hp = settings.training.for_model(name)
    teacher = (fit_task_teacher(task, train_rows, validation_rows,
                                threads=settings.training.threads, progress=progress,
                                cache=settings.cache_dir)
               if hp.teacher else None)
    trained = train(task, train_rows, validation_rows, hp, seed=settings.training.seed,
                    threads=settings.training.threads, warm_start=checkpoint,
                    teacher=teacher, progress=progress, cache=settings.cache_dir)
    files = export_model(trained, out)
    if hp.scope_false_alarm:
        calibrate_scope(out, validation_rows, hp.scope_false_alarm)
    scorer = Scorer(out)  # with its flag, when calibrated
    opinion = None
    if teacher is not None and hp.second_opinion_share:
        opinion = keep_second_opinion(scorer, teacher, validation_rows,
                                      share=hp.second_opinion_share,
                                      false_alarm=hp.scope_false_alarm)
        if opinion is not None:
            files[OPINION_FILE] = out / OPINION_FILE
    test_rows = split_rows(snapshot, task, "test")
    metrics = test_metrics(scorer, test_rows)
    if opinion is not None:
        metrics.update(second_opinion_metrics(opinion, scorer, test_rows))
    if teacher is not None:
        trained.hyperparameters["teacher"] = teacher.summary()
        metrics.update(teacher_metrics(teacher, task, test_rows))
    baseline = fit_baseline(task, train_rows, validation_rows, test_rows, progress=progress)
    if baseline is not None:
        metrics.update(baseline.metrics())
    return _Fitted(trained, files, parity(trained, files["model.onnx"]), metrics,
                   trained.model.architecture,
                   champion.version if checkpoint is not None and champion else None)


def _fit_tagger(settings: Settings, name: str, snapshot: Snapshot,
                champion: ModelVersion | None, out: Path,
                progress: Progress | None) -> _Fitted:
    from streamtune.models.tagging import (
        TagScorer,
        export_tagger,
        labelled,
        span_metrics,
        tagger_parity,
        train_tagger,
    )

    train_rows = snapshot.rows("train")
    if not any(labelled(row) for row in train_rows):
        raise TrainingError(f"snapshot {snapshot.id} has no rows with parameter boundaries")
    warm = champion.file("weights.pt") if champion is not None else None
    trained = train_tagger(train_rows, snapshot.rows("validation"),
                           settings.training.for_model(name), seed=settings.training.seed,
                           threads=settings.training.threads, warm_start_path=warm,
                           progress=progress)
    files = export_tagger(trained, out)
    test_rows = [r for r in snapshot.rows("test") if not r.get("synthetic")]
    texts = [found[0] for r in test_rows if (found := labelled(r))]
    scores = span_metrics(test_rows, TagScorer(out).extract(texts))
    metrics = {"test_rows": float(scores["rows"]), "span.micro_f1": scores["micro"]["f1"],
               "span.macro_f1": scores["macro"]["f1"], "token_accuracy": scores["token_accuracy"]}
    architecture = {"kind": "token_tagger_conv_pooled_context", "labels": len(trained.labels),
                    **{k: trained.hyperparameters[k] for k in ("buckets", "dim", "hidden",
                                                               "max_tokens", "layers")}}
    return _Fitted(trained, files, tagger_parity(trained, files["model.onnx"]), metrics,
                   architecture, champion.version if warm is not None and champion else None)


def test_metrics(scorer: Scorer, rows: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """Accuracy and macro-F1 per head on ``rows``, as ``<head>.accuracy`` / ``<head>.macro_f1``."""
    examples = scorer.task.examples(rows, None)
    if not examples:
        return {}
    predicted = predict_inputs(scorer, [e.text for e in examples], [e.fields for e in examples])
    out: dict[str, float] = {"test_examples": float(len(examples))}
    for head in scorer.heads:
        result = classification([e.labels.get(head) for e in examples], predicted.labels[head],
                                known=scorer.labels[head])
        if result["examples"]:
            out[f"{head}.accuracy"] = result["accuracy"]
            out[f"{head}.macro_f1"] = result["macro_f1"]
    if scorer.scope is not None:
        out.update(_scope_metrics(scorer, scorer.scope, examples))
    return out


def calibrate_scope(directory: Path, validation_rows: Sequence[Mapping[str, Any]],
                    false_alarm: float) -> None:
    """Store the first head's out-of-scope threshold, calibrated on ``validation_rows``,
    in the version's ``labels.json`` (no labelled validation input: no flag)."""
    scorer = Scorer(directory)
    head = scorer.heads[0]
    examples = scorer.task.examples(validation_rows, None)
    truth = [e.labels.get(head) for e in examples]
    if not any(t is not None for t in truth):
        return
    probabilities = scorer.probabilities_of([e.text for e in examples],
                                            [e.fields for e in examples])[head]
    scope = ScopeThreshold.calibrate(head, scorer.labels[head], probabilities, truth,
                                     false_alarm=false_alarm)
    path = directory / "labels.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "scope": scope.to_json()},
                               indent=2))


def keep_second_opinion(scorer: Scorer, teacher: Teacher,
                        validation_rows: Sequence[Mapping[str, Any]], *, share: float,
                        false_alarm: float) -> SecondOpinion | None:
    """Calibrate the teacher's second opinion on ``validation_rows`` against the student
    ``scorer`` reads and store it in its folder (None without labelled validation input)."""
    head = scorer.heads[0]
    examples = [e for e in scorer.task.examples(validation_rows, None)
                if e.labels.get(head) is not None]
    if not examples:
        return None
    texts = [e.text for e in examples]
    student = scorer.probabilities_of(texts, [e.fields for e in examples])[head].max(axis=1)
    opinion = SecondOpinion.calibrate(teacher, student, teacher.probabilities(texts),
                                      [str(e.labels[head]) for e in examples], share=share,
                                      false_alarm=false_alarm)
    opinion.save(scorer.directory)
    return opinion


def second_opinion_metrics(opinion: SecondOpinion, scorer: Scorer,
                           rows: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """Accuracy and macro-F1 of the answers stored in the end on ``rows`` (the teacher's
    where the student was unsure, else the student's; best labels, no flag) and the share
    the teacher answered, as ``second_opinion.*``."""
    head = scorer.heads[0]
    examples = [e for e in scorer.task.examples(rows, None) if e.labels.get(head) is not None]
    if not examples:
        return {}
    texts = [e.text for e in examples]
    probabilities = scorer.probabilities_of(texts, [e.fields for e in examples])[head]
    labels = scorer.labels[head]
    stored, unsure = opinion.stored(texts, probabilities.max(axis=1),
                                    [labels[best] for best in probabilities.argmax(axis=1)],
                                    flagged=False)
    found = classification([e.labels[head] for e in examples], stored, known=labels)
    return {"second_opinion.macro_f1": float(found["macro_f1"]),
            "second_opinion.accuracy": float(found["accuracy"]),
            "second_opinion.asked": float(unsure.mean())}


def _scope_metrics(scorer: Scorer, scope: ScopeThreshold,
                   examples: Sequence[Example]) -> dict[str, float]:
    """Share of test inputs flagged out of scope; with ``oos`` rows, its recall too."""
    probabilities = scorer.probabilities_of([e.text for e in examples],
                                            [e.fields for e in examples])[scope.head]
    flags = scope.flag(probabilities)
    truth = np.array([e.labels.get(scope.head) == OUT_OF_SCOPE_LABEL for e in examples])
    out = {f"{scope.head}.out_of_scope_rate": float(flags[~truth].mean()) if (~truth).any()
           else 0.0}
    if truth.any():
        out[f"{scope.head}.oos_recall"] = float(flags[truth].mean())
    return out


def _warm_checkpoint(champion: ModelVersion | None, task: Task) -> Checkpoint | None:
    if champion is None:
        return None
    checkpoint = Checkpoint.load(champion.file("weights.pt"))
    if set(checkpoint.labels) != set(task.heads):
        return None  # a different target set: nothing to carry over
    return checkpoint


def _usage(name: str) -> str:
    return (f"Scored inline by the worker. By hand: `streamtune evaluate {name}`; in Python: "
            "`Scorer(version.path).predict([event, ...])` (onnxruntime, no torch).")
