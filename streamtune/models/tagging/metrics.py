"""Span-level scores of extracted parameters, the rule-based baseline, and typo probes.

:func:`span_metrics` counts a predicted span correct only when its name, start
and end all equal a gold span's (exact match). It reports micro and macro
(over parameter names) precision/recall/F1, a per-name table, token accuracy
of the implied BIO tags and the share of rows with every span right.
:func:`rule_spans` is the catalogue grammar's answer (it is given the gold
command type, which the tagger never sees); :func:`with_typos` makes probe rows
whose words outside the values carry keyboard slips.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from streamtune.models.tagging.tokens import Span, bio_tags, labelled, tokenize
from streamtune.schemas.commands import COMMANDS, match_spans
from streamtune.simulator.noise import typo


def span_metrics(gold_rows: Sequence[Mapping[str, Any]],
                 predicted: Sequence[Sequence[Span]]) -> dict[str, Any]:
    """Scores of ``predicted`` against the labelled rows of ``gold_rows``, in order.

    ``predicted`` holds one span list per labelled row (rows :func:`labelled`
    rejects are skipped), with offsets into the text the row's boundaries index.
    """
    gold = [pair for row in gold_rows if (pair := labelled(row)) is not None]
    if len(gold) != len(predicted):
        raise ValueError(f"{len(predicted)} predictions for {len(gold)} labelled rows")
    hits, guesses, truths = Counter[str](), Counter[str](), Counter[str]()
    tokens_right = tokens_total = rows_right = 0
    for (text, spans), guessed in zip(gold, predicted, strict=True):
        want = set(spans)
        got = {(s.name, s.start, s.end) for s in guessed}
        truths.update(n for n, _, _ in want)
        guesses.update(n for n, _, _ in got)
        hits.update(n for n, _, _ in want & got)
        rows_right += want == got
        tokens = tokenize(text)
        gold_tags = bio_tags(tokens, spans) or []
        got_tags = bio_tags(tokens, sorted(got)) or ["?"] * len(tokens)
        tokens_right += sum(a == b for a, b in zip(gold_tags, got_tags, strict=False))
        tokens_total += len(gold_tags)
    per_class = {name: _prf(hits[name], guesses[name], truths[name])
                 for name in sorted(truths | guesses)}
    macro = {k: sum(c[k] for c in per_class.values()) / max(1, len(per_class))
             for k in ("precision", "recall", "f1")}
    return {"rows": len(gold), "micro": _prf(sum(hits.values()), sum(guesses.values()),
                                            sum(truths.values())),
            "macro": macro, "per_class": per_class,
            "token_accuracy": tokens_right / max(1, tokens_total),
            "exact_rows": rows_right / max(1, len(gold))}


def rule_spans(row: Mapping[str, Any]) -> list[Span]:
    """The catalogue grammar's spans in the text the row's boundaries index."""
    found = labelled(row)
    command = str(row.get("command_type"))
    if found is None or command not in COMMANDS:
        return []
    text = found[0]
    return [Span(n, a, b, text[a:b]) for n, a, b in match_spans(command, text)]


def with_typos(rows: Sequence[Mapping[str, Any]], seed: int = 0) -> list[dict[str, Any]]:
    """Copies of the labelled rows with one slip in a word outside the values; spans kept."""
    rng = random.Random(seed)  # noqa: S311 - reproducible probes, not secrets
    out = []
    for row in rows:
        found = labelled(row)
        if found is None:
            continue
        text, spans = found
        inside = {i for _, a, b in spans for i in range(a, b)}
        words = [t for t in tokenize(text) if t.text.isalpha() and len(t.text) >= 3
                 and t.start not in inside]
        if not words:
            continue
        word = rng.choice(words)
        slipped = typo(word.text, rng)
        shift = len(slipped) - len(word.text)
        new_text = text[:word.start] + slipped + text[word.end:]
        moved = [(n, a + shift * (a >= word.end), b + shift * (a >= word.end)) for n, a, b in spans]
        out.append({**row, "raw_input": new_text, "normalized_input": None,
                    "parameter_boundaries": [{"name": n, "start": a, "end": b,
                                              "value": new_text[a:b]} for n, a, b in moved]})
    return out


def _prf(hits: int, guesses: int, truths: int) -> dict[str, float]:
    precision = hits / guesses if guesses else 0.0
    recall = hits / truths if truths else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "support": float(truths)}
