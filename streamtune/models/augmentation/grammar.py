"""The command grammar augmentation works with: synonyms, fillers, canonical forms, parsing.

The catalogue phrasings (``streamtune.schemas.commands``) are the grammar's
productions. Augmented texts may use a synonym of a phrasing word, add or drop
*fillers* (politeness, time adverbs, articles), change casing and punctuation,
or front a trailing clause ("in 5m, restart pump-3"). :class:`Grammar` maps a
text to its **canonical form** so that all these variants of one command look
alike:

1. punctuation ``?`` / ``!`` anywhere and ``,;:.`` before a blank or the end
   become blanks;
2. filler phrases (``lexicon.FILLERS``, ``lexicon.ARTICLES``) are removed;
3. every synonym (``lexicon.DEFAULT_SYNONYMS`` plus the settings' extras) becomes
   the head word of its group;
4. blanks are collapsed.

Words only count when they stand alone: letters, digits, ``-``, ``_``, ``.``
and braces on either side protect them, so parameter values such as
``pump-3`` or ``v1.4.2`` are never rewritten. The phrasings of a command are
canonicalised the same way (plus one *fronted* variant per phrasing that ends
in a clause such as ``in {delay}``) and compiled with one lenient slot
(``\\S+?``) per parameter; :meth:`Grammar.parse` fully matches a canonical text
against them and returns the slot texts.

Examples
--------
>>> g = DEFAULT_GRAMMAR
>>> g.canonical("Could you please REBOOT pump-3 now?")
'restart pump-3'
>>> g.parse("restart_device", "in 5m, power cycle pump-3")
(3, {'delay': '5m', 'device': 'pump-3'})
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from functools import cache

from streamtune.errors import ConfigError
from streamtune.models.augmentation.lexicon import (
    ARTICLES,
    CLAUSE_PREPOSITIONS,
    DEFAULT_SYNONYMS,
    FILLERS,
    STOPWORDS,
)
from streamtune.schemas.commands import COMMANDS, split_template

_CACHE_SIZE = 8192
_PUNCT = re.compile(r"[?!]+|[,;:.](?=\s|$)")
_TOKEN = re.compile(r"[\w.{}-]+")
_WORDS = re.compile(r"([\w.{}-]+)")
_SPLIT = re.compile(r"[=,%'’/]")
_EDGE_CHARS = ".,;:!?\"'()[]"
_GLUED = re.compile(r"([^\W\d_]*)(-?\d[\w.+-]*?)([^\W\d_]*)")
_WORD = re.compile(r"^[a-z]+(?:[ -][a-z]+)*$")
_TRAILING_CLAUSE = re.compile(
    r"^(?P<rest>.*?[a-z].*?) (?P<clause>(?:" + "|".join(CLAUSE_PREPOSITIONS)
    + r") \{\w+\}(?: [a-z/%]+)?)$"
)
_ENUM_CHOICES = frozenset(c.lower() for spec in COMMANDS.values() for p in spec.params
                          for c in p.choices)


class _Phrases:
    """Whole-word phrase lookup: ``phrase -> replacement`` ("" removes), longest match first.

    Words are maximal runs of letters, digits, ``_``, ``-``, ``.`` and braces,
    so a phrase never matches inside a value such as ``pump-3``; the words of
    a multi-word phrase must be separated by blanks only.
    """

    __slots__ = ("starts", "table")

    def __init__(self, table: Mapping[str, str]) -> None:
        self.table = {tuple(p.split()): r for p, r in table.items()}
        self.starts: dict[str, int] = {}
        for key in self.table:
            self.starts[key[0]] = max(self.starts.get(key[0], 0), len(key))

    def spans(self, text: str) -> list[tuple[int, int, str]]:
        """``(start, end, replacement)`` of every phrase found, left to right."""
        words = [(m.start(), m.end(), m.group(0).lower()) for m in _TOKEN.finditer(text)]
        found: list[tuple[int, int, str]] = []
        i, count = 0, len(words)
        while i < count:
            longest = self.starts.get(words[i][2])
            if longest is None:
                i += 1
                continue
            for n in range(min(longest, count - i), 0, -1):
                if n > 1 and not all(text[words[j][1]:words[j + 1][0]].isspace()
                                     for j in range(i, i + n - 1)):
                    continue
                replacement = self.table.get(tuple(w[2] for w in words[i:i + n]))
                if replacement is not None:
                    found.append((words[i][0], words[i + n - 1][1], replacement))
                    i += n
                    break
            else:
                i += 1
        return found

    def sub(self, text: str) -> str:
        """``text`` with every phrase replaced (removed phrases leave a blank)."""
        parts = _WORDS.split(text)  # separator, word, separator, ..., word, separator
        lowered = [w.lower() for w in parts[1::2]]
        starts, table = self.starts, self.table
        out = [parts[0]]
        i, count = 0, len(lowered)
        while i < count:
            step, piece = 1, parts[2 * i + 1]
            longest = starts.get(lowered[i])
            if longest is not None:
                for n in range(min(longest, count - i), 0, -1):
                    if n > 1 and not all(parts[2 * j + 2].isspace() for j in range(i, i + n - 1)):
                        continue
                    replacement = table.get(tuple(lowered[i:i + n]))
                    if replacement is not None:
                        step, piece = n, replacement or " "
                        break
            out += (piece, parts[2 * (i + step)])
            i += step
        return "".join(out)


def fronted(template: str) -> str | None:
    """The template with its trailing clause moved to the front, or ``None``.

    >>> fronted("power cycle {device} in {delay}")
    'in {delay}, power cycle {device}'
    """
    match = _TRAILING_CLAUSE.match(template)
    if match is None:
        return None
    return f"{match['clause']}, {match['rest']}"


def atoms(text: str) -> list[list[str]]:
    """Whitespace chunks of ``text`` (edge punctuation stripped), each split at ``=,%'/``."""
    chunks = (c.strip(_EDGE_CHARS) for c in text.lower().split())
    return [[a for a in _SPLIT.split(c) if a] for c in chunks if c]


