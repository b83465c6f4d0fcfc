"""Recent clean events, read straight from the ``clean.*`` topics, as dataset rows.

The trainer builds its snapshots from here rather than from ClickHouse: in
embedded mode the worker owns the chdb store, and the clean topics hold the
same validated, redacted, annotated events. Their augmented rows come from the
worker's own :class:`~streamtune.models.augmentation.Augmenter` run again on
them: which events it picks, the rows and their ids are pure functions of the
seed and the event id, so these are the rows the worker stored, and only those
that passed the three QC gates (lineage: ``synthetic``, ``technique``,
``parent_event_id``). The training stages weight them (the seed's staged
fine-tuning: synthetic rows join in the broad stage only). The lineage names
the topic offsets read and the augmentation, so a snapshot says exactly which
events it holds.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pyarrow as pa
from confluent_kafka import Consumer, TopicPartition

from streamtune.config import Settings, client_config
from streamtune.models.augmentation import Augmenter
from streamtune.models.datasets.columns import JSON_COLUMNS, SOURCE_SCHEMAS, DatasetName
from streamtune.models.datasets.extract import NOT_IN_AUGMENTED
from streamtune.schemas.decode import decode_event
from streamtune.schemas.events import CommandEvent, ErrorEvent, Event
from streamtune.schemas.topics import clean_topic
from streamtune.sinks.rows import json_text

KIND_OF: dict[DatasetName, str] = {"commands": "command", "errors": "error"}


def read_recent(settings: Settings, name: DatasetName, *, limit: int,
                timeout_s: float = 30.0) -> tuple[pa.Table, dict[str, Any]]:
    """The last ``limit`` events of dataset ``name``'s clean topic, and their lineage."""
    topic = clean_topic(KIND_OF[name], settings.topics.prefix)
    values, offsets = read_tail(settings, topic, limit=limit, timeout_s=timeout_s)
    events = [event for event in map(_event, values) if event is not None]
    synthetic = augmented_rows(settings, name, events)
    lineage = {"source": f"kafka topic {topic}", "offsets": offsets,
               "augmented": {"rows": len(synthetic), "seed": settings.augmentation.seed,
                             "techniques": dict(Counter(r["technique"] for r in synthetic)),
                             "gates": "semantic, syntax, dry run (passed only)"},
               "description": f"The last {limit} clean {name} events of the stream, read "
                              "by the trainer for a retraining, and their augmented rows."}
    rows = [dataset_row(event) for event in events] + synthetic
    return pa.Table.from_pylist(rows, schema=SOURCE_SCHEMAS[name]), lineage


def augmented_rows(settings: Settings, name: DatasetName,
                   events: list[Event]) -> list[dict[str, Any]]:
    """The augmented rows of ``events`` that passed the QC gates, as dataset rows."""
    offered = [e for e in events if isinstance(e, CommandEvent | ErrorEvent)]
    result = Augmenter(settings.augmentation).augment(offered)
    rows = []
    for row in result.rows:
        if row.event.kind != KIND_OF[name]:
            continue
        data = dataset_row(row.event)
        data.update({"event_id": str(row.augmented_id), "synthetic": True,
                     "technique": row.technique, "parent_event_id": str(row.parent_event_id)})
        data.update(dict.fromkeys(NOT_IN_AUGMENTED[name]))
        rows.append(data)
    return rows


def watermarks(consumer: Consumer, topic: str, *,
               timeout_s: float) -> dict[int, tuple[int, int]]:
    """Per partition of ``topic``, its ``(low, high)`` offsets now (none before it exists)."""
    found = consumer.list_topics(topic, timeout=timeout_s).topics.get(topic)
    partitions = found.partitions if found is not None else {}  # none: the topic is unknown
    return {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout_s)
            for p in partitions}


def records_in(consumer: Consumer, topic: str, *, timeout_s: float = 5.0) -> int:
    """How many records ``topic`` holds now, over its partitions (0 before it exists)."""
    return sum(high - low for low, high in watermarks(consumer, topic,
                                                      timeout_s=timeout_s).values())


def read_tail(settings: Settings, topic: str, *, limit: int,
              timeout_s: float = 30.0) -> tuple[list[bytes], dict[str, list[int]]]:
    """About the last ``limit`` records of ``topic`` (spread over its partitions), outside
    any consumer group, and the ``[start, end)`` offsets read per partition."""
    consumer = Consumer({**client_config(settings), "group.id": f"{settings.worker_id}-tail",
                         "enable.auto.commit": False})
    try:
        offsets = watermarks(consumer, topic, timeout_s=timeout_s)
        share = limit // max(len(offsets), 1)
        ranges = {p: (max(low, high - share), high) for p, (low, high) in offsets.items()
                  if high > low}
        consumer.assign([TopicPartition(topic, p, start) for p, (start, _) in ranges.items()])
        values = _drain(consumer, ranges, timeout_s)
    finally:
        consumer.close()
    return values, {str(p): list(r) for p, r in sorted(ranges.items())}


def _drain(consumer: Consumer, ranges: dict[int, tuple[int, int]],
           timeout_s: float) -> list[bytes]:
    values: list[bytes] = []
    done: set[int] = set()
    idle = 0.0
    while len(done) < len(ranges) and idle < timeout_s:
        messages = consumer.consume(1000, 1.0)
        idle = idle + 1.0 if not messages else 0.0
        for m in messages:
            if m.error() is not None:
                continue
            partition, offset = m.partition() or 0, m.offset() or 0
            end = ranges[partition][1]
            if offset < end and m.value():
                values.append(m.value() or b"")
            if offset >= end - 1:
                done.add(partition)
    return values


def _event(raw: bytes) -> Event | None:
    try:
        return decode_event(raw)
    except Exception:  # the clean topics hold validated events; skip anything else
        return None


def dataset_row(event: Event) -> dict[str, Any]:
    """A clean command or error event as a row of its dataset's source columns."""
    data = event.model_dump(mode="json")
    row = {k: (json_text(v) if k in JSON_COLUMNS and not isinstance(v, str | None) else v)
           for k, v in data.items()}
    row["event_id"] = str(event.event_id)
    row["event_time"] = event.event_time
    row.setdefault("synthetic", False)
    return row
