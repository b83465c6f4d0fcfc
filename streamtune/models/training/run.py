"""Train one model from a dataset snapshot into the registry: the whole ``streamtune train``.

snapshot -> staged training (warm-started from the champion when it has one)
-> ONNX export -> parity check -> test-split metrics -> registered version.
The first version of a model becomes its champion; later ones become the
challenger, for the canary to judge. The snapshot records which model used it.
Training reads only the snapshot, never the live store.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from rich.progress import Progress

from streamtune.config import Settings
from streamtune.errors import StreamtuneError
from streamtune.models.datasets import Snapshot, open_snapshot, record_usage
from streamtune.models.evaluation.metrics import classification
from streamtune.models.evaluation.predict import predict_inputs
from streamtune.models.export import PARITY_TOLERANCE, export_model, parity
from streamtune.models.registry import ModelVersion, Registry
from streamtune.models.scoring import Scorer
from streamtune.models.tasks import TASKS, RecoveryTask, Task
from streamtune.models.training.trainer import Checkpoint, TrainedModel, train


class TrainingError(StreamtuneError):
    """A model cannot be trained (unknown name, empty split, failed parity)."""


@dataclass(frozen=True)
class TrainResult:
    """What one ``streamtune train`` produced."""

    version: ModelVersion
    trained: TrainedModel
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
    if name not in TASKS:
        raise TrainingError(f"unknown model {name!r}; use one of {', '.join(TASKS)}")
    if name == "error_recovery" and not any(
            isinstance(r.get("correction"), dict) and r["correction"].get("action")
            for r in rows):
        return RecoveryTask(("error_type", "error_category"), type_as_input=False)
    return TASKS[name]


def train_model(settings: Settings, name: str, *, dataset_id: str | None = None,
                warm_start: bool = True, progress: Progress | None = None) -> TrainResult:
    """Train ``name`` on a snapshot (default: the latest) and register the result."""
    if name not in TASKS:
        raise TrainingError(f"unknown model {name!r}; use one of {', '.join(TASKS)}")
    snapshot = open_snapshot(settings, TASKS[name].dataset, dataset_id)
    task = task_for_rows(name, snapshot.rows("train"))
    train_rows, validation_rows = split_rows(snapshot, task, "train"), split_rows(
        snapshot, task, "validation")
    if not task.examples(train_rows, None):
        raise TrainingError(f"snapshot {snapshot.id} has no training examples for {name}")
    registry = Registry(settings)
    champion = registry.alias(name, "champion") if warm_start else None
    checkpoint = _warm_checkpoint(champion, task)
    hp = settings.training.for_model(name)
    trained = train(task, train_rows, validation_rows, hp, seed=settings.training.seed,
                    threads=settings.training.threads, warm_start=checkpoint,
                    progress=progress)
    with tempfile.TemporaryDirectory() as tmp:
        files = export_model(trained, Path(tmp))
        worst = parity(trained, files["model.onnx"])
        if worst > PARITY_TOLERANCE:
            raise TrainingError(f"ONNX export of {name} differs from torch by {worst:.2e}")
        metrics = test_metrics(Scorer(Path(tmp)), split_rows(snapshot, task, "test"))
        metrics["train_seconds"] = round(trained.seconds, 2)
        metrics["onnx_parity_max_abs_diff"] = worst
        version = registry.register(
            name, files, dataset={"name": snapshot.name, "id": snapshot.id},
            hyperparameters={**trained.hyperparameters, "seed": settings.training.seed,
                             "stages": trained.history},
            metrics=metrics, architecture=trained.model.architecture,
            parent=champion.version if checkpoint is not None and champion else None,
            usage=_usage(name))
    alias = "champion" if champion is None and registry.alias(name, "champion") is None \
        else "challenger"
    if alias == "champion":
        registry.promote(name, version.version, reason="first version")
    else:
        registry.set_challenger(name, version.version)
    record_usage(snapshot, name, version.version, metrics)
    return TrainResult(version, trained, snapshot, worst, metrics, alias)


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
