"""Text variation: catalogue-free techniques for any command type (rows are command events).

They augment a command event the catalogue cannot read (an unknown
``command_type``, or a phrasing the grammar does not know), working on the
words of its normalised text (:func:`.examples.tokenize`). Only editable words
change; protected ones (values, numbers, quoted text...) keep their order and
spelling, and the row keeps the parent's ``command_type`` and ``parameters``:

* ``token_drop`` drops one editable word (two in texts of ten words or more);
* ``token_swap`` swaps two adjacent editable words;
* ``keyboard_typo`` makes one slip in an editable word of three letters or
  more: a neighbouring key, two letters swapped, one left out or doubled;
* ``casing_spacing`` joins two adjacent editable words or splits a long one,
  and re-cases the raw text's editable words (upper, title or first letter);
* ``class_paraphrase`` keeps the parent's words up to a word it shares with
  another remembered example of its type (:class:`.examples.ClassExamples`)
  and continues with that example's editable words after it.

A technique returns nothing when the row's normalised text would equal the
parent's (a row repeating its parent teaches nothing).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from streamtune.models.augmentation.examples import ClassExamples, Token, tokenize
from streamtune.models.augmentation.rows import Lineage
from streamtune.schemas.bounds import MAX_OBJECT_STRING_CHARS
from streamtune.schemas.events import CommandEvent
from streamtune.schemas.text import normalize_text
from streamtune.transforms.annotation import annotate

_MIN_EDITABLE = 2
_KEYBOARD = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
_NEIGHBOURS = {
    ch: "".join(row[j] for row in _KEYBOARD[max(0, r - 1):r + 2]
                for j in range(max(0, c - 1), c + 2) if j < len(row) and row[j] != ch)
    for r, keys in enumerate(_KEYBOARD) for c, ch in enumerate(keys)}


@dataclass(frozen=True, slots=True)
class TextBase:
    """A command event read as words (see :func:`text_base_of`)."""

    parent: CommandEvent
    text: str
    tokens: tuple[Token, ...]

    @property
    def command_type(self) -> str:
        """The parent's command type (every row keeps it)."""
        return self.parent.command_type

    def editable(self) -> list[int]:
        """Indices of the editable words."""
        return [i for i, t in enumerate(self.tokens) if t.editable]


@dataclass(frozen=True, slots=True)
class TextJob:
    """Everything one text technique needs to augment one parent."""

    base: TextBase
    rng: random.Random
    examples: ClassExamples
    lineage: Lineage


TextGenerator = Callable[[TextJob], CommandEvent | None]


def parent_text(event: CommandEvent) -> str:
    """The normalised text of a command event (computed when the producer sent none)."""
    return event.normalized_input or normalize_text(event.raw_input)


def text_base_of(event: CommandEvent) -> TextBase | str:
    """The event read as words, or why text variation cannot augment it."""
    text = parent_text(event)
    tokens = tokenize(text, event.command_type, event.parameters)
    if sum(t.editable for t in tokens) < _MIN_EDITABLE:
        return "fewer than two editable words"
    return TextBase(event, text, tokens)


def text_event(job: TextJob, words: list[str]) -> CommandEvent | None:
    """The synthetic command event whose raw text is ``words`` (``None``: nothing changed)."""
    raw = " ".join(w for w in words if w)
    normal = normalize_text(raw)
    base, parent = job.base, job.base.parent
    if len(raw) > MAX_OBJECT_STRING_CHARS or not normal or normal == base.text:
        return None
    return annotate(CommandEvent(
        event_id=job.lineage.augmented_id, event_time=parent.event_time, source=parent.source,
        session_id=parent.session_id, raw_input=raw, normalized_input=normal,
        command_type=parent.command_type, parameters=dict(parent.parameters),
        context={**parent.context, **job.lineage.marks()}, success=parent.success,
        execution_time=parent.execution_time))


def _texts(base: TextBase) -> list[str]:
    return [t.text for t in base.tokens]


def token_drop(job: TextJob) -> CommandEvent | None:
    """Drop one editable word (two in long texts)."""
    base, rng = job.base, job.rng
    editable = base.editable()
    count = min(len(editable) - 1, rng.choice((1, 2)) if len(base.tokens) >= 10 else 1)
    if len(base.tokens) < 3 or count < 1:
        return None
    gone = set(rng.sample(editable, count))
    return text_event(job, [t for i, t in enumerate(_texts(base)) if i not in gone])


