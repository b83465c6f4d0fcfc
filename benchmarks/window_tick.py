"""What a window agent's tick costs, against one pass over the whole ``windows`` table.

Feeds a :class:`~streamtune.streams.worker.app.WindowAgent` over a plain dict the
window-deltas of ``--groups`` (source, command type) pairs spread over six
partitions: each minute of event time a deltas record per partition, then a tick
per partition. Once the table holds an hour of closed windows (the retention), it
times the ticks (each also writes what its partition held since the last one, see
``held_writes.py``), and as the reference one pass over the whole table reading each
window's partition: what a tick that walks the table (the agent's before December
8) pays at the least. The worker sends six ticks a second, idle or not. It also
times building the window index from the table, done after each rebalance.

Run: ``.venv/bin/python benchmarks/window_tick.py [--groups 100] [--minutes 120]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

from streamtune.prometheus import PipelineMetrics
from streamtune.streams.worker.app import WINDOW_RETENTION_S, WindowAgent
from streamtune.streams.worker.window_index import WindowIndex
from streamtune.streams.worker.windows import (
    Aggregate,
    WindowDelta,
    WindowKey,
    deltas_records,
)

PARTITIONS = 6
WINDOW_S = 60


async def _no_write(*_: Any) -> None:
    return None


def _tick(watermark_ms: int) -> bytes:
    return json.dumps({"type": "tick", "watermark_ms": watermark_ms, "idle_s": 0}).encode()


def _whole_table_pass(table: dict[str, Any]) -> int:
    return sum(1 for key, raw in table.items() if not key.startswith("@") and raw["partition"] == 0)


async def _run(groups: int, minutes: int) -> dict[str, float]:
    table: dict[str, Any] = {}
    agent = WindowAgent(table, window_s=WINDOW_S, idle_close_s=5.0, write=_no_write,
                        read_missed=lambda *_: [], metrics=PipelineMetrics())
    offsets = [0] * PARTITIONS
    timed_from = WINDOW_RETENTION_S // 60 + 5
    tick_s = pass_s = 0.0
    ticks = 0
    for minute in range(minutes):
        start_ms = minute * WINDOW_S * 1000
        for partition in range(PARTITIONS):
            deltas = [WindowDelta(WindowKey("commands", f"type{g}", start_ms), "raw/0",
                                  minute, minute, Aggregate(events=3))
                      for g in range(partition, groups, PARTITIONS)]
            [(_, record)] = deltas_records(deltas, 1)
            await agent.handle(partition, offsets[partition], record)
            offsets[partition] += 1
        for partition in range(PARTITIONS):
            began = time.perf_counter()
            await agent.handle(partition, offsets[partition], _tick(start_ms))
            offsets[partition] += 1
            if minute >= timed_from:
                tick_s += time.perf_counter() - began
                began = time.perf_counter()
                _whole_table_pass(table)
                pass_s += time.perf_counter() - began
                ticks += 1
    began = time.perf_counter()
    index = WindowIndex()
    index.refresh(table)
    windows = sum(1 for key in table if not key.startswith("@"))
    return {"windows": windows, "tick_ms": tick_s / ticks * 1e3, "pass_ms": pass_s / ticks * 1e3,
            "rebuild_ms": (time.perf_counter() - began) * 1e3}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=100,
                        help="(source, command type) pairs")
    parser.add_argument("--minutes", type=int, default=120, help="minutes of event time fed")
    args = parser.parse_args()
    if args.minutes <= WINDOW_RETENTION_S // 60 + 5:
        parser.error(f"--minutes must exceed {WINDOW_RETENTION_S // 60 + 5}")
    figures = asyncio.run(_run(args.groups, args.minutes))
    print(f"windows in the table: {figures['windows']:,.0f} "
          f"({args.groups} pairs, {PARTITIONS} partitions)")
    print(f"tick, one partition: {figures['tick_ms']:.3f} ms; one pass over the whole table "
          f"(reference): {figures['pass_ms']:.3f} ms; ratio "
          f"{figures['tick_ms'] / figures['pass_ms']:.2f}")
    print(f"at six ticks a second: {figures['tick_ms'] * 6 / 10:.2f} % of a CPU, against at "
          f"least {figures['pass_ms'] * 6 / 10:.2f} % walking the table")
    print(f"window index built from the table (after a rebalance): "
          f"{figures['rebuild_ms']:.1f} ms")


if __name__ == "__main__":
    main()
