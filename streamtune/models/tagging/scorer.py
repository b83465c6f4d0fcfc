"""Extract parameter spans with an exported tagger in onnxruntime, without importing torch.

A :class:`TagScorer` opens a model folder (``model.onnx`` + ``labels.json``),
tokenizes and hashes texts with the stored featurizer settings and returns, per
text, the :class:`~streamtune.models.tagging.tokens.Span` s of the argmax tags
with character offsets into that text. One intra-op thread by default.

Examples
--------
>>> scorer = TagScorer(Path("models/parameter_extractor/v1"))      # doctest: +SKIP
>>> scorer.extract(["set speed of mixer-6 to 333 rpm"])            # doctest: +SKIP
[[Span(name='device', start=13, end=20, value='mixer-6', confidence=0.99),
  Span(name='rpm', start=24, end=27, value='333', confidence=0.99)]]
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from streamtune.models.tagging.features import TagFeaturizer
from streamtune.models.tagging.tokens import Span, Token, decode


class TagScorer:
    """An onnxruntime session over one exported ``parameter_extractor``."""

    def __init__(self, directory: Path, *, threads: int = 1) -> None:
        import onnxruntime as ort

        meta = json.loads((directory / "labels.json").read_text())
        self.directory = directory
        self.labels: list[str] = meta["labels"]
        self.featurizer = TagFeaturizer(**meta["featurizer"])
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(str(directory / "model.onnx"), options,
                                             providers=["CPUExecutionProvider"])

    def logits(self, ids: np.ndarray) -> np.ndarray:
        """``[batch, tokens, labels]`` logits of an id array."""
        return np.asarray(self._session.run(None, {"ids": ids})[0])

    def extract(self, texts: Sequence[str]) -> list[list[Span]]:
        """The parameter spans of each text (offsets into that text)."""
        if not texts:
            return []
        ids, tokens = self.featurizer.batch(texts)
        return spans_from_logits(texts, tokens, self.logits(ids), self.labels)


def spans_from_logits(texts: Sequence[str], tokens: Sequence[Sequence[Token]],
                      logits: np.ndarray, labels: Sequence[str]) -> list[list[Span]]:
    """Argmax tags per token -> spans, with each token's softmax probability as confidence."""
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    probabilities = shifted / shifted.sum(axis=-1, keepdims=True)
    best = probabilities.argmax(axis=-1)
    out = []
    for i, (text, row) in enumerate(zip(texts, tokens, strict=True)):
        n = len(row)
        tags = [labels[k] for k in best[i, :n]]
        out.append(decode(text, row, tags, probabilities[i, np.arange(n), best[i, :n]].tolist()))
    return out
