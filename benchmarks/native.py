"""The hot path compiled by mypyc against the same Python interpreted, µs per event (issue #18).

``make install`` compiles the hot path's own modules with mypyc (``streamtune/native.py``);
this times the same work in fresh processes that import them compiled and as plain Python
(``STREAMTUNE_NATIVE=0``), in alternating runs:

- ``BatchProcessor.process`` without augmentation (decode, screen, clean, de-duplicate,
  annotate, windows) over batches of ``batch_max_events`` records it has not seen, then
  the batch's rows as Arrow tables (``event_rows`` + ``arrow_tables``, as ``steps.py``
  builds them) and the clean-topic JSON (``event_json``): the ingest thread's work on a
  batch but for the live stage and the store insert; least CPU time per event of the
  rounds.

Run: ``.venv/bin/python benchmarks/native.py [--events 20000] [--rounds 3]`` (after
``make install``, or ``.venv/bin/python -m streamtune.native_build``).

Two builds (a change against its parent, each in a ``git worktree`` with its own native
build): ``PYTHONPATH=<tree> .venv/bin/python <tree>/benchmarks/native.py --measure`` in each
tree in turn prints that tree's figure in this process, as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent


def measure(events: int, rounds: int) -> dict[str, object]:
    """In this process: µs per event of the batch work (module doc), least of ``rounds``."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from steps import _arrow_tables, _layouts, records

    import streamtune.streams.worker.batch as batch_module
    from streamtune.config import Settings
    from streamtune.native import compiled
    from streamtune.sinks.rows import event_json
    from streamtune.streams.worker.startup import tune_worker_gc

    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    size = settings.pipeline.batch_max_events
    raws = records(events * (rounds + 1), hostile_share=0.02, secret_share=0.02)
    layouts, _ = _layouts(no_insert=True)
    processor = batch_module.BatchProcessor(settings)
    warm = raws[:events]
    for start in range(0, len(warm), size):  # caches filled, as in a worker
        _arrow_tables([processor.process(warm[start:start + size], augment=False)], layouts)
    tune_worker_gc()
    best = float("inf")
    for n in range(1, rounds + 1):
        fresh = raws[n * events:(n + 1) * events]  # records no round has seen
        started = time.process_time()
        for start in range(0, len(fresh), size):
            result = processor.process(fresh[start:start + size], augment=False)
            _arrow_tables([result], layouts)
            for event, _ in result.events:
                event_json(event)
        best = min(best, time.process_time() - started)
    return {"us": best / events * 1e6, "compiled": compiled()}


def _measured(native: bool, events: int, rounds: int) -> dict[str, object]:
    """:func:`measure` in a fresh process, the compiled modules imported or not."""
    env = {**os.environ, "STREAMTUNE_NATIVE": "1" if native else "0"}
    out = subprocess.run(  # noqa: S603 - fixed argv
        [sys.executable, __file__, "--measure", "--events", str(events), "--rounds",
         str(rounds)], cwd=tempfile.gettempdir(), env=env,
        capture_output=True, text=True, check=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--measure", action="store_true",
                        help="time the imported build in this process only; print JSON")
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.events, args.rounds)))
        return
    from streamtune.native import compiled_extensions

    if compiled_extensions() is None:
        sys.exit("no native build matches the sources: run "
                 "`.venv/bin/python -m streamtune.native_build` (make install does)")
    console = Console()
    figures: dict[str, list[float]] = {"interpreted": [], "compiled by mypyc": []}
    with console.status("timing both, alternately"):
        for _ in range(2):
            for label, native in (("interpreted", False), ("compiled by mypyc", True)):
                found = _measured(native, args.events, args.rounds)
                if found["compiled"] != native:
                    sys.exit(f"{label}: the wrong modules were imported")
                figures[label].append(float(found["us"]))  # type: ignore[arg-type]
    table = Table(title=f"the ingest thread's batch work (no live stage, no insert), "
                        f"µs per event, {args.events:,} new events per round")
    table.add_column("hot path")
    table.add_column("µs per event (least)", justify="right")
    table.add_column("each run", justify="right")
    for label, runs in figures.items():
        table.add_row(label, f"{min(runs):.1f}", ", ".join(f"{us:.1f}" for us in runs))
    console.print(table)
    ratio = min(figures["compiled by mypyc"]) / min(figures["interpreted"])
    console.print(f"compiled / interpreted: {ratio:.2f}")


if __name__ == "__main__":
    main()
