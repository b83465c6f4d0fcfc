"""parameter_extractor: a token tagger that finds parameter values (BIO tags) in command text.

Scoring (:class:`TagScorer`), tokens, spans and metrics need only numpy and
onnxruntime; training and export need torch and are imported on first use, so
``import streamtune.models.tagging`` never imports torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from streamtune.models.tagging.metrics import rule_spans, span_metrics, with_typos
from streamtune.models.tagging.scorer import TagScorer
from streamtune.models.tagging.tokens import Span, Token, bio_tags, decode, labelled, tokenize

if TYPE_CHECKING:
    from streamtune.models.tagging.export import export_tagger, tagger_parity
    from streamtune.models.tagging.training import TrainedTagger, train_tagger

_LAZY = {"export_tagger": "export", "tagger_parity": "export",
         "TrainedTagger": "training", "train_tagger": "training"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Span", "TagScorer", "Token", "TrainedTagger", "bio_tags", "decode", "export_tagger",
    "labelled", "rule_spans", "span_metrics", "tagger_parity", "tokenize", "train_tagger",
    "with_typos",
]
