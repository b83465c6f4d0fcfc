"""Hashed token features shared by every model, in numpy only (the scorer never imports torch).

A text becomes word unigrams, word bigrams and boundary-marked character
3-grams of each word; named extra fields become ``name=value`` tokens. Every
token is hashed (CRC-32, stable across processes and machines) into
``buckets - 1`` ids; id 0 is padding. Hashing needs no vocabulary, so a new
word or command type never invalidates a trained model's inputs.

With ``subwords`` (the size of MiniLM's WordPiece vocabulary) the text's
WordPiece pieces come first, as ids ``buckets + piece``: the network looks
those up in its static sub-word table (:mod:`~streamtune.models.encoder.static`).
Tokenizing is plain Python (no torch); a text's ids are cached by text.

Examples
--------
>>> f = Featurizer(buckets=1024, max_tokens=8)
>>> f.tokens("Restart pump-3", {"shift": "night"})[:4]
['w:restart', 'w:pump-3', 'b:restart pump-3', 'c:<re']
>>> f.batch(["restart pump-3", ""]).shape
(2, 8)
"""

from __future__ import annotations

import re
import zlib
from array import array
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

import numpy as np

_WORD = re.compile(r"[^\W_]+(?:[-_.:/][^\W_]+)*", re.UNICODE)


@dataclass(frozen=True, slots=True)
class Featurizer:
    """Text (and named fields) -> padded int64 id matrices for an embedding bag."""

    buckets: int = 1 << 16
    max_tokens: int = 96
    char_ngram: int = 3
    subwords: int = 0

    def tokens(self, text: str, fields: Mapping[str, Any] | None = None) -> list[str]:
        """Every token of ``text`` plus one ``f:name=value`` token per non-empty field."""
        out = list(_text_tokens(text.lower(), self.char_ngram))
        for name, value in (fields or {}).items():
            if value not in (None, ""):
                out.append(f"f:{name}={value}")
        return out

    def ids(self, text: str, fields: Mapping[str, Any] | None = None) -> list[int]:
        """Hashed ids of :meth:`tokens`, fields first so truncation keeps them, then sub-words."""
        field_ids = [_hash(t, self.buckets) for t in self.tokens("", fields)]
        text_ids = _text_ids(text.lower(), self.char_ngram, self.buckets, self.subwords)
        return (field_ids + list(text_ids))[: self.max_tokens]

    def batch(self, texts: Sequence[str],
              fields: Sequence[Mapping[str, Any] | None] | None = None) -> np.ndarray:
        """A ``[len(texts), max_tokens]`` int64 matrix, zero-padded; empty text -> all zeros."""
        rows = np.zeros((len(texts), self.max_tokens), dtype=np.int64)
        for i, text in enumerate(texts):
            ids = self.ids(text, fields[i] if fields is not None else None)
            rows[i, : len(ids)] = ids
        return rows

    @property
    def width(self) -> int:
        """Ids range over ``[0, width)``: hashed buckets, then the sub-word vocabulary."""
        return self.buckets + self.subwords

    def config(self) -> dict[str, int]:
        """Plain settings, stored beside a model so its scorer hashes the same way."""
        return asdict(self)


def _hash(token: str, buckets: int) -> int:
    return zlib.crc32(token.encode("utf-8")) % (buckets - 1) + 1


def _text_tokens(text: str, n: int) -> tuple[str, ...]:
    words = _WORD.findall(text)
    out = [f"w:{w}" for w in words]
    out += [f"b:{a} {b}" for a, b in zip(words, words[1:], strict=False)]
    for word in words:
        marked = f"<{word}>"
        out += [f"c:{marked[i:i + n]}" for i in range(max(1, len(marked) - n + 1))]
    return tuple(out)


@lru_cache(maxsize=65_536)
def _text_ids(text: str, n: int, buckets: int, subwords: int) -> array[int]:
    """A text's ids, cached: as 4-byte ints, since a serving worker meets many distinct
    texts (~0.6 KB per text kept with its key; a tuple of ints, with the tokens cached
    too, took ~5.7 KB: ~370 MB once the cache is full)."""
    pieces = _subword_ids(text, buckets, subwords) if subwords else ()
    return array("i", (*pieces, *(_hash(t, buckets) for t in _text_tokens(text, n))))


@lru_cache(maxsize=1)
def _wordpiece() -> Any:
    from streamtune.models.encoder.checkpoint import model_dir
    from streamtune.models.encoder.wordpiece import WordPiece

    return WordPiece(model_dir() / "vocab.txt")


def _subword_ids(text: str, buckets: int, vocabulary: int) -> tuple[int, ...]:
    tokenizer = _wordpiece()
    if len(tokenizer.vocab) != vocabulary:
        raise ValueError(f"the model expects {vocabulary} sub-words, the tokenizer has "
                         f"{len(tokenizer.vocab)}")
    return tuple(buckets + i for i in tokenizer.encode(text)[1:-1])
