"""Per-event cost of redaction, cleaning and annotation (printed figures, no assertions).

Pre-generates simulated events, warms the caches (phrasing regexes compile on
first use), then reports the best of several rounds in microseconds per event.

Run: ``.venv/bin/python benchmarks/cleaning.py [--events 20000] [--rounds 5]``
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from streamtune.schemas.events import CommandEvent
from streamtune.simulator import Simulator
from streamtune.transforms.annotation import annotate
from streamtune.transforms.cleaning import clean_event
from streamtune.transforms.redaction import Redactor


def _best_us(run: Callable[[Any], object], items: Sequence[Any], rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for item in items:
            run(item)
        best = min(best, time.perf_counter() - start)
    return best / max(len(items), 1) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    redactor = Redactor()
    events = list(Simulator(1, start=datetime(2026, 1, 1, tzinfo=UTC)).events(args.events))
    commands = [e for e in events if isinstance(e, CommandEvent)]
    bare = [e.model_copy(update={"normalized_input": None, "parameters": {}}) for e in commands]
    cleaned = [clean_event(e, redactor=redactor)[0] for e in events + bare]  # warm-up
    cleaned_commands = [e for e in cleaned[len(events):]]
    texts = [e.raw_input for e in commands]

    def clean(event: Any) -> object:
        return clean_event(event, redactor=redactor)

    figures = {
        "redact raw_input (command text)": _best_us(redactor.redact, texts, args.rounds),
        "clean_event, command as sent": _best_us(clean, commands, args.rounds),
        "clean_event, command w/o normalized_input+parameters": _best_us(clean, bare,
                                                                         args.rounds),
        "clean_event, all kinds": _best_us(clean, events, args.rounds),
        "annotate, cleaned command w/o annotations": _best_us(
            annotate, [e.model_copy(update={"intent_labels": None, "entity_tags": None,
                                            "parameter_boundaries": None,
                                            "complexity_score": None})
                       for e in cleaned_commands], args.rounds),
        "annotate, all kinds (cleaned)": _best_us(annotate, cleaned[:len(events)], args.rounds),
    }
    mean_chars = sum(map(len, texts)) / max(len(texts), 1)
    print(f"{len(events)} events ({len(commands)} commands, mean text {mean_chars:.0f} chars)")
    for name, micros in figures.items():
        print(f"  {name:55s} {micros:8.1f} us/event")


if __name__ == "__main__":
    main()
