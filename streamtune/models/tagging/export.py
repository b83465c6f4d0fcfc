"""Export a trained tagger to ONNX and prove the export computes what torch computes.

The graph takes ``ids`` (int64 ``[batch, tokens, K]``; batch and tokens
dynamic) and returns ``tags``, float32 ``[batch, tokens, labels]`` logits.
``labels.json`` holds the task name, the tag labels and the featurizer
settings: all :class:`~streamtune.models.tagging.scorer.TagScorer` needs.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from streamtune.models.export import PARITY_TOLERANCE, write_onnx
from streamtune.models.tagging.training import HEAD, TASK, TrainedTagger

__all__ = ["PARITY_TOLERANCE", "export_tagger", "tagger_parity"]
PARITY_SHAPES = ((1, 1), (1, 7), (3, 17), (16, 64), (64, 40))


def export_tagger(trained: TrainedTagger, directory: Path) -> dict[str, Path]:
    """Write ``model.onnx``, ``labels.json`` and ``weights.pt`` into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    onnx_path = directory / "model.onnx"
    model = trained.model.eval()
    example = torch.ones((2, 5, trained.featurizer.width), dtype=torch.int64)
    write_onnx(model, example, [HEAD], onnx_path)
    labels_path = directory / "labels.json"
    labels_path.write_text(json.dumps({"task": TASK, "heads": [HEAD], "labels": trained.labels,
                                       "featurizer": trained.featurizer.config()}, indent=2))
    weights_path = directory / "weights.pt"
    trained.checkpoint().save(weights_path)
    return {"model.onnx": onnx_path, "labels.json": labels_path, "weights.pt": weights_path}


def tagger_parity(trained: TrainedTagger, onnx_path: Path, *, seed: int = 0) -> float:
    """Largest absolute logit difference between torch and onnxruntime over varied shapes."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(seed)
    width, worst = trained.featurizer.width, 0.0
    model = trained.model.eval()
    for batch, tokens in PARITY_SHAPES:
        ids = rng.integers(0, trained.featurizer.buckets, size=(batch, tokens, width),
                           dtype=np.int64)
        ids *= rng.integers(0, 2, size=ids.shape)                      # padded ids
        ids[:, tokens // 2:] *= rng.integers(0, 2, size=(batch, tokens - tokens // 2, 1))
        with torch.no_grad():
            expected = model(torch.from_numpy(ids)).numpy()
        got = np.asarray(session.run(None, {"ids": ids})[0])
        worst = max(worst, float(np.abs(expected - got).max()))
    return worst
