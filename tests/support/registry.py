"""Registering stand-in model versions (the registry only hashes and copies files)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from streamtune.models.registry import ModelVersion, Registry

NAME = "intent_classifier"


def fake_files(folder: Path, tag: str) -> dict[str, Path]:
    """Tiny stand-ins: the registry only hashes and copies files."""
    folder.mkdir(parents=True, exist_ok=True)
    onnx = folder / "model.onnx"
    onnx.write_bytes(b"onnx-bytes-" + tag.encode())
    labels = folder / "labels.json"
    labels.write_text(json.dumps(["restart_device", "set_parameter"]))
    return {"model.onnx": onnx, "labels.json": labels}


def register(registry: Registry, tmp_path: Path, tag: str, **extra: Any) -> ModelVersion:
    return registry.register(
        NAME, fake_files(tmp_path / f"src-{tag}", tag),
        dataset={"name": "commands-2026-01", "id": f"ds-{tag}"},
        hyperparameters={"learning_rate": 0.001, "epochs": 5, "batch_size": 256},
        metrics={"accuracy": 0.93, "macro_f1": 0.9125},
        architecture={"kind": "embedding_bag_mlp", "embedding_dim": 64, "hidden": [128]},
        usage="Feed hashed token ids of normalized_input.", **extra)
