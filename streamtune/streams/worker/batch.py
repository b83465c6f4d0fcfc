"""One batch of raw records through validate, clean, de-duplicate, annotate, augment, window.

Pure processing, no I/O: :class:`BatchProcessor` turns raw Kafka records into
everything the ingest loop then writes (rows, dead letters, augmented rows,
quality-gate counts) and publishes (clean events, window deltas).
"""

from __future__ import annotations

import logging
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID, uuid5

from streamtune.config import Settings
from streamtune.errors import InvalidEvent
from streamtune.models.augmentation import AugmentationResult, Augmenter
from streamtune.schemas.dead_letter import DeadLetter
from streamtune.schemas.decode import decode_event
from streamtune.schemas.events import CommandEvent, ErrorEvent, Event, set_fields
from streamtune.schemas.topics import SOURCES
from streamtune.sinks.rows import EventColumns, Row, json_text, table_for
from streamtune.streams.worker.windows import (
    Aggregate,
    WindowDelta,
    WindowKey,
    bucket_of,
    window_start_ms,
)
from streamtune.transforms.annotation import annotation_update
from streamtune.transforms.cleaning import FREE_TEXT_FIELDS, cleaning_update, screen_events
from streamtune.transforms.dedup import RecentIds, Seen
from streamtune.transforms.redaction import Redactor

log = logging.getLogger(__name__)
_SOURCE_OF_TOPIC_SUFFIX = {f"raw.{source}": source for source in SOURCES.values()}

_JSON_FIELDS = {kind: tuple(name for name, bound in FREE_TEXT_FIELDS.get(kind, ())
                             if not bound) for kind in SOURCES}
"""Per kind, the free-form object fields (stored as JSON text in ``String`` columns)."""
_TABLES = {kind: table_for(kind) for kind in SOURCES}

RECORD_NAMESPACE = UUID("5d0c3a52-9a4e-4f7b-8f1e-2b6c7d8e9f10")
"""Namespace of the ids given to events a producer sent without ``event_id``."""


@dataclass(frozen=True, slots=True)
class RawRecord:
    """A record as read from a raw topic."""

    topic: str
    partition: int
    offset: int
    value: bytes

    @property
    def position(self) -> tuple[str, int, int]:
        return self.topic, self.partition, self.offset

    @property
    def identity(self) -> UUID:
        """A stable id from the record's position: replays of it get the same one."""
        return uuid5(RECORD_NAMESPACE, f"{self.topic}/{self.partition}/{self.offset}")


@dataclass
class BatchResult:
    """Everything a batch produced."""

    events: list[tuple[Event, tuple[str, int, int]]] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    augmentation: AugmentationResult | None = None
    deltas: list[WindowDelta] = field(default_factory=list)
    duplicates: int = 0
    redactions: Counter[str] = field(default_factory=Counter)
    records_by_topic: Counter[str] = field(default_factory=Counter)
    spans: dict[tuple[str, int], tuple[int, int]] = field(default_factory=dict)
    """First and last offset read per (topic, partition)."""
    max_event_ms: int = 0
    """Latest event time in the batch (epoch ms), 0 when it held no valid event."""
    batch_id: str = ""
    serialised: dict[int, tuple[Any, bytes]] = field(default_factory=dict)
    """The JSON of the decoded events' free-form objects by ``id`` (with the object):
    written once by the secret screen, reused for the rows of events that kept them."""

    def table_rows(self) -> list[tuple[str, Row]]:
        """Every row this batch writes, as ``(table, fields)`` or ``(table, columns)``."""
        return [*self.event_rows(), *self.augmentation_rows()]

    def event_rows(self) -> list[tuple[str, Row]]:
        """The clean events' rows, as columns per kind, and the dead letters' rows."""
        by_kind: dict[str, list[tuple[Event, tuple[str, int, int]]]] = defaultdict(list)
        for item in self.events:
            by_kind[item[0].kind].append(item)
        rows: list[tuple[str, Row]] = [
            (_TABLES[kind], self._columns(kind, items)) for kind, items in by_kind.items()]
        rows += [("dead_letters", dict(letter)) for letter in self.dead_letters]
        return rows

    def _columns(self, kind: str,
                 items: list[tuple[Event, tuple[str, int, int]]]) -> EventColumns:
        """Events of one kind as columns: free-form objects as the JSON text the secret
        screen wrote for them (when the event kept that very object)."""
        fields = [event.__dict__ for event, _ in items]
        topics, partitions, offsets = (list(column) for column in
                                       zip(*(position for _, position in items), strict=True))
        given: dict[str, list[Any]] = {"kafka_topic": topics, "kafka_partition": partitions,
                                       "kafka_offset": offsets}
        serialised = self.serialised
        for name in _JSON_FIELDS[kind]:
            column = given[name] = []
            for values in fields:
                value = values[name]
                found = serialised.get(id(value))
                column.append(json_text(value, found[1])
                              if found is not None and found[0] is value else value)
        return EventColumns(fields, given)

    def augmentation_rows(self) -> list[tuple[str, dict[str, Any]]]:
        """The augmented rows and their QC reports (none before augmentation ran)."""
        rows: list[tuple[str, dict[str, Any]]] = []
        if self.augmentation is not None:
            for row in self.augmentation.rows:
                fields = dict(row.event.__dict__)
                fields.update(augmented_id=row.augmented_id, parent_event_id=row.parent_event_id,
                              kind=row.event.kind, family=row.family, technique=row.technique,
                              synthetic=True,
                              semantic_confidence=row.semantic_confidence,
                              syntax_ok=row.syntax_ok, dry_run_ok=row.dry_run_ok)
                rows.append(("augmented", fields))
            rows += [("augmentation_qc", {**vars(qc), "batch_id": self.batch_id,
                                          "command_type": "", "not_augmentable": 0})
                     for qc in self.augmentation.qc if qc.generated]
            rows += [("augmentation_qc", {**skipped.qc_record(), "batch_id": self.batch_id})
                     for skipped in self.augmentation.not_augmentable]
        return rows


