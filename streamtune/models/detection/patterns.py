"""New-pattern alerts: streaming template mining of command texts and error messages.

One :class:`~streamtune.models.detection.templates.TemplateMiner` per stream
(``command``: normalized command text, ``error``: error messages), the same
grouping the dataset splits use. Templates mined during a stream's warm-up, or
by :meth:`PatternMiner.learn`, are known. The warm-up ends after
``pattern_warmup_events`` events or ``pattern_warmup_s`` seconds of event time,
whichever comes first, so a short log is watched too.

A template started after the warm-up is a candidate; it raises one ``new_pattern``
alert once it has the minimum count and the mean model confidence of its members
is below ``pattern_max_confidence`` or at least half its members were flagged out
of scope by the model (members without a confidence are not averaged; with none
at all only the count applies). The minimum count adapts to
the source's rate: ``1 + rate // pattern_rate_per_count`` (rate in events per
second of event time since the stream's first event), at most
``pattern_min_count``: a slow source alerts on a template's first line, a fast one
waits for it to recur. A candidate that the miner later merges into a known
template (its difference was a variable) is dropped.

A variable word seen with few values (``removing chargen`` known, then ``removing
daytime``) is told from a new template by its siblings, the templates that differ
from it at one position only (:func:`values`): with ``VARIANT_VALUES`` values there,
or a sibling holding a variable there, the candidate is a value of a variable and
never alerts; with one sibling it is held ``VARIANT_HOLD`` events and alerts then
unless the position has turned variable meanwhile. A template that differs from a
known one, or from a new one, only in one stretch holding a variable (a value with
spaces, a list of varying length: :func:`stretch_variant`) is that template's: it
never alerts, or joins the new one's pattern; so is one that ends in a stack trace and
differs from a known one in that trace and at most one word before it
(:func:`stack_variant`). A new template that lists a setting like a new one before
it (the same words, then ``key=value`` behind the same scope: :func:`setting_variant`)
joins its pattern, so a burst of ``environment:<key>=<value>`` lines alerts once.
Other candidates alert at once.

Labels (e.g. the executed command type) never seen in warm-up or ``learn``
group their candidates: every new template of such a label feeds one pattern per
(stream, label), so a new command type phrased four ways raises one alert.

An alert names the template, the first line (redacted) and its key, the count and
the nearest known template.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any

from streamtune.config import DetectionSettings
from streamtune.models.detection.templates import WILDCARD, MinerParams, TemplateMiner
from streamtune.schemas.alerts import Alert
from streamtune.transforms.redaction import Redactor

STREAMS = ("command", "error")
MAX_EXAMPLES = 5
MAX_TEXT = 300
"""Characters kept of an example or a template in an alert."""
VARIANT_VALUES = 3
"""Values seen at one position (see :func:`values`) that make it a variable."""
VARIANT_HOLD = 25
"""Events a template with one sibling (2 values at a position) waits before it alerts."""


def template_miner(similarity: float) -> TemplateMiner:
    """The miner of each stream; ``similarity``: its ``min_constant_share``."""
    return TemplateMiner(MinerParams(min_constant_share=similarity))


def values(miner: TemplateMiner, cluster_id: int) -> int:
    """Values the template's most variable position has shown: 1 plus its siblings there
    (templates differing from it there only), or ``VARIANT_VALUES`` when either side
    holds a variable or the two words are one character apart. A position counts when
    another token is constant, the first one when 3 are (``Accepted none`` after
    ``Failed none`` is new at once)."""
    tokens = miner.template(cluster_id).split(" ")
    constant = sum(token != WILDCARD for token in tokens)
    most = 1
    for position, others in miner.siblings(cluster_id).items():
        shared = constant - (tokens[position] != WILDCARD)
        if shared < (3 if position == 0 else 1):
            continue
        mine = tokens[position]
        if WILDCARD in mine or any(WILDCARD in other or _one_apart(mine, other)
                                   for other in others):
            return VARIANT_VALUES
        most = max(most, 1 + len(others))
    return most


def stretch_variant(mine: Sequence[str], theirs: Sequence[str]) -> bool:
    """Whether two templates differ only in one stretch that holds a variable on either
    side, with 3 constants around it: a value with spaces or a list of varying length
    (``RRD_update (<*>): ...`` beside ``RRD_update <*> <*>): ...``)."""
    prefix = 0
    for a, b in zip(mine, theirs, strict=False):
        if a != b:
            break
        prefix += 1
    if prefix == len(mine) == len(theirs):
        return False
    suffix = 0
    for a, b in zip(reversed(mine[prefix:]), reversed(theirs[prefix:]), strict=False):
        if a != b:
            break
        suffix += 1
    stretch = [*mine[prefix:len(mine) - suffix], *theirs[prefix:len(theirs) - suffix]]
    around = [*mine[:prefix], *mine[len(mine) - suffix:]]
    constants = sum(t != WILDCARD for t in around)
    return prefix >= 1 and constants >= 3 and any(WILDCARD in t for t in stretch) and all(
        WILDCARD in t or t in around for t in stretch)


_FRAME = re.compile(r"[A-Za-z_$][\w$]*(?:\.[\w$<>*-]+){2,}(?::\S*|\(\S*\))?")
"""A stack frame: ``com.android.server.wm.WindowState.destroySurface:<*>``."""


def without_stack(tokens: Sequence[str]) -> Sequence[str] | None:
    """The template before its stack trace (a tail of 3+ frames, ``at`` allowed between
    them), or None when it ends in none."""
    start, frames = len(tokens), 0
    while start > 0 and (tokens[start - 1] == "at" or _FRAME.fullmatch(tokens[start - 1])):
        start -= 1
        frames += tokens[start] != "at"
    return tokens[:start] if frames >= 3 else None


def stack_variant(mine: Sequence[str], theirs: Sequence[str]) -> bool:
    """Whether two templates ending in stack traces say the same but for one word before
    them: the stack (its depth, its frames) and one value are what varies."""
    heads = without_stack(mine), without_stack(theirs)
    if heads[0] is None or heads[1] is None or len(heads[0]) != len(heads[1]):
        return False
    same = sum(a == b for a, b in zip(heads[0], heads[1], strict=True))
    return same >= 2 and same >= len(heads[0]) - 1


_SETTING = re.compile(r"(.*[:/])?[\w.-]+=.*")
"""A ``key=value`` word, maybe behind a ``scope:``: ``environment:java.vendor=Oracle``."""


def setting_variant(mine: Sequence[str], theirs: Sequence[str]) -> bool:
    """Whether two templates list settings the same way: the same words, then a
    ``key=value`` word with the same scope, key and value (spaces and all) what varies."""
    for i, (a, b) in enumerate(zip(mine, theirs, strict=False)):
        if a != b:
            if i == 0 or not (_SETTING.fullmatch(a) and _SETTING.fullmatch(b)):
                return False
            return _setting_scope(a) == _setting_scope(b)
    return False


def _setting_scope(word: str) -> str:
    """What stands before a ``key=value`` word's key: ``environment:`` of
    ``environment:user.dir=/``."""
    return word[:word.rfind(":", 0, word.find("=")) + 1]


def _one_apart(a: str, b: str) -> bool:
    """Same length (2+), one character differing: ``[LNKA]``/``[LNKC]``, ``EST``/``EDT``."""
    return len(a) == len(b) >= 2 and sum(x != y for x, y in zip(a, b, strict=True)) == 1


@cache
def _redactor() -> Redactor:
    return Redactor()


@dataclass
class _Pattern:
    """A candidate: a new template, or every new template of a new label."""

    first_template: str
    first_line: str
    first_key: str
    first_seen: datetime
    cluster_ids: list[int] = field(default_factory=list)
    count: int = 0
    confidence_sum: float = 0.0
    confidence_n: int = 0
    out_of_scope_n: int = 0
    examples: list[str] = field(default_factory=list)
    labels: Counter[str] = field(default_factory=Counter)
    alerted: bool = False
    hold_until: int = 0
    """The stream's event count before which it does not alert (a held variant)."""
    variant: bool = False
    """A value of a variable position: never alerts."""

    def add(self, text: str, confidence: float | None, label: str,
            out_of_scope: bool) -> None:
        self.count += 1
        self.out_of_scope_n += out_of_scope
        if confidence is not None:
            self.confidence_sum += confidence
            self.confidence_n += 1
        if len(self.examples) < MAX_EXAMPLES:
            example = _redactor().redact(text[:MAX_TEXT])[0]
            if example not in self.examples:
                self.examples.append(example)
        if label:
            self.labels[label] += 1

    @property
    def mean_confidence(self) -> float | None:
        return self.confidence_sum / self.confidence_n if self.confidence_n else None


