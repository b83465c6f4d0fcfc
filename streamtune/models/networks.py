"""The torch networks: a hashed embedding bag under a small MLP, with one linear head per target.

Chosen by measurement on 2-core machines (DESIGN.md, "Models and detectors"):
the bag trains 50k examples in seconds and scores one event in ~20 us in
onnxruntime (~33 us with the static sub-word table; ~16 us per event in a batch
either way); a 2-layer transformer was 7-40x slower to train and no better.
The input is the ``[batch, tokens]`` id matrix of
:class:`~streamtune.models.features.Featurizer` (id 0 = padding); the pooled
embedding is the masked mean (or sum over root count), so padding never changes
a prediction.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


class BagClassifier(nn.Module):
    """Embedding bag -> MLP -> one logits tensor per head, in ``heads`` order.

    With ``skip`` each head also reads the pooled embedding through a linear
    layer of its own (a wide path beside the deep one): lexical evidence then
    reaches the logits as directly as in a linear model over n-grams, which is
    what few-shot classes need. ``pooling`` is ``mean`` or ``sqrt`` (the sum over
    the square root of the token count, like an L2-normalised bag).

    With ``subwords`` a second bag, the static sub-word table (``[subwords,
    static_dim]``, pretrained: :mod:`~streamtune.models.encoder.static`), reads
    the ids from ``buckets`` on; the two pooled bags are concatenated.
    """

    def __init__(self, buckets: int, dim: int, hidden: int, heads: dict[str, int],
                 dropout: float = 0.1, *, skip: bool = False, pooling: str = "mean",
                 subwords: int = 0, static_dim: int = 0) -> None:
        super().__init__()
        if pooling not in ("mean", "sqrt"):
            raise ValueError(f"pooling must be mean or sqrt, not {pooling!r}")
        self.architecture: dict[str, Any] = {
            "kind": "hashed_embedding_bag_mlp", "buckets": buckets, "dim": dim,
            "hidden": hidden, "heads": dict(heads), "dropout": dropout, "skip": skip,
            "pooling": pooling, "subwords": subwords, "static_dim": static_dim if subwords else 0,
        }
        self.pooling = pooling
        self.buckets = buckets
        self.embedding = nn.Embedding(buckets, dim, padding_idx=0, sparse=True)
        self.static = (nn.Embedding(subwords, static_dim, padding_idx=0, sparse=True)
                       if subwords else None)
        width = dim + (static_dim if subwords else 0)
        self.body = nn.Sequential(nn.Linear(width, hidden), nn.GELU(), nn.Dropout(dropout))
        self.heads = nn.ModuleDict({name: nn.Linear(hidden, n) for name, n in heads.items()})
        self.skips = nn.ModuleDict(
            {name: nn.Linear(width, n, bias=False) for name, n in heads.items()} if skip else {})

    @classmethod
    def from_architecture(cls, arch: dict[str, Any]) -> BagClassifier:
        """The network an ``architecture`` dict describes (older ones: no skip, mean, no table)."""
        return cls(arch["buckets"], arch["dim"], arch["hidden"], dict(arch["heads"]),
                   arch.get("dropout", 0.1), skip=arch.get("skip", False),
                   pooling=arch.get("pooling", "mean"), subwords=arch.get("subwords", 0),
                   static_dim=arch.get("static_dim", 0))

    def load_static(self, table: torch.Tensor) -> None:
        """Set the sub-word table (``[subwords, static_dim]``); row 0, padding, becomes zero."""
        if self.static is None or tuple(table.shape) != tuple(self.static.weight.shape):
            raise ValueError(f"a static table of shape {tuple(table.shape)} does not fit")
        with torch.no_grad():
            self.static.weight.copy_(table)
            self.static.weight[0] = 0.0

    def _norm(self, count: torch.Tensor) -> torch.Tensor:
        """What a bag's sum is divided by: its token count (or its root), at least 1."""
        count = count.clamp(min=1).to(self.embedding.weight.dtype)
        return count.sqrt() if self.pooling == "sqrt" else count

    def forward(self, ids: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if self.static is None:
            mask = (ids != 0).unsqueeze(-1).to(self.embedding.weight.dtype)
            summed = (self.embedding(ids) * mask).sum(dim=1)
            pooled = summed / self._norm(mask.sum(dim=1))
        else:  # both padding rows are zero, so the sums need no mask
            piece = ids >= self.buckets
            pieces = piece.sum(dim=1, keepdim=True)
            hashed = (ids != 0).sum(dim=1, keepdim=True) - pieces
            pooled = torch.cat([
                self.embedding(ids.masked_fill(piece, 0)).sum(dim=1) / self._norm(hashed),
                self.static((ids - self.buckets).clamp(min=0)).sum(dim=1) / self._norm(pieces),
            ], dim=1)
        hidden = self.body(pooled)
        if not self.skips:
            return tuple(head(hidden) for head in self.heads.values())
        return tuple(head(hidden) + self.skips[name](pooled)
                     for name, head in self.heads.items())

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
        if name in self.skips:
            skip = self.skips[name]
            if not isinstance(skip, nn.Linear):
                raise TypeError(f"skip path {name} is not a linear layer")
            wider = nn.Linear(skip.in_features, size, bias=False)
            with torch.no_grad():
                wider.weight.zero_()
                wider.weight[: skip.out_features] = skip.weight
            self.skips[name] = wider
        self.architecture["heads"][name] = size
