"""Embedded chdb's allocator setting: a worker's CPU and memory per ``JE_MALLOC_CONF``.

chdb allocates with its own jemalloc, which reads ``JE_MALLOC_CONF`` once, when chdb
loads; so each setting runs in a process of its own, the settings alternating round by
round. Each process builds ``--events`` records (``steps.records``: simulated events of
every kind, some hostile, some with secrets), runs them through
``BatchProcessor.process`` in batches of ``--batch`` (1,000: a worker's batch at 5,000
events/s, whose batches are cut by ``batch_max_wait_ms``), and inserts each batch's rows
into an embedded store migrated and tuned as a worker's; then it idles 2 s (merges
finish, jemalloc's background thread gives back what its setting lets go). Printed per
setting, the median of the rounds:

- CPU per event of the whole process (the batches, the inserts, chdb's merges);
- the inserts' CPU per event in the thread that ran them;
- minor page faults per event (pages given back and touched again);
- peak RSS, and what jemalloc holds resident beyond what is allocated after the idle 2 s.

Run: ``.venv/bin/python benchmarks/chdb_allocator.py [--events 40000] [--batch 1000]
[--rounds 3] [--confs dirty_decay_ms:0,dirty_decay_ms:1000]``
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

from procfs import stat_fields, status_mb
from rich.console import Console
from rich.table import Table

FIELDS = {"cpu_us": "CPU per event, µs", "insert_us": "inserts' thread, µs per event",
          "faults": "minor faults per event", "peak_mb": "peak RSS, MB",
          "kept_mb": "chdb's jemalloc: resident beyond allocated, 2 s idle, MB"}


def child(events: int, batch: int) -> dict[str, float]:
    """One setting's figures (the allocator is configured by this process's environment)."""
    from steps import _layouts, drop_store, records

    from streamtune.config import Settings
    from streamtune.sinks.rows import arrow_tables
    from streamtune.streams.worker.batch import BatchProcessor
    from streamtune.streams.worker.startup import tune_worker_gc

    tune_worker_gc()
    raws = records(events, hostile_share=0.01, secret_share=0.02)
    layouts, store = _layouts(False)
    processor = BatchProcessor(Settings(_env_file=None))  # type: ignore[call-arg]
    own = Path("/proc/self/stat")
    faults_before, cpu_before, inserts = int(stat_fields(own)[7]), time.process_time(), 0.0
    for start in range(0, len(raws), batch):
        result = processor.process(raws[start:start + batch], augment=False)
        tables = arrow_tables(result.event_rows(), layouts.__getitem__)
        started = time.thread_time()
        for name, table in tables.items():
            store.insert(name, table, table.column_names)
        inserts += time.thread_time() - started
    time.sleep(2.0)
    cpu = time.process_time() - cpu_before
    faults = int(stat_fields(own)[7]) - faults_before
    stats = store.query_rows("SELECT * FROM system.jemalloc_stats")[0][0]
    allocated, resident = (int(re.search(p, stats)[1])  # type: ignore[index]
                           for p in (r"Allocated: ([0-9]+)", r"resident: ([0-9]+)"))
    drop_store(store)
    return {"cpu_us": cpu / len(raws) * 1e6, "insert_us": inserts / len(raws) * 1e6,
            "faults": faults / len(raws), "peak_mb": status_mb("self", "VmHWM"),
            "kept_mb": (resident - allocated) / 2**20}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=40_000)
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--confs", default="dirty_decay_ms:0,dirty_decay_ms:1000")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.events, args.batch)))
        return
    confs = args.confs.split(",")
    runs: dict[str, list[dict[str, float]]] = {conf: [] for conf in confs}
    console = Console()
    for round_ in range(args.rounds):
        for conf in confs if round_ % 2 == 0 else confs[::-1]:
            done = subprocess.run(  # noqa: S603 - this script, run again
                [sys.executable, __file__, "--child", "--events", str(args.events),
                 "--batch", str(args.batch)], env={**os.environ, "JE_MALLOC_CONF": conf},
                capture_output=True, text=True, check=True, timeout=600)
            runs[conf].append(json.loads(done.stdout.splitlines()[-1]))
            console.print(f"round {round_ + 1}, {conf}: " + ", ".join(
                f"{key} {value:.1f}" for key, value in runs[conf][-1].items()))
    table = Table(title=f"JE_MALLOC_CONF: {args.events:,} records in batches of "
                        f"{args.batch:,} into embedded chdb, median of {args.rounds} rounds")
    table.add_column("figure")
    for conf in confs:
        table.add_column(conf, justify="right")
    for key, label in FIELDS.items():
        table.add_row(label, *(f"{statistics.median(r[key] for r in runs[conf]):.1f}"
                               for conf in confs))
    console.print(table)


if __name__ == "__main__":
    main()
