"""Static sub-word vectors distilled from MiniLM (Model2Vec style): pretrained word meaning, cheap.

Every WordPiece vocabulary token is encoded alone (``[CLS] token [SEP]``, the
model's mean pooling), the vectors are reduced by PCA to ``dim`` dimensions and
scaled by a Zipf weight (SIF: ``a / (a + p)``, ``p`` from the token's rank in
the vocabulary, a proxy for its frequency), so frequent pieces count less in a
bag (Tulkens & van Dongen, Model2Vec, 2024), then scaled to unit standard
deviation, like the hashed bag's initial rows. Row 0 (``[PAD]``) is zero. The
encoder's pass takes ~35 s on 2 cores; its ``[vocab, 384]`` result is cached on
disk as ``.npy`` (named by the recipe and the encoder package's version), and any
``dim`` is reduced from it in about a second.
"""

from __future__ import annotations

import time
from functools import lru_cache
from importlib.metadata import version
from pathlib import Path

import numpy as np
import torch

from streamtune.models.encoder.checkpoint import PACKAGE, model_dir
from streamtune.models.encoder.minilm import MiniLM

RECIPE = "minilm-l6-tokens-v1"
"""Part of the cache file's name: a new recipe never reads an old table."""
SIF = 1e-4
_BATCH = 1024


@lru_cache(maxsize=4)
def static_vectors(dim: int = 128, *, cache: Path | None = None, threads: int = 1) -> np.ndarray:
    """The ``[vocab, dim]`` float32 table (read-only); the encoder's pass is read from
    ``cache`` when it is there."""
    table = _reduced(_token_vectors_cached(cache, threads), dim)
    table.flags.writeable = False
    return table


def _token_vectors_cached(cache: Path | None, threads: int) -> np.ndarray:
    name = f"{RECIPE}-{version(PACKAGE.replace('_', '-'))}.npy"
    path = cache / name if cache is not None else None
    if path is not None and path.exists():
        return _loaded(path)
    vectors = token_vectors(model_dir(), threads)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{time.time_ns()}.tmp")
        with partial.open("wb") as out:
            np.save(out, vectors)
        partial.replace(path)
    return vectors


@lru_cache(maxsize=2)
def _loaded(path: Path) -> np.ndarray:
    vectors: np.ndarray = np.load(path)
    vectors.flags.writeable = False
    return vectors


def _reduced(vectors: np.ndarray, dim: int) -> np.ndarray:
    """PCA to ``dim``, Zipf-weight, unit standard deviation; row 0 stays zero."""
    centred = vectors.astype(np.float64) - vectors[1:].mean(axis=0)
    reduced = centred @ _principal_axes(centred[1:], dim).T
    inverse_rank = 1.0 / np.arange(2, len(vectors) + 2)
    reduced *= (SIF / (SIF + inverse_rank / inverse_rank.sum()))[:, None]
    reduced[0] = 0.0
    scaled: np.ndarray = (reduced / reduced[1:].std()).astype(np.float32)
    return scaled


def _principal_axes(centred: np.ndarray, dim: int) -> np.ndarray:
    """The ``dim`` leading principal axes as rows, each signed so that its largest
    loading is positive: the eigenvectors of the ``[384, 384]`` scatter matrix (about a
    second, where an SVD of the ``[vocab, 384]`` matrix takes 10-20 s on 2 cores)."""
    _, eigenvectors = np.linalg.eigh(centred.T @ centred)  # ascending eigenvalues
    axes = eigenvectors[:, ::-1][:, :dim].T
    signs = np.sign(axes[np.arange(len(axes)), np.abs(axes).argmax(axis=1)])
    return np.ascontiguousarray(axes * signs[:, None])


@lru_cache(maxsize=1)
def token_vectors(directory: Path, threads: int = 1) -> np.ndarray:
    """MiniLM's sentence embedding of each vocabulary token alone, ``[vocab, 384]``."""
    with torch.random.fork_rng(devices=[]):  # building the model draws initial weights
        model = MiniLM.pretrained(directory)
    vocab = int(model.config["vocab_size"])
    tokens = (directory / "vocab.txt").read_text(encoding="utf-8").splitlines()
    cls, sep = tokens.index("[CLS]"), tokens.index("[SEP]")
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with torch.inference_mode():
            rows = [model(torch.tensor([[cls, t, sep] for t in range(start, min(vocab,
                                                                               start + _BATCH))]))
                    for start in range(0, vocab, _BATCH)]
    finally:
        torch.set_num_threads(previous)
    vectors: np.ndarray = torch.cat(rows).numpy()
    vectors.flags.writeable = False
    return vectors
