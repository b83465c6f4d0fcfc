"""A batch's window deltas and spans hold what each record adds, counted the plain way.

``BatchProcessor.process`` counts events into windows in one pass over the records;
the reference here counts the batch's own results again, one event or dead letter
at a time: per (source, command type, window start, raw partition) the events,
successes, execution-time buckets, error types and dead letters, with the first and
last offset read of that partition. Records come from several partitions, their
offsets out of order, with replays, reused ids and hostile payloads among them.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from streamtune.schemas.events import CommandEvent, ErrorEvent
from streamtune.schemas.topics import SOURCES
from streamtune.simulator import Simulator, hostile_payloads
from streamtune.streams.worker.batch import BatchProcessor, RawRecord
from streamtune.streams.worker.windows import bucket_of
from tests.support.settings import make_settings

START = datetime(2026, 1, 1, tzinfo=UTC)
WINDOW_S = 60


def _records() -> list[RawRecord]:
    rng = random.Random(4)
    raws = [e.model_dump_json().encode() for e in Simulator(4, start=START).events(1200)]
    raws += [raw for raw, _ in hostile_payloads(4, 150, start=START)]
    raws += rng.sample(raws[:1200], 40)  # replays of events: dropped as duplicates
    rng.shuffle(raws)
    topics = ["raw.commands", "raw.errors", "raw.metrics"]
    offsets = {(t, p): rng.sample(range(10_000), 1000) for t in topics for p in range(3)}
    records = []
    for raw in raws:
        topic, partition = rng.choice(topics), rng.randrange(3)
        records.append(RawRecord(topic, partition, offsets[(topic, partition)].pop(), raw))
    return records


def _start(when: datetime) -> int:
    ms = int(when.timestamp() * 1000)
    return ms - ms % (WINDOW_S * 1000)


def _reference(result: Any, records: list[RawRecord]) -> dict[tuple[Any, ...], Any]:
    counts: dict[tuple[Any, ...], dict[str, Any]] = defaultdict(
        lambda: {"events": 0, "successes": 0, "errors": Counter(), "hist": Counter(), "dlq": 0})
    for event, (topic, partition, _) in result.events:
        command_type = ""
        if isinstance(event, CommandEvent) or event.kind == "performance":
            command_type = event.command_type
        elif isinstance(event, ErrorEvent):
            failed = event.failed_command.get("command_type")
            command_type = failed if isinstance(failed, str) else ""
        count = counts[(SOURCES[event.kind], command_type, _start(event.event_time),
                        f"{topic}/{partition}")]
        count["events"] += 1
        if isinstance(event, CommandEvent):
            count["successes"] += event.success
            count["hist"][bucket_of(event.execution_time)] += 1
        elif isinstance(event, ErrorEvent):
            count["errors"][event.error_type] += 1
    for letter in result.dead_letters:
        source = letter.topic.removeprefix("raw.")
        counts[(source, "", _start(letter.failed_at),
                f"{letter.topic}/{letter.partition}")]["dlq"] += 1
    offsets: dict[str, list[int]] = defaultdict(list)
    for record in records:
        offsets[f"{record.topic}/{record.partition}"].append(record.offset)
    return {key: (min(offsets[key[3]]), max(offsets[key[3]]), value)
            for key, value in counts.items()}


def test_deltas_count_every_event_and_dead_letter_of_its_window_and_partition(
        tmp_path: Path) -> None:
    records = _records()
    processor = BatchProcessor(make_settings(tmp_path, pipeline={"window_seconds": WINDOW_S}))
    processor.process(records[:100], now=0.0, augment=False)  # ids seen before: replays
    result = processor.process(records, now=1.0, augment=False)
    assert result.duplicates and result.dead_letters and len(result.events) > 900

    got = {(d.key.source, d.key.command_type, d.key.start_ms, d.partition):
           (d.start_offset, d.end_offset,
            {"events": d.aggregate.events, "successes": d.aggregate.successes,
             "errors": d.aggregate.errors_by_type, "hist": d.aggregate.exec_hist,
             "dlq": d.aggregate.dlq})
           for d in result.deltas}
    assert len(got) == len(result.deltas)  # one delta per window and partition
    assert got == _reference(result, records)
    assert result.spans == {(r.topic, r.partition): (min(o), max(o)) for r in records
                            if (o := [x.offset for x in records
                                      if (x.topic, x.partition) == (r.topic, r.partition)])}
    assert result.records_by_topic == Counter(r.topic for r in records)
    assert result.max_event_ms == max(int(e.event_time.timestamp() * 1000)
                                      for e, _ in result.events)
