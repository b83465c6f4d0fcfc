"""A worker's start-up against the dev broker: CPU and memory until it idles (printed, no
assertions).

For each run a fresh ``streamtune worker`` (embedded chdb store, empty topics) starts
against a dev broker of the benchmark's own; after ``--seconds`` (by then it has joined
its group, been assigned every raw partition and settled into its rests) the CPU seconds
of its threads by part, of the dev broker over the same span, and the worker's peak RSS
are read. Each test that starts a worker (about twenty in the suite) and each
``make demo`` pays this.

Run: ``.venv/bin/python benchmarks/startup.py [--runs 3] [--seconds 8]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from pipeline import CHDB_THREADS, PYTHON_THREADS, _settings, _Worker
from procfs import group_ticks
from rich.console import Console
from rich.table import Table
from scratch import scratch_broker

from streamtune.streams.kafka.admin import create_topics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args()
    tick = os.sysconf("SC_CLK_TCK")
    rows: list[dict[str, float]] = []
    with scratch_broker("st-startup-") as (root, broker):
        pgid = broker.status().pid or 0
        for run in range(args.runs):
            settings = _settings(root, broker.port, f"s{run}.")
            create_topics(settings)
            before = group_ticks(pgid)
            worker = _Worker(settings)
            try:
                time.sleep(args.seconds)
                parts = worker.cpu_parts()
                rows.append({**parts, "worker": sum(parts.values()),
                             "dev broker": (group_ticks(pgid) - before) / tick,
                             "peak RSS MB": worker.peak_rss_mb()})
            finally:
                worker.stop()
    columns = ["worker", "faust loop", "librdkafka", "batch thread",
               CHDB_THREADS, PYTHON_THREADS, "dev broker", "peak RSS MB"]
    table = Table(title=f"worker start-up, first {args.seconds:g} s, {args.runs} runs: "
                        "CPU seconds (median, range)")
    table.add_column("part")
    table.add_column("median", justify="right")
    table.add_column("range", justify="right")
    for column in columns:
        values = [row.get(column, 0.0) for row in rows]
        table.add_row(column, f"{statistics.median(values):.2f}",
                      f"{min(values):.2f}-{max(values):.2f}")
    Console().print(table)


if __name__ == "__main__":
    main()
