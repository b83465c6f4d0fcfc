"""The torch networks: a hashed embedding bag under a small MLP, with one linear head per target.

Chosen by measurement on 2-core machines (DESIGN.md, "Models and detectors"):
the bag trains 50k examples in seconds and scores one event in ~15 us in
onnxruntime; a 2-layer transformer was 7-40x slower to train and no better.
The input is the ``[batch, tokens]`` id matrix of
:class:`~streamtune.models.features.Featurizer` (id 0 = padding); the pooled
embedding is the masked mean, so padding never changes a prediction.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


class BagClassifier(nn.Module):
    """Embedding bag -> MLP -> one logits tensor per head, in ``heads`` order."""

    def __init__(self, buckets: int, dim: int, hidden: int,
                 heads: dict[str, int], dropout: float = 0.1) -> None:
        super().__init__()
        self.architecture: dict[str, Any] = {
            "kind": "hashed_embedding_bag_mlp", "buckets": buckets, "dim": dim,
            "hidden": hidden, "heads": dict(heads), "dropout": dropout,
        }
        self.embedding = nn.Embedding(buckets, dim, padding_idx=0, sparse=True)
        self.body = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout))
        self.heads = nn.ModuleDict({name: nn.Linear(hidden, n) for name, n in heads.items()})

    def forward(self, ids: torch.Tensor) -> tuple[torch.Tensor, ...]:
        mask = (ids != 0).unsqueeze(-1).to(self.embedding.weight.dtype)
        summed = (self.embedding(ids) * mask).sum(dim=1)
        pooled = summed / mask.sum(dim=1).clamp(min=1.0)
        hidden = self.body(pooled)
        return tuple(head(hidden) for head in self.heads.values())

    def grow_head(self, name: str, size: int) -> None:
        """Widen a head to ``size`` classes, keeping the learned rows of the old ones."""
        old = self.heads[name]
        if not isinstance(old, nn.Linear):
            raise TypeError(f"head {name} is not a linear layer")
        if size < old.out_features:
            raise ValueError(f"head {name} cannot shrink from {old.out_features} to {size}")
        new = nn.Linear(old.in_features, size)
        with torch.no_grad():
            new.weight[: old.out_features] = old.weight
            new.bias[: old.out_features] = old.bias
            new.bias[old.out_features:] = old.bias.min()  # new classes start unlikely, not dominant
        self.heads[name] = new
        self.architecture["heads"][name] = size
