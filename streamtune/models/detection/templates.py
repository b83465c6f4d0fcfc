"""Template mining: one grouping of log lines and messages into templates.

Used by the live new-pattern detector (:mod:`~streamtune.models.detection.patterns`)
and by the dataset splits (:func:`~streamtune.models.datasets.templates.error_templates`),
so both agree on which lines share a template.

A line is split on white space; inside each token, every run holding a digit, every
run that is a day or month name (``Thu``, ``Aug``) and every run of 8+ hex characters
becomes ``<*>`` (delimiters ``= , : ; ( ) [ ] { } " ' < > |`` bound a run, so
``ambient=30`` keeps its key); a token that is only ``<*>`` after another such token
is dropped, so a list of numbers of any length, or a date, is one variable.
The masked tokens are the line's key; a key seen before is a dictionary hit, and so is
a line seen before, unmasked (the caches, not saved with the miner's state).

A new key joins a template of the same length whose constant tokens all equal its
own (a template of ``<*>`` only holds nothing but its own key); an index of templates
by (length, position, token) finds the few a key is close to. Otherwise templates
are merged when their difference is a variable:

- at most ``max_diff`` positions, each holding variable-looking tokens on both
  sides (a ``<*>``, a ``/`` or a qualified name with 2+ dots such as
  ``com.android.phone``; for ``key=value`` tokens, the same key), position 0
  included: the line joins that template;
- one position (not the first) holding plain words: once ``merge_values``
  templates differ there and are equal everywhere else, they become one template
  with ``<*>`` there (``xinetd removing chargen``, ``xinetd removing echo``, ...).

A merge never leaves fewer than ``min_constant_share`` of a template's tokens constant.
The thresholds were chosen leave-one-system-out over the 14 Loghub systems, the
token rules on 7 of them (``benchmarks/patterns.py``).
:meth:`TemplateMiner.siblings` lists, per position, the words of templates that
differ from one only there: the new-pattern detector's evidence of a variable word.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

WILDCARD = "<*>"
_DELIMITERS = r"""\s=,:;()\[\]{}"'<>|"""
_DATE_WORDS = "Mon|Tue|Wed|Thu|Fri|Sat|Sun|Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec"
_VARIABLE_RUN = re.compile(
    rf"(?<![^{_DELIMITERS}])(?:[^{_DELIMITERS}\d]*+\d[^{_DELIMITERS}]*+"
    rf"|(?:{_DATE_WORDS})(?![^{_DELIMITERS}]))|\b[0-9a-fA-F]{{8,}}\b")
"""A run holding a digit (matched from its start only, possessively: one scan per run),
a run that is a day or month name (``Thu``, ``Aug``), or 8+ hex characters."""
_WILDCARD_RUN = re.compile(r"(?<!\S)<\*>(?:\s+<\*>)+(?!\S)")
MAX_CACHE = 200_000
"""Keys remembered; the cache is emptied when full (templates are kept)."""
MAX_LINES = 20_000
"""Lines remembered as they came (about 2 MB a miner, ``benchmarks/memory.py``); emptied
when full, as the keys are."""


def _remember(cache: dict[str, int], seen: str, cluster_id: int, most: int) -> None:
    if len(cache) >= most:
        cache.clear()
    cache[seen] = cluster_id


def mask(text: str) -> tuple[str, ...]:
    """The tokens of ``text`` with variable runs as ``<*>`` (see the module docstring)."""
    return tuple(masked(text).split())


def masked(text: str) -> str:
    """:func:`mask`'s tokens joined by single spaces: the miner's cache key (one string
    per line seen, not a tuple of token strings: a fifth of the memory)."""
    return " ".join(_WILDCARD_RUN.sub(WILDCARD, _VARIABLE_RUN.sub(WILDCARD, text)).split())


@dataclass(frozen=True)
class MinerParams:
    """The miner's thresholds (defaults: the leave-one-system-out choice)."""

    merge_values: int = 5
    """Plain words seen at one position before it becomes a variable."""
    max_diff: int = 2
    """Positions in which variable-looking tokens may differ and still join."""
    min_constant_share: float = 0.6
    """Share of a merged template's tokens that must stay constant."""


@dataclass(frozen=True)
class Match:
    """Where one line went."""

    cluster_id: int
    template: str
    created: bool
    """True when the line started a template (nothing known matched it)."""


def _variable_like(token: str) -> bool:
    return WILDCARD in token or "/" in token or (token.count(".") >= 2 and ".." not in token)


def _compatible(a: str, b: str) -> bool:
    if "=" in a or "=" in b:
        return a.partition("=")[0] == b.partition("=")[0]
    return _variable_like(a) and _variable_like(b)


