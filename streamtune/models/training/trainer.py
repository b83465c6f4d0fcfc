"""Staged, seeded, CPU-only training of a :class:`~streamtune.models.networks.BagClassifier`.

Each stage of the task gets its own examples (its data mix) and its own step
plan (:mod:`~streamtune.models.training.regime`); the embedding is sparse and
stepped by SparseAdam's update (``RowAdam``), the rest by AdamW. A warm start loads the
champion's weights and grows each head by the labels it has not seen, so old classes keep
their learned rows. With a teacher the first head also learns the teacher's
probabilities (knowledge distillation: ``distill_weight`` of the loss is the
KL divergence at temperature ``distill_temperature``). With ``static`` the
network also gets the static sub-word table (:mod:`~streamtune.models.encoder.static`,
cached under ``cache``, by default the settings' ``cache_dir``). After every stage the
validation accuracy is recorded.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.progress import Progress
from torch import nn
from torch.nn import functional as F

from streamtune.config import ModelTraining, get_settings
from streamtune.models.features import Featurizer
from streamtune.models.networks import BagClassifier
from streamtune.models.tasks.base import Example, Stage, Task, label_vocabulary
from streamtune.models.training.optimise import Optimiser
from streamtune.models.training.regime import Regime, step_plan
from streamtune.models.training.teacher import Teacher


@dataclass(frozen=True)
class Checkpoint:
    """What a warm start needs from a trained model (saved as ``weights.pt``)."""

    state_dict: dict[str, torch.Tensor]
    labels: dict[str, list[str]]
    featurizer: dict[str, int]
    architecture: dict[str, Any]

    def save(self, path: Any) -> None:
        torch.save({"state_dict": self.state_dict, "labels": self.labels,
                    "featurizer": self.featurizer, "architecture": self.architecture}, path)

    @classmethod
    def capture(cls, model: torch.nn.Module, labels: dict[str, list[str]],
                featurizer: dict[str, int], architecture: dict[str, Any]) -> Checkpoint:
        """A detached copy of ``model``'s weights with what a warm start needs beside them."""
        return cls({k: v.detach().clone() for k, v in model.state_dict().items()},
                   labels, featurizer, architecture)

    @classmethod
    def load(cls, path: Any) -> Checkpoint:
        data = torch.load(path, map_location="cpu", weights_only=True)
        return cls(data["state_dict"], data["labels"], data["featurizer"], data["architecture"])


@dataclass
class TrainedModel:
    """A trained network with everything needed to export and score it."""

    task: Task
    model: BagClassifier
    featurizer: Featurizer
    labels: dict[str, list[str]]
    hyperparameters: dict[str, Any]
    history: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    warm_started: bool = False

    def checkpoint(self) -> Checkpoint:
        return Checkpoint.capture(self.model, self.labels, self.featurizer.config(),
                                  self.model.architecture)


def restore(checkpoint: Checkpoint, meta: Mapping[str, Any]) -> TrainedModel:
    """A trained model back from its checkpoint and ``labels.json`` (for re-export)."""
    from streamtune.models.scoring import task_for

    model = BagClassifier.from_architecture(checkpoint.architecture)
    model.load_state_dict(checkpoint.state_dict)
    return TrainedModel(task_for(meta["task"], meta["heads"]), model.eval(),
                        Featurizer(**checkpoint.featurizer), checkpoint.labels, {})


