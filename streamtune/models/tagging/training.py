"""Staged, seeded, CPU-only training of the ``parameter_extractor`` tagger.

Two stages of ``epochs_per_stage`` each, every one with its own
warmup/cosine/final step plan (:mod:`~streamtune.models.training.regime`):

1. broad_adaptation: every labelled row, augmented ones included (paraphrases,
   reordered words, new values), plus a copy of each with a keyboard slip in a
   word outside the values (:func:`~streamtune.models.tagging.metrics.with_typos`);
2. original_specialization: original rows only, at half the learning rate.

The embedding is sparse and stepped by SparseAdam's update (``RowAdam``), the rest by
AdamW, as in :mod:`~streamtune.models.training.trainer`. A warm start loads a previous
``weights.pt`` and appends the tags of parameter names it has not seen, so old
tags keep their learned rows. Validation token accuracy and span F1 are
recorded after each stage.
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

from streamtune.config import ModelTraining
from streamtune.models.tagging.features import TagFeaturizer, stack
from streamtune.models.tagging.metrics import span_metrics, with_typos
from streamtune.models.tagging.network import TokenTagger
from streamtune.models.tagging.scorer import spans_from_logits
from streamtune.models.tagging.tokens import OUTSIDE, Span, bio_tags, labelled, tokenize
from streamtune.models.training.optimise import Optimiser
from streamtune.models.training.regime import Regime, step_plan
from streamtune.models.training.trainer import Checkpoint

TASK = "parameter_extractor"
HEAD = "tags"


@dataclass
class TrainedTagger:
    """A trained tagger with everything needed to export and score it."""

    model: TokenTagger
    featurizer: TagFeaturizer
    labels: list[str]
    hyperparameters: dict[str, Any]
    history: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    warm_started: bool = False

    def checkpoint(self) -> Checkpoint:
        return Checkpoint.capture(self.model, {HEAD: self.labels}, self.featurizer.config(),
                                  self.model.architecture)

    def extract(self, texts: Sequence[str]) -> list[list[Span]]:
        """Spans of ``texts`` in torch (the exported scorer gives the same)."""
        ids, tokens = self.featurizer.batch(texts)
        self.model.eval()
        with torch.no_grad():
            logits = self.model(torch.from_numpy(ids)).numpy()
        return spans_from_logits(texts, tokens, logits, self.labels)


@dataclass(frozen=True)
class Encoded:
    """Rows as per-row id matrices and tag indices."""

    ids: list[np.ndarray]
    tags: list[np.ndarray]


def tag_vocabulary(names: set[str], keep: Sequence[str] = ()) -> list[str]:
    """``keep`` (a previous model's, in order) then ``O`` and B-/I- tags of new names, sorted."""
    out = list(keep) or [OUTSIDE]
    for name in sorted(names):
        out += [t for t in (f"B-{name}", f"I-{name}") if t not in out]
    return out


def encode(rows: Sequence[Mapping[str, Any]], featurizer: TagFeaturizer,
           labels: Sequence[str]) -> Encoded:
    """Labelled, token-aligned rows -> ids and tag indices (-1: a tag outside ``labels``)."""
    index = {label: i for i, label in enumerate(labels)}
    ids, tags = [], []
    for row in rows:
        found = labelled(row)
        tokens = tokenize(found[0])[: featurizer.max_tokens] if found else []
        if found is None or not tokens:
            continue
        row_tags = bio_tags(tokens, [s for s in found[1] if s[2] <= tokens[-1].end])
        if row_tags is None:
            continue
        ids.append(featurizer.matrix([t.text for t in tokens]))
        tags.append(np.array([index.get(t, -1) for t in row_tags], dtype=np.int64))
    return Encoded(ids, tags)


def train_tagger(train_rows: Sequence[Mapping[str, Any]],
                 validation_rows: Sequence[Mapping[str, Any]], hp: ModelTraining, *,
                 seed: int = 0, threads: int = 1, warm_start_path: Path | None = None,
                 progress: Progress | None = None, layers: int = 1) -> TrainedTagger:
    """Train through both stages; deterministic for a given seed and thread count."""
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    rng = np.random.default_rng(seed)
    started = time.perf_counter()
    featurizer = TagFeaturizer(buckets=hp.buckets, max_tokens=hp.max_tokens)
    warm = Checkpoint.load(warm_start_path) if warm_start_path is not None else None
    names = {name for row in train_rows for name, _, _ in (labelled(row) or ("", []))[1]}
    labels = tag_vocabulary(names, warm.labels[HEAD] if warm is not None else ())
    model = _build(hp, len(labels), warm, featurizer, layers)
    trained = TrainedTagger(model, featurizer, labels, hp.model_dump() | {"layers": layers},
                            warm_started=warm is not None)
    original = [r for r in train_rows if not r.get("synthetic")]
    broad = [*train_rows, *with_typos(train_rows, seed)]
    stages = (("broad_adaptation", "all labelled rows incl. augmented, + a typo copy of each",
               broad, 1.0),
              ("original_specialization", "original labelled rows", original, 0.5))
    for name, mix, rows, lr_scale in stages:
        data = encode(rows, featurizer, labels)
        regime = Regime(hp.learning_rate * lr_scale, hp.batch_size, hp.start_batch,
                        hp.warmup_ratio, hp.final_ratio, hp.final_lr_factor)
        loss = _run_stage(model, name, data, regime, hp, rng, progress)
        entry: dict[str, Any] = {"stage": name, "mix": mix, "examples": len(data.ids),
                                 "epochs": hp.epochs_per_stage, "final_loss": loss}
        if validation_rows:
            texts = [found[0] for r in validation_rows if (found := labelled(r))]
            scores = span_metrics(validation_rows, trained.extract(texts))
            entry["validation_span_f1"] = scores["micro"]["f1"]
            entry["validation_token_accuracy"] = scores["token_accuracy"]
        trained.history.append(entry)
    trained.seconds = time.perf_counter() - started
    model.eval()
    return trained


def _build(hp: ModelTraining, size: int, warm: Checkpoint | None, featurizer: TagFeaturizer,
           layers: int) -> TokenTagger:
    if warm is None or warm.featurizer != featurizer.config():
        return TokenTagger(hp.buckets, hp.dim, hp.hidden, max(1, size), layers=layers)
    arch = warm.architecture
    model = TokenTagger(arch["buckets"], arch["dim"], arch["hidden"], arch["labels"],
                        layers=arch["layers"], kernel=arch["kernel"], pooled=arch["pooled"],
                        dropout=arch["dropout"])
    model.load_state_dict(warm.state_dict)
    model.grow_labels(size)
    return model


def _run_stage(model: TokenTagger, name: str, data: Encoded, regime: Regime,
               hp: ModelTraining, rng: np.random.Generator, progress: Progress | None) -> float:
    if not data.ids:
        return float("nan")
    plan = step_plan(int(len(data.ids) * hp.epochs_per_stage), regime)
    optimiser = Optimiser(model, regime.learning_rate, hp.weight_decay)
    criterion = nn.CrossEntropyLoss(label_smoothing=hp.label_smoothing, ignore_index=-1)
    width = model.architecture["labels"]
    order, cursor, last = rng.permutation(len(data.ids)), 0, float("nan")
    task_id = progress.add_task(name, total=len(plan)) if progress else None
    model.train()
    for step in plan:
        if cursor + step.batch_size > len(order):
            order, cursor = rng.permutation(len(data.ids)), 0
        batch = order[cursor:cursor + step.batch_size]
        cursor += step.batch_size
        ids = stack([data.ids[i] for i in batch], data.ids[0].shape[1])
        target = np.full(ids.shape[:2], -1, dtype=np.int64)
        for row, i in enumerate(batch):
            target[row, : len(data.tags[i])] = data.tags[i]
        logits = model(torch.from_numpy(ids))
        loss = criterion(logits.reshape(-1, width), torch.from_numpy(target).reshape(-1))
        last = optimiser.step(loss, step.learning_rate)
        if progress is not None and task_id is not None:
            progress.advance(task_id)
    if progress is not None and task_id is not None:
        progress.remove_task(task_id)
    return last
