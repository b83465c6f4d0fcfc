"""The live stage's cost in a worker: batch processing with scoring and detection on vs off.

In one process, on the same simulated batches (run alternately, round by round):

- **off**: the pipeline's batch processing alone (validate, clean, annotate, augment);
- **on**: the same plus the live stage: the champion intent classifier, command
  predictor and error-recovery models scoring every command and error event, the
  drift detectors and the template miner watching the batch;
- **shadow**: as *on*, with a candidate intent model shadow-scored beside the champion
  (what a canary costs).

It prints events/s of each and their ratio, and the live stage's single-event
latency p50/p99 (one event per call, scoring and detection). The Kafka and
ClickHouse legs are measured by ``benchmarks/pipeline.py``; detectors' delays and
false alarms over 20 seeds by ``benchmarks/detectors.py``.

Run: ``.venv/bin/python benchmarks/loop.py [--events 6000] [--rounds 3]``
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from streamtune.models.control import Serving  # noqa: E402
from streamtune.models.registry import Registry  # noqa: E402
from streamtune.prometheus import PipelineMetrics  # noqa: E402
from streamtune.schemas.topics import SOURCES  # noqa: E402
from streamtune.streams.live.stage import LiveStage  # noqa: E402
from streamtune.streams.worker.batch import BatchProcessor, RawRecord  # noqa: E402
from tests.support.loop_models import QUICK_TRAINING, clean, simulated, train_champions  # noqa: E402
from tests.support.settings import make_settings  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=6000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="loop-bench-"))
    settings = make_settings(root, training=QUICK_TRAINING, augmentation={"enabled": True},
                             scoring={"models": ["intent_classifier", "command_predictor",
                                                 "error_recovery"]})
    print("training champions on simulated traffic ...", flush=True)
    versions = train_champions(settings, clean(settings, simulated(1, 6000)))
    candidate = train_champions(settings, clean(settings, simulated(2, 3000)),
                                ["intent_classifier"])["intent_classifier"]
    events = simulated(3, args.events)
    records = [RawRecord(f"raw.{SOURCES[e.kind]}", 0, i, e.model_dump_json().encode())
               for i, e in enumerate(events)]
    batches = [records[i:i + args.batch] for i in range(0, len(records), args.batch)]

    def run(live: LiveStage | None) -> float:
        processor = BatchProcessor(settings)  # fresh: its de-duplication horizon starts empty
        started = time.perf_counter()
        for batch in batches:
            result = processor.process(batch)
            if live is not None:
                live.run([e for e, _ in result.events])
        return len(records) / (time.perf_counter() - started)

    def stage(shadow: bool) -> LiveStage:
        live = LiveStage(settings, metrics=PipelineMetrics())
        if shadow:
            live.serving.apply(Serving("intent_classifier",
                                       champion=versions["intent_classifier"],
                                       candidate=candidate, percent=0.0))
        return live

    Registry(settings).set_challenger("intent_classifier", candidate)
    rates: dict[str, list[float]] = {"off": [], "on": [], "shadow": []}
    for _ in range(args.rounds):
        rates["off"].append(run(None))
        rates["on"].append(run(stage(False)))
        rates["shadow"].append(run(stage(True)))
    off = statistics.median(rates["off"])
    print(f"\n{len(records)} events in batches of {args.batch}, median of {args.rounds} rounds")
    print("| path | events/s | vs off |\n| --- | ---: | ---: |")
    for name, values in rates.items():
        rate = statistics.median(values)
        print(f"| {name} | {rate:,.0f} | {rate / off:.2f} |")

    live = stage(False)
    processed = BatchProcessor(settings).process(records[:2000])
    singles = [e for e, _ in processed.events]
    latencies = []
    for event in singles:
        started = time.perf_counter()
        live.run([event])
        latencies.append(time.perf_counter() - started)
    latencies.sort()
    p50, p99 = latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.99)]
    print(f"\nlive stage, one event per call ({len(latencies)} events): "
          f"p50 {p50 * 1e6:,.0f} us, p99 {p99 * 1e6:,.0f} us")


if __name__ == "__main__":
    main()
