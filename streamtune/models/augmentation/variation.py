"""Command variation: the same command, said differently (rows are command events).

* ``synonym_replacement`` swaps one or two phrasing words for another member
  of their synonym group (never a parameter value);
* ``word_order_shuffle`` switches to another catalogue phrasing with the same
  parameters, fronts a trailing clause ("in 5m, restart pump-3") or moves a
  filler adverb to the other end ("now, stop pump-2");
* ``parameter_substitution`` replaces one parameter value by another value
  seen for that parameter in the stream (falling back to the catalogue's
  examples, or a sampled valid value);
* ``style_transformation`` makes the command polite, a question, terse,
  urgent, or changes its casing.
"""

from __future__ import annotations

import zlib

from streamtune.models.augmentation.build import command_event, fill
from streamtune.models.augmentation.grammar import fronted
from streamtune.models.augmentation.lexicon import MOVABLE
from streamtune.models.augmentation.rows import Job, value_text
from streamtune.schemas.commands import ParamValue, sample_value, validate_parameters
from streamtune.schemas.events import CommandEvent

_POLITE = ("please {t}", "{t}, please", "could you please {t}", "kindly {t}")
_QUESTION = ("can you {t}?", "could you {t}?", "would you {t}?")
_URGENT = ("{t} now", "{t} immediately", "{t}!", "{t} right away")


def _differs(a: str, b: str) -> bool:
    return " ".join(a.lower().split()) != " ".join(b.lower().split())


def synonym_replacement(job: Job) -> CommandEvent | None:
    """Replace one or two phrasing words by synonyms from the domain table."""
    base, rng, grammar = job.base, job.rng, job.tools.grammar
    order = [base.phrasing] + [i for i in base.same_fields() if i != base.phrasing]
    for index in order:
        template = base.spec.phrasings[index]
        choices = [(s, e, h) for s, e, h in grammar.synonym_spans(template)
                   if len(grammar.groups[h]) > 1]
        if not choices:
            continue
        picked = sorted(rng.sample(choices, min(len(choices), rng.choice((1, 1, 2)))),
                        reverse=True)
        for start, end, head in picked:
            current = " ".join(template[start:end].lower().split())
            options = [w for w in grammar.groups[head] if w != current]
            template = template[:start] + rng.choice(options) + template[end:]
        text = fill(base.spec, template, base.params)
        if _differs(text, base.text):
            return command_event(job, text, dict(base.params))
    return None


def word_order_shuffle(job: Job) -> CommandEvent | None:
    """Reorder without changing the grammar: other phrasing, fronted clause or moved adverb."""
    base, rng = job.base, job.rng
    spec, params = base.spec, base.params
    options: list[str] = [fill(spec, spec.phrasings[i], params)
                          for i in base.same_fields() if i != base.phrasing]
    front = fronted(spec.phrasings[base.phrasing])
    if front is not None:
        options.append(fill(spec, front, params))
    words = base.text.split()
    if len(words) > 1 and words[0].lower() in MOVABLE:
        options.append(" ".join(words[1:]) + " " + words[0])
    if len(words) > 1 and words[-1].lower() in MOVABLE:
        options.append(f"{words[-1]}, " + " ".join(words[:-1]))
    options = [o for o in options if _differs(o, base.text)]
    if not options:
        return None
    return command_event(job, rng.choice(options), dict(params))


def _rendezvous(salt: str, values: list[ParamValue]) -> ParamValue:
    """The value with the lowest stable hash: adding values rarely changes the pick."""
    return min(values, key=lambda v: (zlib.crc32(f"{salt}:{value_text(v)}".encode()),
                                      value_text(v)))


def substitutes(job: Job, name: str) -> tuple[list[ParamValue], str]:
    """Candidate new values of parameter ``name`` and where they come from.

    Values observed for ``(command_type, name)`` come first (``"observed"``);
    without any, the catalogue examples or sampled valid values (``"catalogue"``).
    """
    base = job.base
    current = value_text(base.params[name])
    seen = job.tools.observed.get((base.spec.name, name), ())
    pool = [v for v in seen if value_text(v) != current]
    if pool:
        return pool, "observed"
    param = base.spec.param_index[name]
    drawn: list[ParamValue] = list(param.examples) or [sample_value(param, job.rng)
                                                      for _ in range(4)]
    fallback: list[ParamValue] = [v for v in drawn if value_text(v) != current
                                  and not validate_parameters(base.spec.name,
                                                              {**base.params, name: v})]
    return fallback, "catalogue"


def parameter_substitution(job: Job) -> CommandEvent | None:
    """Give one parameter another value seen for it in the stream."""
    base, rng = job.base, job.rng
    names = list(base.params)
    rng.shuffle(names)
    for name in names:
        pool, _ = substitutes(job, name)
        if not pool:
            continue
        value = _rendezvous(f"{job.lineage.augmented_id}:{name}", pool)
        params = {**base.params, name: value}
        text = fill(base.spec, base.spec.phrasings[base.phrasing], params)
        return command_event(job, text, params)
    return None


def _casing(text: str, pick: int) -> str:
    if pick == 0:
        return text.upper()
    if pick == 1:
        return text.title()
    return text[:1].upper() + text[1:]


def style_transformation(job: Job) -> CommandEvent | None:
    """Polite, question, terse, urgent or re-cased form of the command."""
    base, rng, grammar = job.base, job.rng, job.tools.grammar
    core = grammar.strip_fillers(base.text, articles=False) or base.text
    styles: list[str] = [
        rng.choice(_POLITE).format(t=core), rng.choice(_QUESTION).format(t=core),
        rng.choice(_URGENT).format(t=core), _casing(base.text, rng.randrange(3)),
    ]
    terse = grammar.strip_fillers(base.text)
    if terse and _differs(terse, base.text):
        styles.append(terse)
    options = [s for s in styles if s.strip() != base.text]
    if not options:
        return None
    return command_event(job, rng.choice(options), dict(base.params))