def encode(examples: Sequence[Example], featurizer: Featurizer,
           labels: Mapping[str, Sequence[str]]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Id matrix and per-head label indices (-1 = missing or unknown label)."""
    ids = featurizer.batch([e.text for e in examples], [e.fields for e in examples])
    targets = {}
    for head, vocabulary in labels.items():
        index = {label: i for i, label in enumerate(vocabulary)}
        targets[head] = np.array([index.get(str(e.labels.get(head)), -1) for e in examples],
                                 dtype=np.int64)
    return ids, targets


def train(task: Task, train_rows: Sequence[Mapping[str, Any]],
          validation_rows: Sequence[Mapping[str, Any]], hp: ModelTraining, *,
          seed: int = 0, threads: int = 1, warm_start: Checkpoint | None = None,
          teacher: Teacher | None = None, progress: Progress | None = None,
          cache: Path | None = None) -> TrainedModel:
    """Train ``task`` through its stages; deterministic for a given seed and thread count."""
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    rng = np.random.default_rng(seed)
    started = time.perf_counter()
    table = _static_table(hp, cache, threads)
    featurizer = Featurizer(buckets=hp.buckets, max_tokens=hp.max_tokens,
                            subwords=0 if table is None else len(table))
    stages = task.stages({"total_epochs": hp.total_epochs,
                          "epochs_per_stage": hp.epochs_per_stage})
    all_examples = [e for stage in stages for e in task.examples(train_rows, stage)]
    labels = {head: label_vocabulary(all_examples, head,
                                     warm_start.labels.get(head, []) if warm_start else [])
              for head in task.heads}
    if teacher is not None:  # rows without a label still learn the teacher's classes
        head = task.heads[0]
        labels[head] += sorted(set(teacher.labels) - set(labels[head]))
    model = _build(hp, labels, warm_start, featurizer, table)
    val_ids, val_targets = encode(task.examples(validation_rows, None), featurizer, labels)
    trained = TrainedModel(task, model, featurizer, labels, hp.model_dump(),
                           warm_started=warm_start is not None)
    for stage in stages:
        examples = task.examples(train_rows, stage)
        ids, targets = encode(examples, featurizer, labels)
        soft = (teacher.probabilities([e.text for e in examples], labels[task.heads[0]])
                if teacher is not None and examples else None)
        regime = Regime(hp.learning_rate * stage.lr_scale, hp.batch_size, hp.start_batch,
                        hp.warmup_ratio, hp.final_ratio, hp.final_lr_factor)
        loss = _run_stage(model, stage, ids, targets, regime, hp, rng, progress, soft)
        entry = {"stage": stage.name, "mix": stage.mix, "examples": len(examples),
                 "epochs": stage.epochs, "final_loss": loss}
        entry.update({f"validation_accuracy.{head}": value
                      for head, value in accuracy(model, val_ids, val_targets).items()})
        trained.history.append(entry)
    trained.seconds = time.perf_counter() - started
    model.eval()
    return trained


def distillation_loss(logits: torch.Tensor, teacher: torch.Tensor,
                      temperature: float) -> torch.Tensor:
    """``T^2 * KL(teacher^(1/T) || softmax(logits / T))``, batch mean (Hinton et al., 2015)."""
    target = F.softmax(torch.log(teacher.clamp(min=1e-9)) / temperature, dim=1)
    student = F.log_softmax(logits / temperature, dim=1)
    return F.kl_div(student, target, reduction="batchmean") * temperature ** 2


def accuracy(model: BagClassifier, ids: np.ndarray,
             targets: Mapping[str, np.ndarray]) -> dict[str, float]:
    """Accuracy per head over rows that have a label."""
    if len(ids) == 0:
        return {}
    model.eval()
    with torch.no_grad():
        outputs = model(torch.from_numpy(ids))
    model.train()
    out = {}
    for (head, target), logits in zip(targets.items(), outputs, strict=True):
        known = target >= 0
        if known.any():
            predicted = logits.argmax(dim=1).numpy()
            out[head] = float((predicted[known] == target[known]).mean())
    return out


def _static_table(hp: ModelTraining, cache: Path | None, threads: int) -> torch.Tensor | None:
    if not hp.static:
        return None
    from streamtune.models.encoder.static import static_vectors

    return torch.tensor(static_vectors(hp.dim, cache=cache or get_settings().cache_dir,
                                       threads=threads))


def _build(hp: ModelTraining, labels: Mapping[str, list[str]], warm: Checkpoint | None,
           featurizer: Featurizer, table: torch.Tensor | None) -> BagClassifier:
    fresh = BagClassifier(hp.buckets, hp.dim, hp.hidden,
                          {h: max(1, len(v)) for h, v in labels.items()}, skip=hp.skip,
                          pooling=hp.pooling, subwords=featurizer.subwords,
                          static_dim=hp.dim)
    if table is not None:
        fresh.load_static(table)
    if warm is None or warm.featurizer != featurizer.config() or any(
            warm.architecture.get(k, d) != fresh.architecture[k]
            for k, d in (("dim", None), ("hidden", None), ("skip", False),
                         ("pooling", "mean"), ("static_dim", 0))):
        return fresh  # a different network: nothing to carry over
    model = BagClassifier.from_architecture(warm.architecture)
    model.load_state_dict(warm.state_dict)
    for head, vocabulary in labels.items():
        model.grow_head(head, max(1, len(vocabulary)))
    return model


def _run_stage(model: BagClassifier, stage: Stage, ids: np.ndarray,
               targets: Mapping[str, np.ndarray], regime: Regime, hp: ModelTraining,
               rng: np.random.Generator, progress: Progress | None,
               soft: np.ndarray | None = None) -> float:
    if len(ids) == 0:
        return float("nan")
    plan = step_plan(int(len(ids) * stage.epochs), regime)
    optimiser = Optimiser(model, regime.learning_rate, hp.weight_decay,
                          dense_lr_factor=hp.dense_lr_factor,
                          static_lr_factor=hp.static_lr_factor)
    criterion = nn.CrossEntropyLoss(label_smoothing=hp.label_smoothing, ignore_index=-1)
    order, cursor, last = rng.permutation(len(ids)), 0, float("nan")
    task_id = progress.add_task(f"{stage.name}", total=len(plan)) if progress else None
    model.train()
    for step in plan:
        if cursor + step.batch_size > len(order):
            order, cursor = rng.permutation(len(ids)), 0
        batch = order[cursor:cursor + step.batch_size]
        cursor += step.batch_size
        outputs = model(torch.from_numpy(ids[batch]))
        losses = [criterion(logits, torch.from_numpy(targets[head][batch]))
                  for head, logits in zip(targets, outputs, strict=True)
                  if (targets[head][batch] >= 0).any()]
        if soft is not None:
            losses = [(1.0 - hp.distill_weight) * loss for loss in losses]
            losses.append(hp.distill_weight * distillation_loss(
                outputs[0], torch.from_numpy(soft[batch]), hp.distill_temperature))
        if not losses:
            continue
        loss = torch.stack(losses).sum()
        last = optimiser.step(loss, step.learning_rate)
        if progress is not None and task_id is not None:
            progress.advance(task_id)
    if progress is not None and task_id is not None:
        progress.remove_task(task_id)
    return last