def token_swap(job: TextJob) -> CommandEvent | None:
    """Swap two adjacent editable words that differ."""
    base, rng = job.base, job.rng
    tokens = base.tokens
    pairs = [i for i in range(len(tokens) - 1) if tokens[i].editable
             and tokens[i + 1].editable and tokens[i].key != tokens[i + 1].key]
    if not pairs:
        return None
    i = rng.choice(pairs)
    words = _texts(base)
    words[i], words[i + 1] = words[i + 1], words[i]
    return text_event(job, words)


def slip(word: str, rng: random.Random) -> str:
    """``word`` with one keyboard slip in its letters (neighbour, swap, omission, double)."""
    letters = [i for i, ch in enumerate(word) if ch.isalpha()]
    i = rng.choice(letters[1:] or letters)
    kind = rng.randrange(4)
    if kind == 0 and word[i].lower() in _NEIGHBOURS:
        return word[:i] + rng.choice(_NEIGHBOURS[word[i].lower()]) + word[i + 1:]
    if kind == 1 and i + 1 < len(word) and word[i + 1].isalpha() and word[i] != word[i + 1]:
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    if kind == 2:
        return word[:i] + word[i + 1:]
    return word[:i] + word[i] + word[i:]


def keyboard_typo(job: TextJob) -> CommandEvent | None:
    """One keyboard slip in one editable word of three letters or more."""
    base, rng = job.base, job.rng
    long = [i for i in base.editable() if len(base.tokens[i].key) >= 3]
    if not long:
        return None
    i = rng.choice(long)
    words = _texts(base)
    words[i] = slip(words[i], rng)
    return text_event(job, words)


def _recase(word: str, style: int) -> str:
    return word.upper() if style == 0 else word.title() if style == 1 else word


def casing_spacing(job: TextJob) -> CommandEvent | None:
    """Join two adjacent editable words or split a long one; re-case the editable words."""
    base, rng = job.base, job.rng
    tokens, words = base.tokens, _texts(base)
    joins = [i for i in range(len(tokens) - 1) if tokens[i].editable and tokens[i + 1].editable
             and tokens[i].text == tokens[i].text.strip(".,;:!?")]
    splits = [i for i in base.editable() if len(tokens[i].key) >= 6]
    if joins and (not splits or rng.random() < 0.5):
        i = rng.choice(joins)
        words[i:i + 2] = [words[i] + words[i + 1], ""]
    elif splits:
        i = rng.choice(splits)
        cut = rng.randrange(3, len(words[i]) - 2)
        words[i] = words[i][:cut] + " " + words[i][cut:]
    else:
        return None
    style = rng.randrange(3)
    first = base.editable()[0]
    words = [_recase(w, style) if t.editable and (style < 2 or j == first) else w
             for j, (w, t) in enumerate(zip(words, tokens, strict=True))]
    if style == 2:
        words[first] = words[first][:1].upper() + words[first][1:]
    return text_event(job, words)


def _pivots(donor: tuple[Token, ...]) -> dict[str, int]:
    """Word -> first position after which only editable words follow (and at least one)."""
    start = max((i for i, t in enumerate(donor) if not t.editable), default=-1)
    found: dict[str, int] = {}
    for j in range(max(0, start), len(donor) - 1):
        found.setdefault(donor[j].key, j)
    return found


def class_paraphrase(job: TextJob) -> CommandEvent | None:
    """The parent's words up to a shared word, then another example's words after it."""
    base, rng = job.base, job.rng
    tokens = base.tokens
    start = max((i for i, t in enumerate(tokens) if not t.editable), default=-1)
    donors = job.examples.donors(base.command_type)
    seen = {" ".join(t.text for t in donor) for donor in donors} | {base.text}
    options: set[str] = set()
    for donor in donors:
        pivots = _pivots(donor)
        for i in range(start + 1, len(tokens)):
            j = pivots.get(tokens[i].key)
            if tokens[i].editable and j is not None:
                options.add(" ".join([t.text for t in tokens[:i + 1]]
                                     + [t.text for t in donor[j + 1:]]))
    fresh = sorted(options - seen)
    if not fresh:
        return None
    return text_event(job, rng.choice(fresh).split(" "))


TEXT_TECHNIQUES: dict[str, TextGenerator] = {
    "token_drop": token_drop,
    "token_swap": token_swap,
    "keyboard_typo": keyboard_typo,
    "casing_spacing": casing_spacing,
    "class_paraphrase": class_paraphrase,
}
"""Every text technique by name."""


def row_tokens(event: CommandEvent) -> tuple[Token, ...]:
    """The words of a synthetic row's normalised text (what the text gates read)."""
    return tokenize(parent_text(event), event.command_type, event.parameters)

