"""Per-token hashed features for the tagger, in numpy only (the scorer never imports torch).

Each token gets a fixed ``K`` ids (CRC-32 into ``buckets - 1`` ids, 0 =
padding, the same hash as :mod:`streamtune.models.features`): the token, its
lowercase form, its shape (``pump-3`` -> ``x-9``), up to ``grams`` boundary-marked
character 3-grams, the lowercase neighbours at -2..+2, the shapes at -1 and +1,
the command's first two words (its context) and whether the token is first or
last. A text becomes an ``[tokens, K]`` matrix; a batch ``[batch, tokens, K]``.

Examples
--------
>>> f = TagFeaturizer(buckets=1024)
>>> f.matrix(["restart", "pump-3"]).shape
(2, 20)
>>> shape("ALM-1001"), shape("174.9")
('X-9', '9.9')
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from streamtune.models.features import _hash
from streamtune.models.tagging.tokens import Token, tokenize

_RUNS = re.compile(r"(.)\1+")


@dataclass(frozen=True, slots=True)
class TagFeaturizer:
    """Tokens -> ``[tokens, K]`` int64 ids; ``K = width``."""

    buckets: int = 1 << 16
    max_tokens: int = 64
    grams: int = 8

    @property
    def width(self) -> int:
        """Ids per token: token, lower, shape, grams, 4 neighbours, 2 shapes, 2 words, edge."""
        return 3 + self.grams + 4 + 2 + 2 + 1

    def features(self, words: Sequence[str], i: int) -> list[str]:
        """The feature strings of token ``i`` (before hashing; absent ones are skipped)."""
        word = words[i]
        lower = word.lower()
        marked = f"<{lower}>"
        grams = [marked[j:j + 3] for j in range(max(1, len(marked) - 2))][: self.grams]
        out = [f"t:{word}", f"l:{lower}", f"s:{shape(word)}", *(f"c:{g}" for g in grams)]
        for offset in (-2, -1, 1, 2):
            j = i + offset
            if 0 <= j < len(words):
                out.append(f"n{offset:+d}:{words[j].lower()}")
        for offset in (-1, 1):
            j = i + offset
            out.append(f"s{offset:+d}:{shape(words[j]) if 0 <= j < len(words) else '^$'}")
        out += [f"f{k}:{w.lower()}" for k, w in enumerate(words[:2])]
        if i == 0 or i == len(words) - 1:
            out.append(f"e:{'first' if i == 0 else 'last'}")
        return out

    def matrix(self, words: Sequence[str]) -> np.ndarray:
        """``[min(len(words), max_tokens), width]`` ids, zero-padded per token."""
        words = words[: self.max_tokens]
        out = np.zeros((len(words), self.width), dtype=np.int64)
        for i in range(len(words)):
            ids = [_hash(f, self.buckets) for f in self.features(words, i)]
            out[i, : len(ids)] = ids[: self.width]
        return out

    def batch(self, texts: Sequence[str]) -> tuple[np.ndarray, list[list[Token]]]:
        """``[batch, longest, width]`` ids (padding tokens all 0) and each text's kept tokens."""
        tokens = [tokenize(text)[: self.max_tokens] for text in texts]
        return stack([self.matrix([t.text for t in row]) for row in tokens], self.width), tokens

    def config(self) -> dict[str, int]:
        """Plain settings, stored beside a model so its scorer hashes the same way."""
        return asdict(self)


def shape(word: str) -> str:
    """Letters -> ``X``/``x``, digits -> ``9``, runs collapsed: ``pump-3`` -> ``x-9``."""
    mapped = "".join("X" if c.isupper() else "x" if c.isalpha() else "9" if c.isdigit() else c
                     for c in word)
    return _RUNS.sub(r"\1", mapped)


def stack(matrices: Sequence[np.ndarray], width: int) -> np.ndarray:
    """Zero-pad ``[tokens_i, width]`` matrices to one ``[batch, longest, width]`` array."""
    longest = max((len(m) for m in matrices), default=0)
    out = np.zeros((len(matrices), max(1, longest), width), dtype=np.int64)
    for i, m in enumerate(matrices):
        out[i, : len(m)] = m
    return out
