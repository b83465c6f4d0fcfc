"""What users do to command text: typos, casing, stray whitespace, other scripts, pastes.

Each function takes the clean text and a seeded generator and returns the
noisy text; :func:`apply_noise` picks at most one kind per command at the
rates in :data:`NOISE_RATES`. All outputs stay within the 2000-character
bound of ``CommandEvent.raw_input``.
"""

from __future__ import annotations

import random
from itertools import accumulate

MAX_INPUT_CHARS = 2000
"""Bound of ``CommandEvent.raw_input`` (``streamtune.schemas.bounds.Text``)."""

NOISE_RATES: dict[str, float] = {
    "typo": 0.06,
    "casing": 0.05,
    "whitespace": 0.02,
    "unicode": 0.01,
    "long": 0.003,
}
"""Share of commands whose raw input gets each kind of noise."""

_THRESHOLDS = tuple(zip(NOISE_RATES, accumulate(NOISE_RATES.values()), strict=True))
_NEIGHBOURS = {
    "a": "qs", "b": "vn", "c": "xv", "d": "sf", "e": "wr", "f": "dg", "g": "fh", "h": "gj",
    "i": "uo", "j": "hk", "k": "jl", "l": "k", "m": "n", "n": "bm", "o": "ip", "p": "o",
    "q": "w", "r": "et", "s": "ad", "t": "ry", "u": "yi", "v": "cb", "w": "qe", "x": "zc",
    "y": "tu", "z": "x",
}
_PREFIXES = ("срочно: ", "bitte ", "⚠ ", "请 ", "urgente: ", "à faire: ", "緊急 ")
_SUFFIXES = (" 🔧", " ✅", " — спасибо", " (urgent ‼)", " 👍", " danke schön", " ok？")
_HOMOGLYPHS = {"a": "а", "e": "е", "o": "о", "p": "р", "c": "с", "x": "х"}  # Cyrillic
_PASTE = (
    "2026-01-01T08:00:00Z WARN pressure above setpoint on header 2",
    "operator note: line was stopped for cleaning, check seals before restart",
    "ERROR modbus read failed code=0x0B retry=3",
    "see ticket OPS-4711 for context, escalated by night shift",
    "values: 12.5 13.1 12.9 13.4 14.0 13.8",
)


def typo(text: str, rng: random.Random) -> str:
    """One or two keyboard slips: swapped, dropped, doubled or neighbouring letters."""
    for _ in range(rng.choice((1, 1, 1, 2))):
        letters = [i for i, ch in enumerate(text) if ch.isalpha()]
        if len(letters) < 3:
            return text
        i = rng.choice(letters[:-1])
        op = rng.random()
        if op < 0.35:
            text = text[:i] + text[i + 1] + text[i] + text[i + 2:]
        elif op < 0.65:
            text = text[:i] + text[i + 1:]
        elif op < 0.8:
            text = text[:i] + text[i] + text[i:]
        else:
            near = _NEIGHBOURS.get(text[i].lower(), text[i])
            text = text[:i] + rng.choice(near) + text[i + 1:]
    return text


def casing(text: str, rng: random.Random) -> str:
    """SHOUTING, Title Case, a capitalised first letter, or random caps (same length)."""
    op = rng.random()
    if op < 0.3:
        return text.upper()
    if op < 0.55:
        return text.title()
    if op < 0.85:
        return text[:1].upper() + text[1:]
    return "".join(ch.upper() if rng.random() < 0.3 else ch for ch in text)


def whitespace(text: str, rng: random.Random) -> str:
    """Leading/trailing blanks, doubled spaces or a tab between words."""
    gap = rng.choice(("  ", "\t", "   "))
    text = text.replace(" ", gap, 1) if " " in text else text
    return rng.choice(("", " ", "  ", "\t")) + text + rng.choice((" ", "  ", "\n", " \t"))


def mixed_script(text: str, rng: random.Random) -> str:
    """A word from another script, an emoji, or Cyrillic look-alike letters."""
    op = rng.random()
    if op < 0.35:
        return rng.choice(_PREFIXES) + text
    if op < 0.7:
        return text + rng.choice(_SUFFIXES)
    swappable = [i for i, ch in enumerate(text) if ch in _HOMOGLYPHS]
    if not swappable:
        return text + rng.choice(_SUFFIXES)
    i = rng.choice(swappable)
    return text[:i] + _HOMOGLYPHS[text[i]] + text[i + 1:]


def long_input(text: str, rng: random.Random) -> str:
    """The command followed by a pasted log, up to just under the 2000-character bound."""
    target = rng.randint(MAX_INPUT_CHARS - 60, MAX_INPUT_CHARS)
    parts = [text, " // "]
    size = len(text) + 4
    while size < target:
        piece = rng.choice(_PASTE) + " | "
        parts.append(piece)
        size += len(piece)
    return "".join(parts)[:target]


_NOISE = {"typo": typo, "casing": casing, "whitespace": whitespace,
          "unicode": mixed_script, "long": long_input}


def apply_noise(text: str, rng: random.Random) -> tuple[str, str | None]:
    """Return the raw input a user typed for ``text`` and the kind of noise (or ``None``)."""
    draw = rng.random()
    for kind, threshold in _THRESHOLDS:
        if draw < threshold:
            return _NOISE[kind](text, rng)[:MAX_INPUT_CHARS], kind
    return text, None