@dataclass
class _Stream:
    miner: TemplateMiner
    events: int = 0
    started: datetime | None = None
    warm: bool = False
    known_clusters: set[int] = field(default_factory=set)
    known_labels: set[str] = field(default_factory=set)
    clusters: dict[int, _Pattern] = field(default_factory=dict)
    labels: dict[str, _Pattern] = field(default_factory=dict)
    held: dict[int, _Pattern] = field(default_factory=dict)
    _merges_seen: int = 0

    def known(self, cluster_id: int) -> bool:
        """Whether the template holding ``cluster_id`` now holds a known one."""
        miner = self.miner
        if miner.merges != self._merges_seen:  # merges can make a candidate known
            self.known_clusters = {miner.resolve(c) for c in self.known_clusters}
            self._merges_seen = miner.merges
        return miner.resolve(cluster_id) in self.known_clusters


class PatternMiner:
    """Template mining per stream, raising one alert per new pattern."""

    def __init__(self, settings: DetectionSettings, *, source: str) -> None:
        self.settings = settings
        self.source = source
        self._streams = {name: _Stream(template_miner(settings.pattern_similarity))
                         for name in STREAMS}

    def learn(self, stream: str, texts: Iterable[str], labels: Iterable[str] = ()) -> int:
        """Pre-seed known templates (and labels) from training data; the templates now known."""
        state = self._stream(stream)
        for text in texts:
            state.known_clusters.add(state.miner.add(text).cluster_id)
        state.known_labels.update(label for label in labels if label)
        return len({state.miner.resolve(c) for c in state.known_clusters})

    def warm(self, stream: str) -> bool:
        """Whether ``stream``'s warm-up is over (new templates are candidates)."""
        return self._stream(stream).warm

    def min_count(self, stream: str, at: datetime) -> int:
        """Recurrences a new template of ``stream`` needs now (from the source's rate)."""
        state = self._stream(stream)
        elapsed = 0.0 if state.started is None else (at - state.started).total_seconds()
        rate = state.events / max(elapsed, 1.0)
        return min(self.settings.pattern_min_count,
                   1 + int(rate // self.settings.pattern_rate_per_count))

    def observe(self, stream: str, text: str, *, confidence: float | None, label: str = "",
                key: str, at: datetime, out_of_scope: bool = False) -> list[Alert]:
        """Mine one text (``out_of_scope``: the model's calibrated flag for it); the
        new-pattern alert it completes, if any."""
        state = self._stream(stream)
        if at.tzinfo is None or at.utcoffset() is None:
            raise ValueError("at must be timezone-aware")
        if confidence is not None and not 0.0 <= confidence <= 1.0:
            raise ValueError(f"confidence must be in [0, 1], got {confidence!r}")
        if not text.strip():
            return []
        state.events += 1
        state.started = state.started or at
        match = state.miner.add(text)
        if not state.warm:
            s = self.settings
            state.warm = state.events > s.pattern_warmup_events or (
                (at - state.started).total_seconds() >= s.pattern_warmup_s)
        if not state.warm:
            state.known_clusters.add(match.cluster_id)
            if label:
                state.known_labels.add(label)
            return []
        released = self._release(stream, state, key, at)
        if state.known(match.cluster_id):
            return released
        return released + self._candidate(stream, state, text, match.cluster_id,
                                          match.template, confidence, out_of_scope, label,
                                          key, at)

    def _release(self, stream: str, state: _Stream, key: str, at: datetime) -> list[Alert]:
        """Alerts of held variants whose hold ended without their position turning variable."""
        out = []
        for cluster_id, pattern in list(state.held.items()):
            if pattern.hold_until > state.events:
                continue
            del state.held[cluster_id]
            miner = state.miner
            if (miner.resolve(cluster_id) != cluster_id or state.known(cluster_id)
                    or values(miner, cluster_id) >= VARIANT_VALUES):
                pattern.variant = True
            elif self._due(stream, pattern, at):
                pattern.alerted = True
                out.append(self._alert(stream, state, pattern, key, at))
        return out

    def _due(self, stream: str, pattern: _Pattern, at: datetime) -> bool:
        if pattern.alerted or pattern.variant or pattern.count < self.min_count(stream, at):
            return False
        mean = pattern.mean_confidence
        return (mean is None or mean < self.settings.pattern_max_confidence
                or 2 * pattern.out_of_scope_n >= pattern.count)

    def _candidate(self, stream: str, state: _Stream, text: str, cluster_id: int,
                   template: str, confidence: float | None, out_of_scope: bool, label: str,
                   key: str, at: datetime) -> list[Alert]:
        new_label = bool(label) and label not in state.known_labels
        table: dict[Any, _Pattern] = state.labels if new_label else state.clusters
        pattern = table.get(label if new_label else cluster_id)
        if pattern is None and not new_label:
            pattern = self._family(state, cluster_id)
            if pattern is not None:
                table[cluster_id] = pattern
        if pattern is None:
            line = _redactor().redact(text[:MAX_TEXT])[0]
            pattern = _Pattern(template[:MAX_TEXT], line, key, at)
            table[label if new_label else cluster_id] = pattern
            if not new_label:
                seen = values(state.miner, cluster_id)
                pattern.variant = seen >= VARIANT_VALUES or self._stretch_of_known(
                    state, cluster_id)
                if seen == 2:
                    pattern.hold_until = state.events + VARIANT_HOLD
                    state.held[cluster_id] = pattern
        if cluster_id not in pattern.cluster_ids:
            pattern.cluster_ids.append(cluster_id)
        pattern.add(text, confidence, label, out_of_scope)
        if pattern.hold_until > state.events or not self._due(stream, pattern, at):
            return []
        pattern.alerted = True
        return [self._alert(stream, state, pattern, key, at)]

    @staticmethod
    def _family(state: _Stream, cluster_id: int) -> _Pattern | None:
        """The new pattern a new template joins: one whose template differs from it in a
        variable stretch only (:func:`stretch_variant`) or in a setting
        (:func:`setting_variant`). Both need the first word alike: others are skipped."""
        mine = state.miner.tokens(cluster_id)
        for other, pattern in state.clusters.items():
            theirs = state.miner.tokens(other)
            if other != cluster_id and theirs[0] == mine[0] and (
                    stretch_variant(mine, theirs) or setting_variant(mine, theirs)):
                return pattern
        return None

    @staticmethod
    def _stretch_of_known(state: _Stream, cluster_id: int) -> bool:
        """Whether a known template differs from this one in a variable stretch or in a
        stack trace only (:func:`stretch_variant`, :func:`stack_variant`); the first needs
        the first word alike, the second a stack trace here (others are skipped)."""
        mine = state.miner.tokens(cluster_id)
        stack = without_stack(mine) is not None
        for known in state.known_clusters:
            theirs = state.miner.tokens(known)
            if (theirs[0] == mine[0] and stretch_variant(mine, theirs)) or (
                    stack and stack_variant(mine, theirs)):
                return True
        return False

    def _stream(self, stream: str) -> _Stream:
        if stream not in self._streams:
            raise ValueError(f"unknown pattern stream {stream!r} (known: {', '.join(STREAMS)})")
        return self._streams[stream]

    def _alert(self, stream: str, state: _Stream, pattern: _Pattern, key: str,
               at: datetime) -> Alert:
        miner = state.miner
        templates = list(dict.fromkeys(
            miner.template(c)[:MAX_TEXT] for c in pattern.cluster_ids))[:MAX_EXAMPLES]
        nearest = miner.nearest(pattern.cluster_ids[0], state.known_clusters)
        first = pattern.first_template
        mean = pattern.mean_confidence
        return Alert.raise_(
            kind="new_pattern", severity="warning", key=f"{stream}/{first}", signal=stream,
            scope="global", source=self.source, raised_at=at,
            title=f"new {stream} pattern: {first[:200]}",
            summary=f"{pattern.count} {stream} events since {pattern.first_seen.isoformat()} "
                    f"match a template unknown before" + (
                        "" if mean is None else f", mean confidence {mean:.2f}")
                    + (f", {pattern.out_of_scope_n} out of scope for the model"
                       if pattern.out_of_scope_n else "")
                    + ("" if nearest is None else f"; nearest known: {nearest[:200]}"),
            details={"stream": stream, "template": first, "templates": templates,
                     "first_line": pattern.first_line, "first_key": pattern.first_key,
                     "examples": list(pattern.examples),
                     "nearest_known": None if nearest is None else nearest[:MAX_TEXT],
                     "first_seen": pattern.first_seen.isoformat(), "count": pattern.count,
                     "mean_confidence": mean, "out_of_scope": pattern.out_of_scope_n,
                     "labels": dict(pattern.labels),
                     "clusters": len(pattern.cluster_ids), "trigger": key})
