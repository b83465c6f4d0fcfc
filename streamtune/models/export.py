"""Export a trained model to ONNX and prove the export computes what torch computes.

The graph takes ``ids`` (int64 ``[batch, tokens]``, both dynamic) and returns
one float32 logits output per head. :func:`export_model` writes the ONNX file
and ``labels.json`` (task, heads, label vocabularies, featurizer settings),
which is all :class:`~streamtune.models.scoring.Scorer` needs.
"""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from streamtune.models.training.trainer import TrainedModel

PARITY_TOLERANCE = 1e-4
PARITY_SHAPES = ((1, 1), (1, 7), (3, 17), (16, 96), (64, 40))


def export_model(trained: TrainedModel, directory: Path) -> dict[str, Path]:
    """Write ``model.onnx``, ``labels.json`` and ``weights.pt`` into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    onnx_path = directory / "model.onnx"
    example = torch.ones((2, trained.featurizer.max_tokens), dtype=torch.int64)
    write_onnx(trained.model, example, list(trained.labels), onnx_path)
    labels_path = directory / "labels.json"
    labels_path.write_text(json.dumps(metadata(trained), indent=2))
    weights_path = directory / "weights.pt"
    trained.checkpoint().save(weights_path)
    return {"model.onnx": onnx_path, "labels.json": labels_path, "weights.pt": weights_path}


def write_onnx(model: torch.nn.Module, example: torch.Tensor, outputs: list[str],
               path: Path) -> None:
    """Export ``model`` taking ``ids`` with dynamic batch and token axes (dims 0 and 1)."""
    batch, tokens = torch.export.Dim("batch"), torch.export.Dim("tokens")
    for chatty in ("torch.onnx", "onnx_ir", "onnxscript"):
        logging.getLogger(chatty).setLevel(logging.ERROR)
    with warnings.catch_warnings():  # the exporter's own deprecation chatter, not ours
        warnings.simplefilter("ignore", FutureWarning)
        program = torch.onnx.export(
            model.eval(), (example,), dynamo=True, external_data=False, verbose=False,
            input_names=["ids"], output_names=outputs,
            dynamic_shapes={"ids": {0: batch, 1: tokens}},
        )
    if program is None:
        raise RuntimeError("torch.onnx.export returned no program")
    program.save(str(path))


def metadata(trained: TrainedModel) -> dict[str, Any]:
    """What a scorer reads beside the ONNX file."""
    return {"task": trained.task.name, "heads": list(trained.labels),
            "labels": trained.labels, "featurizer": trained.featurizer.config()}


def parity(trained: TrainedModel, onnx_path: Path, *, seed: int = 0) -> float:
    """Largest absolute logit difference between torch and onnxruntime over varied shapes."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(seed)
    worst = 0.0
    model = trained.model.eval()
    for batch, tokens in PARITY_SHAPES:
        ids = rng.integers(0, trained.featurizer.width, size=(batch, tokens), dtype=np.int64)
        ids[:, tokens // 2:] *= rng.integers(0, 2, size=(batch, tokens - tokens // 2))  # padding
        with torch.no_grad():
            expected = [t.numpy() for t in model(torch.from_numpy(ids))]
        got = session.run(None, {"ids": ids})
        for a, b in zip(expected, got, strict=True):
            worst = max(worst, float(np.abs(a - np.asarray(b)).max()))
    return worst
