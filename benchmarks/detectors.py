"""Detection delay, false alarms and speed of every River detector in the table (printed).

For each detector and each kind of signal it accepts, over ``--seeds`` seeded runs:

- binary: an error rate stepping 0.08 -> 0.3 at the middle of the stream (0/1 values);
- continuous: a log-normal execution time (median 1 s, sigma 0.5) doubling at the middle,
  fed as ``log1p(seconds)`` like :class:`~streamtune.models.detection.monitor.DriftMonitor`;
- the same streams without the change (stationary).

Delay is the distance from the change to the first detection at or after it (median
and p90 over the runs that detected it); false alarms count detections before the
change plus every detection of the stationary runs, also given per million values.
Raw detectors: no warm-up or cooldown (the monitor adds both). KSWIN costs about a
millisecond per value, so it runs ``--slow-seeds`` seeds.

Run: ``.venv/bin/python benchmarks/detectors.py [--seeds 20] [--events 6000]``
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import time
from collections.abc import Callable

from streamtune.models.detection.detectors import DETECTORS, SignalKind, feed, make_detector

SLOW = {"kswin"}


def binary_stream(seed: int, n: int, at: int, p0: float = 0.08, p1: float = 0.3) -> list[float]:
    """0/1 values: 1 with probability ``p0`` before index ``at``, ``p1`` from it."""
    rng = random.Random(seed)
    return [float(rng.random() < (p0 if i < at else p1)) for i in range(n)]


def time_stream(seed: int, n: int, at: int, factor: float = 2.0) -> list[float]:
    """``log1p`` of log-normal times (median 1 s, sigma 0.5), times ``factor`` from ``at``."""
    rng = random.Random(seed)
    return [math.log1p(math.exp(rng.gauss(0.0, 0.5)) * (factor if i >= at else 1.0))
            for i in range(n)]


def detections(name: str, kind: SignalKind, values: list[float]) -> tuple[list[int], float]:
    """Indexes where the detector fired, and the seconds it took."""
    detector = make_detector(name, kind)
    hits = []
    start = time.perf_counter()
    for i, x in enumerate(values):
        if feed(detector, x):
            hits.append(i)
    return hits, time.perf_counter() - start


def measure(name: str, kind: SignalKind, seeds: int, n: int) -> dict[str, float | int | str]:
    """One table row: delays, misses, false alarms and speed over ``seeds`` runs."""
    make: Callable[[int, int, int], list[float]] = (
        binary_stream if kind == "binary" else time_stream)
    at = n // 2
    delays, false_alarms, seconds, values = [], 0, 0.0, 0
    for seed in range(seeds):
        hits, took = detections(name, kind, make(seed, n, at))
        after = [h - at for h in hits if h >= at]
        false_alarms += sum(h < at for h in hits)
        if after:
            delays.append(after[0])
        still, took_still = detections(name, kind, make(1000 + seed, n, n))
        false_alarms += len(still)
        seconds += took + took_still
        values += 2 * n
    quantiles = statistics.quantiles(delays, n=10) if len(delays) > 1 else delays * 9
    return {"detector": name, "signal": kind, "runs": seeds,
            "median": statistics.median(delays) if delays else math.nan,
            "p90": quantiles[-1] if delays else math.nan, "missed": seeds - len(delays),
            "false": false_alarms, "per_1m": false_alarms / (seeds * 1.5 * n) * 1e6,
            "rate": values / seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--slow-seeds", type=int, default=3, help="seeds for KSWIN")
    parser.add_argument("--events", type=int, default=6000, help="values per run")
    args = parser.parse_args()
    if args.seeds < 1 or args.slow_seeds < 1 or args.events < 100:
        parser.error("--seeds and --slow-seeds must be >= 1, --events >= 100")
    print(f"{args.events} values per run, change at {args.events // 2}; binary 0.08 -> 0.3, "
          "continuous log-normal time x2 (log1p)\n")
    print("| detector | signal | runs | delay median | delay p90 | missed | false alarms "
          "| per 1M values | updates/s |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, spec in DETECTORS.items():
        for kind in sorted(spec.accepts):
            seeds = args.slow_seeds if name in SLOW else args.seeds
            r = measure(name, kind, seeds, args.events)
            print(f"| {name} | {kind} | {r['runs']} | {r['median']:.0f} | {r['p90']:.0f} "
                  f"| {r['missed']} | {r['false']} | {r['per_1m']:.0f} | {r['rate']:,.0f} |")


if __name__ == "__main__":
    main()