def source_of_topic(topic: str) -> str:
    """Data source a raw topic carries (``raw.commands`` -> ``commands``), prefix ignored."""
    for suffix, source in _SOURCE_OF_TOPIC_SUFFIX.items():
        if topic.endswith(suffix):
            return source
    return topic


def _window_of(event: Event, event_ms: int, window_s: int) -> tuple[str, str, int]:
    """The window an event counts in (its time given in epoch ms): its source, its command
    type ('' when none) and the window's start."""
    kind = event.kind
    command_type = ""
    if kind == "command" or kind == "performance":
        command_type = event.command_type  # type: ignore[union-attr]
    elif kind == "error":
        failed = event.failed_command.get("command_type")  # type: ignore[union-attr]
        command_type = failed if isinstance(failed, str) else ""
    return SOURCES[kind], command_type, event_ms - event_ms % (window_s * 1000)


class BatchProcessor:
    """The pipeline's per-batch logic, configured once per worker."""

    def __init__(self, settings: Settings, *, augmenter: Augmenter | None = None) -> None:
        self.settings = settings
        self.window_s = settings.pipeline.window_seconds
        self.redactor = Redactor(settings.pipeline.redaction_patterns)
        self.augmenter = augmenter or Augmenter(settings.augmentation)
        self.recent = RecentIds(horizon_s=settings.pipeline.dedup_horizon_s,
                                max_ids=settings.pipeline.dedup_max_ids)

    def process(self, records: list[RawRecord], *, now: float | None = None,
                augment: bool = True) -> BatchResult:
        """Run one batch; never raises for bad input (it becomes dead letters).

        The worker passes ``augment=False``: augmentation is a stage of its own
        (``streams/augment/``); in-process augmentation serves test fills and benchmarks.
        """
        now = time.monotonic() if now is None else now
        result = BatchResult()
        if records:
            first = records[0]
            result.batch_id = f"{first.topic}/{first.partition}/{first.offset}"
        # per (source, command type, window start, topic, partition)
        partials: dict[tuple[str, str, int, str, int], Aggregate] = defaultdict(Aggregate)
        spans = result.spans
        decoded = [self._decode(record) for record in records]
        cleared = screen_events([e for e in decoded if not isinstance(e, _Refused)],
                                self.redactor,  # held by `decoded` while in use
                                serialised=result.serialised)
        cleaned = [self._clean(outcome, cleared) for outcome in decoded]
        del decoded, cleared  # cleaned in place: `cleaned` holds the events now
        ids, digests = [], []
        for record, outcome in zip(records, cleaned, strict=True):
            if not isinstance(outcome, _Refused):
                ids.append(outcome[0].event_id.bytes)
                digests.append(hash(record.value))
        seen = iter(self.recent.see(ids, digests, now=now))
        window_s, max_ms = self.window_s, 0
        for record, outcome in zip(records, cleaned, strict=True):
            topic, partition, offset = record.topic, record.partition, record.offset
            span = spans.get((topic, partition))
            if span is None:
                spans[(topic, partition)] = (offset, offset)
            elif not span[0] <= offset <= span[1]:
                spans[(topic, partition)] = (min(span[0], offset), max(span[1], offset))
            event = self._one(record, outcome, seen, result)
            if event is None:
                continue
            event_ms = int(event.event_time.timestamp() * 1000)
            max_ms = max(max_ms, event_ms)
            _count(partials[(*_window_of(event, event_ms, window_s), topic, partition)], event)
        result.max_event_ms = max_ms
        result.records_by_topic.update(record.topic for record in records)
        for letter in result.dead_letters:
            partials[(source_of_topic(letter.topic), "",
                      window_start_ms(letter.failed_at, window_s), letter.topic,
                      letter.partition)].dlq += 1
        result.deltas = [
            WindowDelta(WindowKey(source, command_type, start), f"{topic}/{partition}",
                        *spans[(topic, partition)], aggregate)
            for (source, command_type, start, topic, partition), aggregate in partials.items()
        ]
        if augment:
            augmentable = [e for e, _ in result.events
                           if isinstance(e, CommandEvent | ErrorEvent)]
            result.augmentation = self.augmenter.augment(augmentable)
        return result

    def forget(self, result: BatchResult) -> None:
        """Let de-duplication forget the events ``result`` accepted: the batch was not
        committed, and its replay, here or elsewhere, must count them again (its window
        deltas replace this batch's)."""
        self.recent.forget([event.event_id.bytes for event, _ in result.events])

    @staticmethod
    def _decode(record: RawRecord) -> Event | _Refused:
        """The record's event (with an id from its position if it came without), or why not."""
        try:
            event = decode_event(record.value)
            if "event_id" not in event.model_fields_set:  # else a replay would store it twice
                event = event.model_copy(update={"event_id": record.identity})
        except InvalidEvent as exc:
            return _Refused(exc.reason, exc.category)
        except Exception as exc:  # a bug in one step must cost one record, not the worker
            return _failed(exc)
        return event

    def _clean(self, outcome: Event | _Refused,
               cleared: set[int]) -> tuple[Event, Counter[str]] | _Refused:
        """The decoded event redacted and cleaned in place (the batch alone holds it), with
        its redaction counts, or why not."""
        if isinstance(outcome, _Refused):
            return outcome
        try:
            update, counts = cleaning_update(outcome, redactor=self.redactor, cleared=cleared)
        except Exception as exc:  # as in _decode
            return _failed(exc)
        return (set_fields(outcome, update) if update else outcome), counts

    def _one(self, record: RawRecord, outcome: tuple[Event, Counter[str]] | _Refused,
             seen: Iterator[Seen], result: BatchResult) -> Event | None:
        """The record's clean event, annotated (None: a dead letter or a replay);
        ``seen`` gives what de-duplication made of each record that got this far."""
        if isinstance(outcome, _Refused):
            result.dead_letters.append(self._dead(record, outcome.reason, outcome.category))
            return None
        judged = next(seen)
        if judged is Seen.REPLAY:
            result.duplicates += 1
            return None
        if judged is Seen.CONFLICT:
            result.dead_letters.append(self._dead(
                record, "event_id: reused with different content (an event with this id "
                        "was accepted before; give each event its own id)", "conflict"))
            return None
        event, redactions = outcome
        if redactions:
            result.redactions.update(redactions)
        annotations = annotation_update(event)
        if annotations:
            set_fields(event, annotations)  # as cleaning: the batch alone holds the event
        result.events.append((event, record.position))
        return event

    def _dead(self, record: RawRecord, reason: str, category: str) -> DeadLetter:
        """The record's dead letter, its bytes and reason redacted as a reader sees them;
        a minimal one (position and reason) if that cannot be built."""
        try:
            shown, _ = self.redactor.redact_as_read(reason)
            return DeadLetter.wrap(
                record.value, reason=shown, category=category,  # type: ignore[arg-type]
                topic=record.topic, partition=record.partition, offset=record.offset,
                redact=lambda raw: self.redactor.redact_record(raw)[0])
        except Exception as exc:  # its message may quote the record: only the type is logged
            log.error("dead letter for %s/%d@%d could not be built (%s)",
                      record.topic, record.partition, record.offset, type(exc).__name__)
            return DeadLetter.minimal(
                reason=f"{category}: the dead letter could not be built "
                       f"({type(exc).__name__}); the record is at its topic position",
                topic=record.topic, partition=record.partition, offset=record.offset)


@dataclass(frozen=True, slots=True)
class _Refused:
    """Why a record became a dead letter before dedup: its reason and category."""

    reason: str
    category: str


def _failed(exc: Exception) -> _Refused:
    return _Refused(f"processing failed: {type(exc).__name__}: {exc}", "processing")


def _count(aggregate: Aggregate, event: Any) -> None:
    aggregate.events += 1
    kind = event.kind
    if kind == "command":
        aggregate.successes += event.success
        aggregate.exec_hist[bucket_of(event.execution_time)] += 1
    elif kind == "error":
        aggregate.errors_by_type[event.error_type] += 1