def _same_but(a: tuple[str, ...], b: tuple[str, ...], position: int) -> bool:
    return all(x == y for i, (x, y) in enumerate(zip(a, b, strict=True)) if i != position)


@dataclass
class TemplateMiner:
    """Online template mining; ids stay valid after merges (see :meth:`resolve`)."""

    params: MinerParams = field(default_factory=MinerParams)
    _templates: dict[int, tuple[str, ...]] = field(default_factory=dict)
    _by_length: dict[int, list[int]] = field(default_factory=dict)
    _merged_into: dict[int, int] = field(default_factory=dict)
    _cache: dict[str, int] = field(default_factory=dict)
    _lines: dict[str, int] = field(default_factory=dict)
    """Lines seen, with their template: a line seen again is not masked again."""
    _text: dict[int, str] = field(default_factory=dict)
    _postings: dict[tuple[int, int, str], set[int]] = field(default_factory=dict)
    """Templates by (length, position, token): the index that finds the few templates a
    line or a template is close to without comparing it with every one of its length."""
    _loose: dict[int, set[int]] = field(default_factory=dict)
    """Per length, the templates with so few constant tokens that any line of that length
    is close to them (see :meth:`_near`)."""

    def add(self, text: str) -> Match:
        """Mine one line."""
        hit = self._lines.get(text)
        if hit is None:
            key = masked(text)
            hit = self._cache.get(key)
            if hit is None:
                cluster_id, created = self._place(tuple(key.split()))
                _remember(self._cache, key, cluster_id, MAX_CACHE)
                _remember(self._lines, text, cluster_id, MAX_LINES)
                return Match(cluster_id, self._text[cluster_id], created)
            _remember(self._lines, text, hit, MAX_LINES)
        hit = self.resolve(hit)
        return Match(hit, self._text[hit], False)

    def __getstate__(self) -> dict[str, object]:
        """Saved without the caches (a worker saves its miners every few seconds); they fill
        again as lines come, as they do after being emptied when full. The index is not
        saved either: it is built again from the templates when loaded."""
        return {**self.__dict__, "_cache": {}, "_lines": {}, "_postings": {}, "_loose": {}}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)  # also state saved before the line cache and the index
        self._lines, self._postings, self._loose = {}, {}, {}
        for cluster_id, tokens in self._templates.items():
            self._index(cluster_id, tokens)

    @property
    def merges(self) -> int:
        """Templates merged into others so far."""
        return len(self._merged_into)

    def resolve(self, cluster_id: int) -> int:
        """The template a (possibly merged) cluster id belongs to now."""
        while cluster_id in self._merged_into:
            cluster_id = self._merged_into[cluster_id]
        return cluster_id

    def template(self, cluster_id: int) -> str:
        """The current template text of a cluster."""
        return self._text[self.resolve(cluster_id)]

    def tokens(self, cluster_id: int) -> tuple[str, ...]:
        """The current template of a cluster as tokens (its text split at spaces)."""
        return self._templates[self.resolve(cluster_id)]

    def templates(self) -> dict[int, str]:
        """Every live template by id."""
        return dict(self._text)

    def nearest(self, cluster_id: int, among: set[int]) -> str | None:
        """The template of ``among`` closest to ``cluster_id``'s (token overlap), if any."""
        mine = self._templates[self.resolve(cluster_id)]
        words = set(mine) - {WILDCARD}
        best, best_score = None, -1.0
        for other in {self.resolve(c) for c in among} - {self.resolve(cluster_id)}:
            theirs = self._templates[other]
            same = sum(a == b for a, b in zip(mine, theirs, strict=False))
            score = (same + len(words & set(theirs))) / (len(mine) + len(theirs))
            if score > best_score:
                best, best_score = other, score
        return None if best is None else self._text[best]

    def siblings(self, cluster_id: int) -> dict[int, set[str]]:
        """Per position, the tokens that same-length templates differing from this one
        there and nowhere else hold there."""
        mine = self._templates[self.resolve(cluster_id)]
        out: dict[int, set[str]] = {}
        shared = self._same_tokens(mine, wildcards=True)
        if len(mine) == 1:  # a one-token template differs from each other one there
            shared.update(dict.fromkeys(self._by_length[1], 0))
        for other, same in shared.items():
            if same == len(mine) - 1:
                theirs = self._templates[other]
                position = next(i for i, (a, b) in enumerate(zip(mine, theirs, strict=True))
                                if a != b)
                out.setdefault(position, set()).add(theirs[position])
        return out

    def _same_tokens(self, tokens: tuple[str, ...], *, wildcards: bool) -> Counter[int]:
        """Per template of the same length sharing a token with ``tokens`` at the same
        position, how many it shares (``<*>`` positions of ``tokens`` counted or not)."""
        postings, length = self._postings, len(tokens)
        same: Counter[int] = Counter()
        for i, token in enumerate(tokens):
            if wildcards or token != WILDCARD:
                found = postings.get((length, i, token))
                if found:
                    same.update(found)
        return same

    def _near(self, tokens: tuple[str, ...]) -> list[int]:
        """The templates of ``tokens``' length whose constant tokens differ from it in at
        most ``max(max_diff, 1)`` positions (the only ones :meth:`_place` can put it in),
        in the order they were made."""
        most = self._most_diff()
        near = set(self._loose.get(len(tokens), ()))
        for cid, same in self._same_tokens(tokens, wildcards=False).items():
            template = self._templates[cid]
            if len(template) - template.count(WILDCARD) - same <= most:
                near.add(cid)
        return sorted(near)  # ids grow as templates are made

    def _place(self, tokens: tuple[str, ...]) -> tuple[int, bool]:
        p = self.params
        same_length = self._by_length.setdefault(len(tokens), [])
        exact: int | None = None
        joinable: list[tuple[int, list[int]]] = []
        words: dict[int, list[int]] = {}
        for cid in self._near(tokens):
            template = self._templates[cid]
            diff = [i for i, (a, b) in enumerate(zip(template, tokens, strict=True))
                    if a != WILDCARD and a != b]
            if not diff:
                if template != tokens and template.count(WILDCARD) == len(template):
                    continue  # a template of variables only holds nothing but itself
                if exact is None or template.count(WILDCARD) < self._templates[
                        exact].count(WILDCARD):
                    exact = cid
            elif len(diff) <= p.max_diff and all(_compatible(template[i], tokens[i])
                                                 for i in diff):
                joinable.append((cid, diff))
            elif len(diff) == 1 and diff[0] > 0 and _same_but(template, tokens, diff[0]):
                words.setdefault(diff[0], []).append(cid)
        if exact is not None:
            return exact, False
        for cid, diff in joinable:
            merged = list(self._templates[cid])
            for i in diff:
                merged[i] = WILDCARD
            if self._constant_enough(merged):
                self._set(cid, tuple(merged))
                return cid, False
        for position, cids in words.items():
            if len(cids) + 1 >= p.merge_values:
                kept = self._merge(same_length, cids, position)
                if kept is not None:
                    return kept, False
        cid = len(self._templates) + len(self._merged_into)
        self._set(cid, tokens)
        same_length.append(cid)
        return cid, True

    def _merge(self, same_length: list[int], cids: list[int], position: int) -> int | None:
        kept = min(cids)
        merged = list(self._templates[kept])
        merged[position] = WILDCARD
        for cid in cids:
            for i, token in enumerate(self._templates[cid]):
                if token == WILDCARD:
                    merged[i] = WILDCARD
        if not self._constant_enough(merged):
            return None
        for cid in cids:
            if cid != kept:
                self._merged_into[cid] = kept
                same_length.remove(cid)
                self._unindex(cid, self._templates[cid])
                del self._templates[cid], self._text[cid]
        self._set(kept, tuple(merged))
        return kept

    def _set(self, cluster_id: int, tokens: tuple[str, ...]) -> None:
        before = self._templates.get(cluster_id)
        if before is not None:
            self._unindex(cluster_id, before)
        self._templates[cluster_id] = tokens
        self._text[cluster_id] = " ".join(tokens)
        self._index(cluster_id, tokens)

    def _most_diff(self) -> int:
        """Constant tokens that may differ from a template's and still put a line in it."""
        return max(self.params.max_diff, 1)

    def _index(self, cluster_id: int, tokens: tuple[str, ...]) -> None:
        length = len(tokens)
        for i, token in enumerate(tokens):
            self._postings.setdefault((length, i, token), set()).add(cluster_id)
        if length - tokens.count(WILDCARD) <= self._most_diff():
            self._loose.setdefault(length, set()).add(cluster_id)

    def _unindex(self, cluster_id: int, tokens: tuple[str, ...]) -> None:
        length = len(tokens)
        for i, token in enumerate(tokens):
            found = self._postings[(length, i, token)]
            found.discard(cluster_id)
            if not found:
                del self._postings[(length, i, token)]
        self._loose.get(length, set()).discard(cluster_id)

    def _constant_enough(self, tokens: list[str]) -> bool:
        constant = sum(token != WILDCARD for token in tokens)
        return constant >= self.params.min_constant_share * len(tokens)
