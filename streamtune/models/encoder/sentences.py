"""Sentence embeddings of many texts: length-sorted batches, each distinct text encoded once."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import islice
from pathlib import Path

import numpy as np
import torch

from streamtune.models.encoder.checkpoint import model_dir
from streamtune.models.encoder.minilm import MiniLM
from streamtune.models.encoder.remembered import Remembered
from streamtune.models.encoder.wordpiece import WordPiece

BATCH = 64
MAX_LENGTH = 64
"""Tokens per text: commands and requests are short; longer texts keep their start."""


class SentenceEncoder:
    """Texts -> L2-normalised ``[n, 384]`` float32 embeddings, cached by text; with
    ``remember`` (a cache directory) also on disk, across runs (:class:`Remembered`); with
    ``keep``, at most that many in memory (the first cached are forgotten first), for a
    long-running process."""

    def __init__(self, directory: Path | None = None, *, threads: int = 1,
                 remember: Path | None = None, keep: int | None = None) -> None:
        directory = directory or model_dir()
        self.model = MiniLM.pretrained(directory)
        self.tokenizer = WordPiece(directory / "vocab.txt", max_length=MAX_LENGTH)
        self.threads = threads
        self.dim = int(self.model.config["hidden_size"])
        self.remembered = Remembered(remember) if remember is not None else None
        self.keep = keep
        self._cache: dict[str, np.ndarray] = (
            self.remembered.load() if self.remembered is not None else {})

    def embed(self, texts: Sequence[str], *,
              on_batch: Callable[[int], None] | None = None) -> np.ndarray:
        """One row per text; ``on_batch(n)`` after each batch of ``n`` new texts."""
        new = sorted({t for t in texts if t not in self._cache}, key=len)
        previous = torch.get_num_threads()
        torch.set_num_threads(self.threads)
        try:
            with torch.inference_mode():
                for start in range(0, len(new), BATCH):
                    chunk = new[start:start + BATCH]
                    ids = [self.tokenizer.encode(t) for t in chunk]
                    width = max(map(len, ids))
                    matrix = torch.tensor([row + [0] * (width - len(row)) for row in ids])
                    for text, row in zip(chunk, self.model(matrix).numpy(), strict=True):
                        self._cache[text] = row
                    if on_batch is not None:
                        on_batch(len(chunk))
        finally:
            torch.set_num_threads(previous)
        if new and self.remembered is not None:
            self.remembered.add(new, np.stack([self._cache[t] for t in new]))
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        embedded = np.stack([self._cache[t] for t in texts]).astype(np.float32, copy=False)
        if self.keep is not None and len(self._cache) > self.keep:
            for text in list(islice(self._cache, len(self._cache) - self.keep)):
                del self._cache[text]
        return embedded

    def clear(self) -> None:
        """Forget every embedding (what one text costs uncached, for benchmarks)."""
        self._cache.clear()

    def missing(self, texts: Sequence[str]) -> int:
        """How many distinct texts :meth:`embed` would still encode."""
        return len({t for t in texts if t not in self._cache})
