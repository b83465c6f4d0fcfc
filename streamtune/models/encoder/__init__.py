"""The pretrained sentence encoder (all-MiniLM-L6-v2) in plain torch, for the teacher model.

Names load lazily: the scorer tokenizes with :class:`WordPiece` without importing torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from streamtune.models.encoder.checkpoint import model_dir
    from streamtune.models.encoder.minilm import MiniLM
    from streamtune.models.encoder.sentences import SentenceEncoder
    from streamtune.models.encoder.wordpiece import WordPiece

_HOME = {"MiniLM": "minilm", "SentenceEncoder": "sentences", "WordPiece": "wordpiece",
         "model_dir": "checkpoint"}
__all__ = ["MiniLM", "SentenceEncoder", "WordPiece", "model_dir"]


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOME[name]}"), name)
