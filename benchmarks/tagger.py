"""Span F1 of the parameter_extractor tagger beside the rule-based grammar, on unseen texts.

Simulates commands, holds out every command whose normalised text hashes into
one fifth (so no test text, nor an augmented copy of one, is trained on),
trains on the rest plus command-variation augmentations, and scores three
held-out sets with the tagger (torch) and with
``streamtune.schemas.commands.match_spans`` (given the gold command type):
clean test rows, the same rows with one keyboard slip outside the values, and
augmented paraphrases (synonyms, word order, style) of test commands.

Run: ``.venv/bin/python benchmarks/tagger.py [--events 3000] [--layers 1]``
"""

from __future__ import annotations

import argparse
import time
import zlib
from datetime import UTC, datetime
from typing import Any

from streamtune.config import AugmentationSettings, TrainingSettings
from streamtune.models.augmentation import Augmenter
from streamtune.models.tagging import labelled, rule_spans, span_metrics, with_typos
from streamtune.models.tagging.training import train_tagger
from streamtune.schemas.events import CommandEvent
from streamtune.schemas.text import normalize_text
from streamtune.simulator import Simulator

PARAPHRASES = ("synonym_replacement", "word_order_shuffle", "style_transformation")


def _sets(events: int) -> dict[str, list[dict[str, Any]]]:
    stream = list(Simulator(7, start=datetime(2026, 1, 1, tzinfo=UTC)).events(events))
    commands = [e for e in stream if isinstance(e, CommandEvent)]
    held = {e.event_id for e in commands
            if zlib.crc32(normalize_text(e.raw_input).encode()) % 5 == 0}
    rows = Augmenter(AugmentationSettings(rate=0.5, seed=1)).augment(stream).rows
    augmented = [(r.parent_event_id in held, r.technique,
                  r.event.model_dump(mode="json") | {"synthetic": True})
                 for r in rows if isinstance(r.event, CommandEvent)]
    test = [row for e in commands if e.event_id in held
            if labelled(row := e.model_dump(mode="json"))]
    unseen = {normalize_text(r["raw_input"]) for r in test}
    train = [e.model_dump(mode="json") for e in commands if e.event_id not in held]
    train += [r for is_held, technique, r in augmented if not is_held
              and technique in (*PARAPHRASES, "parameter_substitution")
              and normalize_text(r["raw_input"]) not in unseen]
    seen = {normalize_text(r["raw_input"]) for r in train}
    paraphrases = [r for is_held, technique, r in augmented if is_held and technique in PARAPHRASES
                   and normalize_text(r["raw_input"]) not in seen and labelled(r)]
    return {"train": train, "test": test, "typos": with_typos(test, seed=3),
            "paraphrases": paraphrases}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--layers", type=int, default=1)
    args = parser.parse_args()
    sets = _sets(args.events)
    started = time.perf_counter()
    trained = train_tagger(sets["train"], [], TrainingSettings().parameter_extractor,
                           layers=args.layers)
    print(f"trained on {len(sets['train'])} rows in {time.perf_counter() - started:.1f} s")
    print(f"{'set':12} {'rows':>5} {'model micro/macro F1':>21} {'token acc':>9} "
          f"{'rules micro/macro F1':>21}")
    for name in ("test", "typos", "paraphrases"):
        rows = sets[name]
        texts = [found[0] for r in rows if (found := labelled(r))]
        model = span_metrics(rows, trained.extract(texts))
        rules = span_metrics(rows, [rule_spans(r) for r in rows])
        print(f"{name:12} {model['rows']:5d} {model['micro']['f1']:10.3f} "
              f"{model['macro']['f1']:10.3f} {model['token_accuracy']:9.3f} "
              f"{rules['micro']['f1']:10.3f} {rules['macro']['f1']:10.3f}")


if __name__ == "__main__":
    main()
