"""Word tokens with character offsets, BIO tags from parameter spans, and spans back from tags.

Tokens are fine enough that every parameter value of the catalogue starts and
ends on a token edge, coarse enough that names stay whole:

- a name starts with a letter and joins letter or digit runs with ``- _ : / .``
  (``pump-3``, ``mqtt-bridge``, ``alm-1001``, ``example.com``);
- a number is digits with decimal parts and an optional sign (``174.9``,
  ``-441.2``, ``1.4.2``), so ``122C`` -> ``122`` ``C``, ``x15`` -> ``x`` ``15``,
  ``v1.4.2`` -> ``v`` ``1.4.2`` and ``30s`` -> ``30`` ``s``;
- any other visible character is a token of its own (``,`` ``=`` ``%`` ``?``).

A value spanning several tokens is ``B-name`` then ``I-name`` (``30s`` is
``B-delay I-delay``); a span ends at its last token's end, even without a
blank before the next token.

Examples
--------
>>> [t.text for t in tokenize("arm-4 goto 174.9,159.82,-441.2")]
['arm-4', 'goto', '174.9', ',', '159.82', ',', '-441.2']
>>> bio_tags(tokenize("heat boiler-1 to 122C"), [("zone", 5, 13), ("temperature", 17, 20)])
['O', 'B-zone', 'O', 'B-temperature', 'O']
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from streamtune.schemas.commands import COMMANDS

OUTSIDE = "O"
_TOKEN = re.compile(
    r"[^\W\d_]+(?:[-_:/.](?:[^\W\d_]+|\d+))*"  # name: letters, joined runs
    r"|(?<![^\W_])[-+]?\d+(?:\.\d+)*"          # number, signed unless glued to a word
    r"|\d+(?:\.\d+)*"
    r"|\S",
)


@dataclass(frozen=True, slots=True)
class Token:
    """A token and its ``[start, end)`` character offsets in the text."""

    text: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Span:
    """An extracted parameter: name, ``[start, end)`` offsets, the text there, confidence."""

    name: str
    start: int
    end: int
    value: str
    confidence: float = 1.0


def tokenize(text: str) -> list[Token]:
    """The tokens of ``text`` in order."""
    return [Token(m.group(), m.start(), m.end()) for m in _TOKEN.finditer(text)]


def bio_tags(tokens: Sequence[Token], spans: Sequence[tuple[str, int, int]]) -> list[str] | None:
    """One tag per token; ``None`` when a span does not start and end on token edges."""
    tags = [OUTSIDE] * len(tokens)
    starts = {t.start: i for i, t in enumerate(tokens)}
    ends = {t.end: i for i, t in enumerate(tokens)}
    for name, start, end in spans:
        first, last = starts.get(start), ends.get(end)
        if first is None or last is None or last < first:
            return None
        if any(tag != OUTSIDE for tag in tags[first:last + 1]):
            return None  # overlapping spans
        tags[first] = f"B-{name}"
        tags[first + 1:last + 1] = [f"I-{name}"] * (last - first)
    return tags


def decode(text: str, tokens: Sequence[Token], tags: Sequence[str],
           confidences: Sequence[float] | None = None) -> list[Span]:
    """Spans of a tag sequence; an ``I-x`` not after ``B-x``/``I-x`` starts a span too.

    A span's confidence is the smallest confidence of its tokens.
    """
    spans: list[Span] = []
    name, first, low = "", -1, 1.0
    for i, tag in enumerate([*tags, OUTSIDE]):
        kind, _, label = tag.partition("-")
        score = 1.0 if confidences is None or i >= len(tokens) else float(confidences[i])
        if kind == "I" and label == name:
            low = min(low, score)
            continue
        if name:
            start, end = tokens[first].start, tokens[i - 1].end
            spans.append(Span(name, start, end, text[start:end], low))
        name, first, low = (label, i, score) if kind in ("B", "I") else ("", -1, 1.0)
    return spans


def labelled(row: Mapping[str, Any]) -> tuple[str, list[tuple[str, int, int]]] | None:
    """The text a command row's ``parameter_boundaries`` index, and its spans; else ``None``.

    Boundaries index ``raw_input`` when the producer sent them and
    ``normalized_input`` when annotation found them: the text where every span's
    slice equals its ``value`` wins (raw first). A catalogued row must span
    every required parameter, so a row whose parameters were lost is not taught
    as "no parameters here".
    """
    bounds = row.get("parameter_boundaries")
    if not isinstance(bounds, list):
        return None
    spans = [(str(b["name"]), int(b["start"]), int(b["end"])) for b in bounds]
    spec = COMMANDS.get(str(row.get("command_type")))
    if spec is not None and {p.name for p in spec.params if p.required} - {n for n, _, _ in spans}:
        return None
    for key in ("raw_input", "normalized_input"):
        text = row.get(key)
        if isinstance(text, str) and all(
                0 <= s < e <= len(text) and text[s:e] == str(b["value"])
                for (_, s, e), b in zip(spans, bounds, strict=True)):
            return text, spans
    return None