class Grammar:
    """Canonical forms, parsing and vocabulary for the catalogue plus a synonym table.

    Parameters
    ----------
    synonyms
        Synonym groups: head -> alternatives. Every word or phrase may belong
        to one group only.

    Raises
    ------
    ConfigError
        If a synonym is not lowercase words, belongs to two groups, is a
        filler, or is a non-head member equal to an enum value of the
        catalogue (it would rewrite parameter values).
    """

    def __init__(self, synonyms: Mapping[str, Sequence[str]]) -> None:
        head_of: dict[str, str] = {}
        groups: dict[str, list[str]] = {}
        fillers = {*FILLERS, *ARTICLES}
        for raw_head, alternatives in synonyms.items():
            head = " ".join(raw_head.lower().split())
            for word in (head, *alternatives):
                word = " ".join(word.lower().split())
                if not _WORD.match(word):
                    raise ConfigError(f"synonym {word!r}: use lowercase words only")
                if word in fillers:
                    raise ConfigError(f"synonym {word!r} is a filler word")
                owner = head_of.setdefault(word, head)
                if owner != head:
                    raise ConfigError(f"synonym {word!r} is in the groups of {owner!r} "
                                      f"and {head!r}")
                if word != head and word in _ENUM_CHOICES:
                    raise ConfigError(f"synonym {word!r} is a parameter value; make it the "
                                      f"head of its group or drop it")
                if word not in groups.setdefault(head, []):
                    groups[head].append(word)
        self.groups: dict[str, tuple[str, ...]] = {h: tuple(m) for h, m in groups.items()}
        self._synonyms = _Phrases(head_of)
        self._fillers = _Phrases(dict.fromkeys(fillers, ""))
        self._polite = _Phrases(dict.fromkeys(FILLERS, ""))
        self._canon = _Phrases({**dict.fromkeys(fillers, ""), **head_of})
        self._patterns: dict[str, tuple[tuple[re.Pattern[str], int], ...]] = {}
        self._keywords: dict[str, frozenset[str]] = {}
        self._canonical: dict[str, str] = {}
        words: set[str] = {a for phrase in (*head_of, *fillers) for c in atoms(phrase) for a in c}
        for spec in COMMANDS.values():
            for template in spec.phrasings:
                literal = " ".join(split_template(template)[0])
                words.update(a for c in atoms(literal) for a in c)
        self.vocabulary = frozenset(words)
        """Every word the grammar knows: phrasing words, synonyms, fillers, articles."""

    # -- canonical forms ------------------------------------------------------------------

    def canonical(self, text: str) -> str:
        """The canonical form of ``text`` (see the module docstring); memoised."""
        cached = self._canonical.get(text)
        if cached is None:
            if len(self._canonical) >= _CACHE_SIZE:
                self._canonical.clear()
            cached = self._canonical[text] = " ".join(self._canon.sub(_PUNCT.sub(" ", text))
                                                      .split())
        return cached

    def strip_fillers(self, text: str, *, articles: bool = True) -> str:
        """``text`` without filler phrases (and articles unless ``articles=False``)."""
        pattern = self._fillers if articles else self._polite
        return " ".join(_PUNCT.sub(" ", pattern.sub(text)).split())

    def synonym_spans(self, template: str) -> list[tuple[int, int, str]]:
        """``(start, end, head)`` of every synonym in a template's literal words."""
        return self._synonyms.spans(template)

    # -- parsing --------------------------------------------------------------------------

    def patterns(self, command_type: str) -> tuple[tuple[re.Pattern[str], int], ...]:
        """Compiled canonical phrasings of a command, with the index of their phrasing."""
        cached = self._patterns.get(command_type)
        if cached is not None:
            return cached
        spec = COMMANDS[command_type]
        seen: set[str] = set()
        compiled: list[tuple[re.Pattern[str], int]] = []
        for index, template in enumerate(spec.phrasings):
            for variant in (template, fronted(template)):
                if variant is None:
                    continue
                canonical = self.canonical(variant)
                if canonical in seen:
                    continue
                seen.add(canonical)
                literals, names = split_template(canonical)
                regex = re.escape(literals[0]) + "".join(
                    rf"(?P<{name}>\S+?)" + re.escape(literal)
                    for name, literal in zip(names, literals[1:], strict=True))
                compiled.append((re.compile(regex, re.IGNORECASE), index))
        result = tuple(compiled)
        self._patterns[command_type] = result
        return result

    def parse(
        self, command_type: str, text: str, expected: Mapping[str, str] | None = None
    ) -> tuple[int, dict[str, str]] | None:
        """Match ``text`` against the phrasings of ``command_type``.

        Returns the phrasing index and the slot texts (case kept), or ``None``.
        With ``expected`` (lower-case value texts by parameter), a match whose
        slots equal them is preferred over the first match.
        """
        if command_type not in COMMANDS:
            return None
        canonical = self.canonical(text)
        first: tuple[int, dict[str, str]] | None = None
        for pattern, index in self.patterns(command_type):
            match = pattern.fullmatch(canonical)
            if match is None:
                continue
            found = (index, match.groupdict())
            if expected is None or {k: v.lower() for k, v in found[1].items()} == expected:
                return found
            first = first or found
        return first

    def parses_as_other(self, command_type: str, text: str) -> str | None:
        """The first other catalogue command ``text`` parses as, or ``None``."""
        canonical = self.canonical(text)
        for other in COMMANDS:
            if other != command_type and any(
                    p.fullmatch(canonical) for p, _ in self.patterns(other)):
                return other
        return None

    def keywords(self, command_type: str) -> frozenset[str]:
        """Words identifying a command: its canonical phrasing words minus stopwords."""
        cached = self._keywords.get(command_type)
        if cached is None:
            words: set[str] = set()
            for template in COMMANDS[command_type].phrasings:
                literal = " ".join(split_template(self.canonical(template))[0])
                words.update(a for c in atoms(literal) for a in c)
            cached = self._keywords[command_type] = frozenset(words - STOPWORDS)
        return cached

    # -- syntax ---------------------------------------------------------------------------

    def unexplained(self, text: str, values: Iterable[str]) -> tuple[int, int]:
        """``(unexplained, total)`` whitespace chunks of ``text``.

        A chunk (edge punctuation stripped, split at ``= , % ' /``) is explained
        when each of its pieces is a vocabulary word, one of ``values``
        (compared in lower case), or a numeric value glued to vocabulary
        letters (``80C``, ``x3``). A chunk repeating the previous chunk is
        unexplained (a stutter) unless it is a value.
        """
        known = {v.lower() for v in values}
        vocab = self.vocabulary
        bad = total = 0
        previous: list[str] | None = None
        for pieces in atoms(text):
            total += 1
            ok = all(p in vocab or p in known or self._glued(p, known) for p in pieces)
            if ok and pieces == previous and not all(p in known for p in pieces):
                ok = False
            bad += not ok
            previous = pieces
        return bad, total

    def _glued(self, piece: str, known: set[str]) -> bool:
        match = _GLUED.fullmatch(piece)
        if match is None or match[2] not in known:
            return False
        return all(not affix or affix in self.vocabulary for affix in (match[1], match[3]))


@cache
def _grammar(extra: tuple[tuple[str, tuple[str, ...]], ...]) -> Grammar:
    groups: dict[str, tuple[str, ...]] = dict(DEFAULT_SYNONYMS)
    heads = {" ".join(w.lower().split()): h for h, m in groups.items() for w in (h, *m)}
    for word, alternatives in extra:
        key = " ".join(word.lower().split())
        head = heads.get(key, key)
        groups[head] = (*groups.get(head, ()), *alternatives)
    return Grammar(groups)


def grammar_for(synonyms: Mapping[str, Sequence[str]]) -> Grammar:
    """The default grammar extended by ``synonyms`` (word -> alternatives), cached.

    A word already in a group adds its alternatives to that group; a new word
    starts a group of its own.
    """
    return _grammar(tuple(sorted((w, tuple(a)) for w, a in synonyms.items())))


DEFAULT_GRAMMAR = grammar_for({})
"""The grammar with :data:`DEFAULT_SYNONYMS` only."""
