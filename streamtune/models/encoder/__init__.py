"""The pretrained sentence encoder (all-MiniLM-L6-v2) in plain torch, for the teacher model."""

from streamtune.models.encoder.minilm import MiniLM, model_dir
from streamtune.models.encoder.sentences import SentenceEncoder
from streamtune.models.encoder.wordpiece import WordPiece

__all__ = ["MiniLM", "SentenceEncoder", "WordPiece", "model_dir"]
