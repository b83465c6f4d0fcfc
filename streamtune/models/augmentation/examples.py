"""Words of a command text, which of them may change, and each command type's examples.

Catalogue-free augmentation (:mod:`.text`) works on the words of a command's
normalised text. :func:`tokenize` splits it at blanks and marks a word
*editable* only when it is plain letters (edge punctuation aside) and lies
outside every protected span: the parameter values the annotation rules find
(``streams.annotation``: the spans ``parameter_boundaries`` are built from),
the generic entity tags (hosts, versions, durations, quantities, people),
quoted segments and redaction markers. Everything else (values, numbers,
paths, flags) is protected and never edited, moved or dropped.

:class:`ClassExamples` remembers up to ``per_class`` distinct texts of each
command type, the first seen (like the observed parameter values), and
counts in how many of them each word occurs. A word is a **cue** of a type
when it occurs in at least two of its examples and its share of them is at
least twice its share of the other types' examples (no cues while only one
type is known).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from pydantic import JsonValue

from streamtune.transforms.annotation import locate_parameters, tag_entities

_EDGE = ".,;:!?\"'()[]"
_PLAIN = re.compile(r"[^\W\d_]+")
_VERBATIM = re.compile(r"\"[^\"]*\"|'[^']*'|\[REDACTED:[^\]]*\]")
_TOKEN = re.compile(r"\S+")


@dataclass(frozen=True, slots=True)
class Token:
    """One blank-separated word of a normalised text and whether it may change."""

    text: str
    editable: bool

    @property
    def key(self) -> str:
        """The word without edge punctuation, case-folded (what the gates compare)."""
        return self.text.strip(_EDGE).casefold()


def _protected(text: str, command_type: str, parameters: dict[str, JsonValue]
               ) -> list[tuple[int, int]]:
    spans = locate_parameters(text, parameters)
    found = [(s.start, s.end) for s in spans]
    found += [(t.start, t.end) for t in tag_entities(text, command_type, spans)]
    return found + [m.span() for m in _VERBATIM.finditer(text)]


def tokenize(text: str, command_type: str, parameters: dict[str, JsonValue]
             ) -> tuple[Token, ...]:
    """The words of ``text``, each marked editable or protected (see the module)."""
    protected = _protected(text, command_type, parameters)
    tokens = []
    for match in _TOKEN.finditer(text):
        start, end = match.span()
        plain = _PLAIN.fullmatch(match.group().strip(_EDGE)) is not None
        inside = any(start < b and a < end for a, b in protected)
        tokens.append(Token(match.group(), plain and not inside))
    return tuple(tokens)


def fixed(tokens: Iterable[Token]) -> list[str]:
    """The protected words, in order (edits must leave this sequence as it is)."""
    return [t.text for t in tokens if not t.editable]


class ClassExamples:
    """Bounded memory of each command type's texts, their words and cues.

    Parameters
    ----------
    per_class
        Distinct texts remembered per command type (the first seen).
    """

    def __init__(self, per_class: int = 64) -> None:
        self.per_class = per_class
        self._texts: dict[str, dict[str, tuple[Token, ...]]] = {}
        self._df: dict[str, Counter[str]] = {}
        self._total: Counter[str] = Counter()
        self._types_with: dict[str, set[str]] = {}
        self._examples = 0

    def wants(self, command_type: str, text: str) -> bool:
        """Whether :meth:`add` would remember this text (cheap: check before tokenizing)."""
        known = self._texts.get(command_type, {})
        return text not in known and len(known) < self.per_class

    def add(self, command_type: str, text: str, tokens: tuple[Token, ...]) -> None:
        """Remember one example of ``command_type`` (ignored when known or the type is full)."""
        if not self.wants(command_type, text):
            return
        self._texts.setdefault(command_type, {})[text] = tokens
        words = {t.key for t in tokens if t.key}
        self._df.setdefault(command_type, Counter()).update(words)
        self._total.update(words)
        for word in words:
            self._types_with.setdefault(word, set()).add(command_type)
        self._examples += 1

    def known(self, command_type: str, word: str) -> bool:
        """Whether ``word`` occurs in an example of ``command_type``."""
        return self._df.get(command_type, Counter())[word] > 0

    def is_cue(self, command_type: str, word: str) -> bool:
        """Whether ``word`` singles out ``command_type`` (module rule)."""
        df = self._df.get(command_type, Counter())[word]
        own = len(self._texts.get(command_type, ()))
        others = self._examples - own
        if df < 2 or others <= 0:
            return False
        return df / own >= 2 * (self._total[word] - df) / others

    def cues(self, command_type: str, words: Iterable[str]) -> set[str]:
        """The cues of ``command_type`` among ``words``."""
        return {w for w in words if self.is_cue(command_type, w)}

    def foreign_cue(self, command_type: str, word: str) -> bool:
        """Whether ``word`` is a cue of a type other than ``command_type``."""
        return any(self.is_cue(other, word)
                   for other in self._types_with.get(word, ()) if other != command_type)

    def donors(self, command_type: str) -> list[tuple[Token, ...]]:
        """Remembered examples of ``command_type``, ordered by their text."""
        known = self._texts.get(command_type, {})
        return [known[text] for text in sorted(known)]
