"""A worker working off a long backlog, its window agent's catch-up counted.

``pipeline.py`` times 20,000 events (about 7 minutes of event time) to the ingest
loop's last commit; the window agent folds those events' deltas and closes their
windows on the faust loop, partly after that commit. A worker catching up after an
outage reads hours of event time at hundreds of times real time, and closes a
window every few dozen events. Here ``--events`` simulated events (100,000 span
about 33 minutes of event time) wait on a dev broker of the benchmark's own; one
worker (detection in a detect stage, not started) works them off. Printed, from
the worker's first read: its CPU by part per event to the ingest loop's last
commit and to the window agent's last fold (its CPU idle for 2 s), events per
worker CPU-second for each, the window table's changelog records and the
window-deltas records per raw event, and the worker's peak RSS. Baseline: the raw
confluent-kafka consume rate of the same broker, in the same run.

Run: ``.venv/bin/python benchmarks/backlog.py [--events 100000]``
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from pipeline import _consume_rate, _grown, _produce, _settings, _Worker
from scratch import scratch_broker

from streamtune.config import Settings
from streamtune.schemas.topics import windows_changelog_topic
from streamtune.streams.kafka.admin import create_topics, end_offsets
from streamtune.streams.worker.ingest import deltas_topic

IDLE_S = 2.0
"""The window agent is done once the faust loop's CPU grew less than 2 % of this."""


def _records(settings: Settings) -> dict[str, int]:
    """Records in the window table's changelog and in window-deltas."""
    topics = {"windows-changelog": windows_changelog_topic(settings.topics.prefix),
              "window-deltas": deltas_topic(settings)}
    return {name: sum(end_offsets(settings, topic).values()) for name, topic in topics.items()}


def _until(condition: Callable[[], bool], worker: _Worker, timeout: float = 600.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if worker.process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the worker stopped or took over {timeout:.0f} s")
        time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    args = parser.parse_args()
    count = args.events
    with scratch_broker("st-backlog-") as (root, broker):
        baseline_settings = _settings(root, broker.port, "baseline.")
        create_topics(baseline_settings)
        _produce(baseline_settings, count)
        baseline = _consume_rate(baseline_settings, count)
        settings = _settings(root, broker.port, "backlog.", detect_stage=True)
        create_topics(settings)
        span_s = _produce(settings, count)
        worker = _Worker(settings)
        try:
            _until(lambda: _read(worker) > 0, worker)
            start, began = worker.cpu_parts(), time.monotonic()
            _until(lambda: _read(worker) >= count, worker)
            ingest, ingest_s = worker.cpu_parts(), time.monotonic() - began
            faust = ingest.get("faust loop", 0.0)
            while True:
                time.sleep(IDLE_S)
                done = worker.cpu_parts()
                if done.get("faust loop", 0.0) - faust < 0.02 * IDLE_S:
                    break
                faust = done.get("faust loop", 0.0)
            rss_mb = worker.peak_rss_mb()
        finally:
            worker.process.terminate()
            worker.process.wait(30)
        written = _records(settings)
    print(f"{count:,} simulated events ({span_s / 60:,.0f} minutes of event time) waiting on the "
          f"dev broker; one worker, detection in a detect stage (not started)")
    print(f"  raw confluent-kafka consume        {baseline:>10,.0f} events/s")
    print(f"  worker, to the ingest loop's last commit ({ingest_s:.1f} s): "
          f"{count / ingest_s:,.0f} events/s, {count / sum(_grown(start, ingest).values()):,.0f} "
          "events per worker CPU-s")
    print(f"  worker, to the window agent's last fold: "
          f"{count / sum(_grown(start, done).values()):,.0f} events per worker CPU-s; "
          f"peak RSS {rss_mb:,.0f} MB")
    print("  CPU, µs per event (to the last commit / to the last fold): " + ", ".join(
        f"{part} {_grown(start, ingest).get(part, 0.0) / count * 1e6:.1f} / "
        f"{used / count * 1e6:.1f}" for part, used in _grown(start, done).items()))
    print("  records written per raw event: " + ", ".join(
        f"{name} {records / count:.3f}" for name, records in written.items()))


def _read(worker: _Worker) -> float:
    try:
        return worker.read()
    except OSError:  # its metrics port is not open yet
        return 0.0


if __name__ == "__main__":
    main()
