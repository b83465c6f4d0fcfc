"""Sentence embeddings kept on disk by text, so a retrain encodes only texts it has not seen.

Control-system commands repeat: the drift loop's retrains and every ``train`` on a
grown snapshot meet mostly texts an earlier run encoded. Each run that encodes new
texts adds one chunk (``.npz``: the texts and their float32 rows) under a directory
named by the encoder package's version, written to a temporary name and renamed, so
concurrent trainers never read half a chunk. Past ``MAX_CHUNKS`` the chunks are
merged into one that keeps the ``MAX_TEXTS`` latest texts (chunks are named by time);
a chunk that cannot be read is skipped (and re-encoded), never fatal.

>>> import tempfile; from pathlib import Path
>>> store = Remembered(Path(tempfile.mkdtemp()))
>>> store.add(["open valve 3"], np.ones((1, 4), dtype=np.float32))
>>> Remembered(store.directory.parent).load()["open valve 3"].tolist()
[1.0, 1.0, 1.0, 1.0]
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from importlib.metadata import version
from pathlib import Path

import numpy as np

from streamtune.models.encoder.checkpoint import PACKAGE

log = logging.getLogger(__name__)

MAX_CHUNKS = 32
"""Chunks kept before they are merged into one."""
MAX_TEXTS = 100_000
"""Texts a merge keeps, the latest (~150 MB at 384 float32 dimensions)."""


class Remembered:
    """The embeddings of one encoder version under ``root`` (a cache directory)."""

    def __init__(self, root: Path) -> None:
        self.directory = root / f"sentences-{version(PACKAGE.replace('_', '-'))}"

    def load(self) -> dict[str, np.ndarray]:
        """Every remembered text's row."""
        return _rows(self._chunks())

    def add(self, texts: list[str], vectors: np.ndarray) -> None:
        """Remember ``texts``' rows (one new chunk; merged once there are too many)."""
        if not texts:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        _write(self.directory, texts, vectors)
        chunks = self._chunks()
        if len(chunks) > MAX_CHUNKS:
            self._merge(chunks)

    def _chunks(self) -> list[Path]:
        return sorted(self.directory.glob("*.npz")) if self.directory.is_dir() else []

    def _merge(self, chunks: list[Path]) -> None:
        rows = _rows(chunks)
        latest = list(rows)[-MAX_TEXTS:]
        _write(self.directory, latest, np.stack([rows[text] for text in latest]))
        for chunk in chunks:  # another trainer may have merged them already
            chunk.unlink(missing_ok=True)


def _rows(chunks: list[Path]) -> dict[str, np.ndarray]:
    """The rows of ``chunks`` by text, a later chunk's row winning."""
    rows: dict[str, np.ndarray] = {}
    for chunk in chunks:
        texts, vectors = _read(chunk)
        rows.update(zip(texts, vectors, strict=True))
    return rows


def _read(chunk: Path) -> tuple[list[str], np.ndarray]:
    try:
        with np.load(chunk, allow_pickle=False) as data:
            texts, vectors = data["texts"].tolist(), data["vectors"]
        if len(texts) != len(vectors):
            raise ValueError(f"{len(texts)} texts for {len(vectors)} rows")
    except (OSError, ValueError, KeyError) as exc:
        log.warning("skipping unreadable embedding chunk %s: %s", chunk.name, exc)
        return [], np.zeros((0, 0), dtype=np.float32)
    return texts, vectors


def _write(directory: Path, texts: list[str], vectors: np.ndarray) -> None:
    name = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}"  # sorted by name: by time
    partial = directory / f"{name}.tmp"
    with partial.open("wb") as out:
        np.savez(out, texts=np.array(texts, dtype=str),
                 vectors=np.asarray(vectors, dtype=np.float32))
    os.replace(partial, directory / f"{name}.npz")
