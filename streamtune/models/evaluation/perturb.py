"""Seeded text perturbations at set rates, and edge-case inputs, for robustness figures.

Each perturbation hits every word independently with probability ``rate``:
``typo`` makes one character edit in it (swap two neighbours, drop one, or
insert a neighbouring key), ``shuffle`` moves the hit words among their
positions, ``casing`` re-cases it, ``drop`` removes it. The random stream is
seeded by (seed, kind, rate, text), so a text is perturbed the same way in
every run and regardless of the other texts.

Examples
--------
>>> perturb("restart pump-3 now", "drop", 0.0, seed=1)
'restart pump-3 now'
>>> perturb("restart pump-3 now", "typo", 0.3, seed=1) == perturb(
...     "restart pump-3 now", "typo", 0.3, seed=1)
True
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable

KINDS = ("typo", "shuffle", "casing", "drop")
RATES = (0.1, 0.2, 0.3)
_KEYS = string.ascii_lowercase + string.digits


def _typo(word: str, rng: random.Random) -> str:
    if len(word) < 2:
        return word + rng.choice(_KEYS)
    i = rng.randrange(len(word) - 1)
    edit = rng.randrange(3)
    if edit == 0:
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    if edit == 1:
        return word[:i] + word[i + 1:]
    return word[:i] + rng.choice(_KEYS) + word[i:]


def _case(word: str, rng: random.Random) -> str:
    style = rng.randrange(3)
    if style == 0:
        return word.upper()
    if style == 1:
        return word.title()
    return "".join(c.upper() if rng.random() < 0.5 else c for c in word)


def _per_word(edit: Callable[[str, random.Random], str]) -> Callable[[list[str], float,
                                                                     random.Random], list[str]]:
    def apply(words: list[str], rate: float, rng: random.Random) -> list[str]:
        return [edit(w, rng) if rng.random() < rate else w for w in words]
    return apply


def _shuffle(words: list[str], rate: float, rng: random.Random) -> list[str]:
    hit = [i for i in range(len(words)) if rng.random() < rate]
    moved = [words[i] for i in hit]
    rng.shuffle(moved)
    out = list(words)
    for i, word in zip(hit, moved, strict=True):
        out[i] = word
    return out


def _drop(words: list[str], rate: float, rng: random.Random) -> list[str]:
    return [w for w in words if rng.random() >= rate]


_APPLY = {"typo": _per_word(_typo), "shuffle": _shuffle, "casing": _per_word(_case),
          "drop": _drop}


def perturb(text: str, kind: str, rate: float, *, seed: int = 0) -> str:
    """``text`` with perturbation ``kind`` applied to each word with probability ``rate``."""
    if kind not in _APPLY:
        raise ValueError(f"unknown perturbation {kind!r}; use one of {', '.join(KINDS)}")
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"rate must be within [0, 1], not {rate}")
    rng = random.Random(f"{seed}|{kind}|{rate}|{text}")  # noqa: S311 - noise, not secrets
    return " ".join(_APPLY[kind](text.split(), rate, rng))


EDGE_CASES = ("empty", "very_long", "unknown_tokens", "mixed_scripts")
_SCRIPTS = ("перезапустить насос", "重启泵", "أعد تشغيل المضخة", "ポンプ再起動", "αντλία")


def edge_case(kind: str, base: str, *, rng: random.Random) -> str:
    """An edge-case input: empty, ~10k characters, random strings, or ``base`` in mixed scripts."""
    if kind == "empty":
        return ""
    if kind == "very_long":
        filler = (base or "status") + " "
        return (filler * (10_000 // len(filler) + 1))[:10_000]
    if kind == "unknown_tokens":
        return " ".join("".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(
            4, 12))) for _ in range(rng.randint(1, 6)))
    if kind == "mixed_scripts":
        words = base.split() + [rng.choice(_SCRIPTS) for _ in range(2)]
        rng.shuffle(words)
        return " ".join(words)
    raise ValueError(f"unknown edge case {kind!r}; use one of {', '.join(EDGE_CASES)}")
