"""One optimiser step for the hashed-embedding networks: SparseAdam for the embedding, AdamW
for everything else, the learning rate set from the step plan every step (the dense layers'
scaled by ``dense_lr_factor``: the embedding's rows are each stepped rarely, the layers
on every step). A static sub-word table, when the model has one, is stepped by SparseAdam
at ``static_lr_factor`` times the rate, or frozen with 0."""

from __future__ import annotations

import torch
from torch import nn


class Optimiser:
    """The two optimisers of a model whose ``embedding`` is a sparse ``nn.Embedding``."""

    def __init__(self, model: nn.Module, learning_rate: float, weight_decay: float, *,
                 dense_lr_factor: float = 1.0, static_lr_factor: float = 0.0) -> None:
        embedding = model.get_submodule("embedding")
        if not isinstance(embedding, nn.Embedding):
            raise TypeError("the model's embedding is not an nn.Embedding")
        static = getattr(model, "static", None)
        groups = [{"params": [embedding.weight], "factor": 1.0}]
        if isinstance(static, nn.Embedding):
            static.weight.requires_grad_(static_lr_factor > 0)
            if static_lr_factor > 0:
                groups.append({"params": [static.weight], "factor": static_lr_factor})
        self._sparse = torch.optim.SparseAdam(groups, lr=learning_rate)
        self._dense = torch.optim.AdamW(
            [p for n, p in model.named_parameters()
             if n not in ("embedding.weight", "static.weight")],
            lr=learning_rate, weight_decay=weight_decay)
        self._dense_factor = dense_lr_factor

    def step(self, loss: torch.Tensor, learning_rate: float) -> float:
        """Back-propagate ``loss`` and step both optimisers at ``learning_rate``; the loss."""
        for group in self._sparse.param_groups:
            group["lr"] = learning_rate * group["factor"]
        for group in self._dense.param_groups:
            group["lr"] = learning_rate * self._dense_factor
        self._sparse.zero_grad()
        self._dense.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        self._sparse.step()  # type: ignore[no-untyped-call]
        self._dense.step()
        return float(loss.detach())
