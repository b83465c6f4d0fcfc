"""One optimiser step for the hashed-embedding networks: SparseAdam's update for the embedding
(:class:`RowAdam`), AdamW for everything else, the learning rate set from the step plan every
step (the dense layers' scaled by ``dense_lr_factor``: the embedding's rows are each stepped
rarely, the layers on every step). A static sub-word table, when the model has one, is stepped
like the embedding at ``static_lr_factor`` times the rate, or frozen with 0."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn


class RowAdam:
    """``torch.optim.SparseAdam``'s update, number for number (its default betas and eps),
    on the rows a sparse gradient touches, with dense row gathers and scatters instead of
    sparse-tensor arithmetic: about twice as fast. Each group is ``{"params": [...],
    "factor": f}``; its rate is set per step."""

    BETAS = (0.9, 0.999)
    EPS = 1e-8

    def __init__(self, groups: list[dict[str, Any]]) -> None:
        self.param_groups = groups
        self.state: dict[torch.Tensor, dict[str, Any]] = {}

    def zero_grad(self) -> None:
        for group in self.param_groups:
            for param in group["params"]:
                param.grad = None

    @torch.no_grad()
    def step(self, learning_rate: float) -> None:
        beta1, beta2 = self.BETAS
        for group in self.param_groups:
            for param in group["params"]:
                if param.grad is None:
                    continue
                state = self.state.get(param)
                if state is None:
                    state = self.state[param] = {"step": 0, "exp_avg": torch.zeros_like(param),
                                                 "exp_avg_sq": torch.zeros_like(param)}
                state["step"] += 1  # as SparseAdam: also for a gradient without rows
                grad = param.grad.coalesce()
                rows, values = grad.indices()[0], grad.values()
                if not values.numel():
                    continue
                exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
                mean = exp_avg.index_select(0, rows)
                mean.add_((values - mean).mul_(1 - beta1))
                square = exp_avg_sq.index_select(0, rows)
                square.add_((values * values - square).mul_(1 - beta2))
                exp_avg.index_copy_(0, rows, mean)
                exp_avg_sq.index_copy_(0, rows, square)
                step = state["step"]
                size = (learning_rate * group["factor"] * math.sqrt(1 - beta2 ** step)
                        / (1 - beta1 ** step))
                param.index_add_(0, rows, mean.div_(square.sqrt_().add_(self.EPS)).mul_(-size))


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
        self._sparse = RowAdam(groups)
        self._dense = torch.optim.AdamW(
            [p for n, p in model.named_parameters()
             if n not in ("embedding.weight", "static.weight")],
            lr=learning_rate, weight_decay=weight_decay)
        self._dense_factor = dense_lr_factor

    def step(self, loss: torch.Tensor, learning_rate: float) -> float:
        """Back-propagate ``loss`` and step both optimisers at ``learning_rate``; the loss."""
        for group in self._dense.param_groups:
            group["lr"] = learning_rate * self._dense_factor
        self._sparse.zero_grad()
        self._dense.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        self._sparse.step(learning_rate)
        self._dense.step()
        return float(loss.detach())
