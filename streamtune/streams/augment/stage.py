"""``streamtune augment``: augmentation as a stage of its own, along Kafka lines.

It reads the clean command and error topics the workers publish, as consumer
group ``<prefix>streamtune-augment`` (N stages split the partitions; none at
all turns augmentation off, and the workers land every event row alone). Per
batch it

1. decodes the records and, per topic partition, lets the budget choose the
   parents (``budget.py``) and the :class:`Augmenter` derive and gate their
   rows, in this process;
2. lands the rows: with a ClickHouse server it inserts them itself; with
   embedded chdb, whose path only the worker may open, it appends them to the
   store outbox in one write and one fsync, and the worker imports them within
   ``pipeline.outbox_import_s`` (and once more when it stops). While that fails it retries
   with back-off, its partitions paused;
3. commits the batch's offsets, only after its rows are landed.

So a crash replays at most the batch in progress, and rows fold by identity:
an augmented row's id is ``uuid5(parent, technique)``, a QC row's is its batch
id ``<clean topic>/<partition>/<first offset>`` with technique and command type.
For a replay to count exactly the records the lost landing counted, each
partition's range is declared before it is landed: the committed offset is
committed again with the range's last offset as metadata. A stage that finds
such a declaration (on assignment) redoes exactly that range first, holding
records until it is complete and keeping later ones for the next batch.

What a replay cannot repeat is the history the stage had in memory: with
``rare_below`` the budget's choice, and with ``parameter_substitution`` and
the text techniques their rows, depend on what was seen before. Their rows
still fold by id; the replayed batch's QC rows are the replay's.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections import Counter, defaultdict
from typing import Annotated

from confluent_kafka import Consumer, KafkaException, Message, TopicPartition
from pydantic import Field, TypeAdapter, ValidationError

from streamtune.config import AugmentationSettings, Settings, client_config
from streamtune.consumers import GroupConsumer, stage_read_ahead
from streamtune.models.augmentation import AugmentationResult, Augmenter
from streamtune.schemas.events import CommandEvent, ErrorEvent
from streamtune.schemas.topics import clean_topic
from streamtune.sinks.batching import BatchingSink
from streamtune.sinks.clickhouse import TableRow
from streamtune.sinks.stage_sink import run_stage_process
from streamtune.streams.augment.budget import Budget, Parent, Plan
from streamtune.streams.augment.metrics import AugmentMetrics
from streamtune.streams.augment.rows import augmentation_rows, skipped_rows
from streamtune.streams.kafka.admin import create_topics
from streamtune.streams.stage_loop import BatchStage
from streamtune.streams.stage_progress import StageProgress, counter_total

log = logging.getLogger(__name__)

AUGMENTED_KINDS = ("command", "error")
"""Kinds of clean events the stage reads (their topics)."""
HOLD_S = 30.0
"""A declared range not complete this long after its assignment is done with what came
(its records are gone, e.g. past retention)."""

_PARENTS: TypeAdapter[list[Parent]] = TypeAdapter(
    list[Annotated[CommandEvent | ErrorEvent, Field(discriminator="kind")]])
_PARENT: TypeAdapter[Parent] = TypeAdapter(
    Annotated[CommandEvent | ErrorEvent, Field(discriminator="kind")])


def augment_group(settings: Settings) -> str:
    """The stage's consumer group."""
    return f"{settings.topics.prefix}streamtune-augment"


def augment_topics(settings: Settings) -> list[str]:
    """The clean topics the stage reads."""
    return [clean_topic(kind, settings.topics.prefix) for kind in AUGMENTED_KINDS]


def decode(values: list[bytes]) -> tuple[list[Parent], list[tuple[int, str]]]:
    """Clean-topic records -> their events, and ``(index, why)`` of those that do not decode."""
    try:
        return _PARENTS.validate_json(b"[" + b",".join(values) + b"]"), []
    except ValidationError:
        events, bad = [], []
        for index, value in enumerate(values):
            try:
                events.append(_PARENT.validate_json(value))
            except ValidationError as exc:
                bad.append((index, exc.errors()[0]["msg"]))
        return events, bad


class Augmentation:
    """A partition's share of a batch -> its rows (no I/O): the budget chooses, the
    :class:`Augmenter` (which observes every command event) derives and gates."""

    def __init__(self, settings: AugmentationSettings) -> None:
        self.budget = Budget(settings)
        self.augmenter = Augmenter(settings.model_copy(update={"rate": 1.0}))

    def run(self, events: list[Parent], batch_id: str
            ) -> tuple[list[TableRow], Plan, AugmentationResult]:
        """The rows (augmented, QC, skipped), the budget's plan and the augmentation."""
        plan = self.budget.plan(events)
        for event in events:
            if isinstance(event, CommandEvent):
                self.augmenter.observe(event)
        result = self.augmenter.augment(plan.chosen, observe=False)
        return (augmentation_rows(result, batch_id) + skipped_rows(plan.skipped, batch_id),
                plan, result)


class AugmentStage(BatchStage):
    """Consume clean topics in batches, augment, land, commit; see the module docstring."""

    def __init__(self, settings: Settings, *, sink: BatchingSink[TableRow],
                 metrics: AugmentMetrics) -> None:
        super().__init__(sink, metrics)
        self.settings = settings
        self.metrics = metrics
        self.augmentation = Augmentation(settings.augmentation)
        self._assigned_at = time.monotonic()
        self._declared: dict[tuple[str, int], int] = {}
        """Partition -> last offset of the range a lost landing declared, to redo first."""
        self._held: dict[tuple[str, int], list[Message]] = {}
        """Records read but kept for a later batch, per partition."""
        self.group = GroupConsumer({
            **client_config(settings), "group.id": augment_group(settings),
            "enable.auto.commit": False, "auto.offset.reset": "earliest",
            # static membership: a restarted stage takes its partitions back at once
            "group.instance.id": f"{settings.worker_id}-augment",
            "session.timeout.ms": 10_000, "heartbeat.interval.ms": 1000,
            "max.poll.interval.ms": 300_000, **stage_read_ahead(settings),
        }, augment_topics(settings), dev_broker=settings.kafka.embedded,
            on_assign=self._on_assign, on_revoke=self._on_revoke)

    # -- one batch -------------------------------------------------------------------

    def step(self) -> int:
        """Augment, land and commit one batch; return the number of records it held."""
        batch = self.settings.pipeline
        messages = self.group.consume(batch.batch_max_events, batch.batch_max_wait_ms / 1000)
        records = [m for m in messages if m.error() is None]
        if not records and not self._held:
            return 0
        started = time.perf_counter()
        chunks: dict[tuple[str, int], list[Message]] = defaultdict(list)
        for part, held in self._held.items():
            chunks[part] += held
        self._held = {}
        for message in records:
            chunks[(message.topic() or "", message.partition() or 0)].append(message)
        chunks = self._redo_declared(chunks)
        if not chunks:
            return 0
        try:
            self._declare(chunks)
        except KafkaException:
            for (topic, partition), chunk in chunks.items():  # read them again, later
                with contextlib.suppress(KafkaException):  # revoked: its new owner does
                    self.consumer.seek(TopicPartition(topic, partition, chunk[0].offset() or 0))
            raise
        rows: list[TableRow] = []
        for (topic, partition), chunk in chunks.items():
            self.metrics.events_in.labels(topic).inc(len(chunk))
            events, bad = decode([m.value() or b"" for m in chunk])
            for index, why in bad:
                self.metrics.undecodable.inc()
                log.warning("%s/%d@%d does not decode, left out: %s", topic, partition,
                            chunk[index].offset(), why)
            batch_rows, plan, result = self.augmentation.run(
                events, f"{topic}/{partition}/{chunk[0].offset()}")
            self._count(plan, result)
            rows += batch_rows
        self._land(rows)
        self._commit(chunks)
        self.metrics.batch_latency.observe(time.perf_counter() - started)
        self.metrics.last_batch.set(time.time())
        return sum(len(chunk) for chunk in chunks.values())

    def _redo_declared(self, chunks: dict[tuple[str, int], list[Message]]
                       ) -> dict[tuple[str, int], list[Message]]:
        """A partition with a declared range gets exactly that range (held until it is
        complete); the records after it are held for the next batch."""
        ready = {}
        for part, chunk in chunks.items():
            last = self._declared.get(part)
            if last is None:
                ready[part] = chunk
                continue
            if (chunk[-1].offset() or 0) < last \
                    and time.monotonic() - self._assigned_at < HOLD_S:
                self._held[part] = chunk
                continue
            del self._declared[part]
            ready[part] = [m for m in chunk if (m.offset() or 0) <= last]
            if later := [m for m in chunk if (m.offset() or 0) > last]:
                self._held[part] = later
        return {part: chunk for part, chunk in ready.items() if chunk}

    def _declare(self, chunks: dict[tuple[str, int], list[Message]]) -> None:
        """Commit each partition's first offset again, with the range's last as metadata."""
        self.consumer.commit(offsets=[
            TopicPartition(topic, partition, chunk[0].offset() or 0,
                           metadata=str(chunk[-1].offset()))
            for (topic, partition), chunk in chunks.items()], asynchronous=False)

    def _count(self, plan: Plan, result: AugmentationResult) -> None:
        m = self.metrics
        for tier, count in plan.tiers.items():
            m.chosen.labels(tier).inc(count)
        for (_, reason), count in plan.skipped.items():
            m.skipped.labels(reason.split(" (", 1)[0]).inc(count)
        for qc in result.qc:
            if not qc.generated:
                continue
            m.augmented.labels(qc.technique).inc(qc.accepted)
            for gate, passed in (("semantic", qc.semantic_passed), ("syntax", qc.syntax_passed),
                                 ("dry_run", qc.dry_run_passed)):
                m.qc_checked.labels(qc.technique, gate, "pass").inc(passed)
                m.qc_checked.labels(qc.technique, gate, "fail").inc(qc.generated - passed)
                m.qc_pass_rate.labels(qc.technique, gate).set(passed / qc.generated)

    def _land(self, rows: list[TableRow]) -> None:
        self.land(rows)
        for table, count in Counter(table for table, _ in rows).items():
            self.metrics.rows_out.labels(table).inc(count)

    def _commit(self, chunks: dict[tuple[str, int], list[Message]]) -> None:
        self.commit({part: (chunk[-1].offset() or 0) + 1 for part, chunk in chunks.items()})

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._assigned_at = time.monotonic()
        for tp in consumer.committed(partitions, timeout=30):
            if tp.metadata and tp.metadata.isdigit():
                self._declared[(tp.topic, tp.partition)] = int(tp.metadata)
                log.info("%s/%d: redoing offsets %d..%s first (declared, not committed)",
                         tp.topic, tp.partition, tp.offset, tp.metadata)

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        for tp in partitions:  # their new owner redoes what is not committed
            self._declared.pop((tp.topic, tp.partition), None)
            self._held.pop((tp.topic, tp.partition), None)
        self.forget_lag(partitions)


def run_stage(settings: Settings) -> int:
    """Run the augment stage until SIGTERM/SIGINT; return its exit code."""
    if not settings.augmentation.enabled:
        log.warning("augmentation is off (STREAMTUNE_AUGMENTATION__ENABLED=false): nothing to do")
        return 0
    create_topics(settings)
    metrics = AugmentMetrics()
    return run_stage_process(
        settings, metrics, lambda sink: AugmentStage(settings, sink=sink, metrics=metrics),
        lambda stage: stage.run(progress=StageProgress("augment", {
            "events": metrics.events_in,
            "rows": lambda: counter_total(metrics.rows_out, "augmented"),
            "skipped": metrics.skipped}, lag=stage.lag)),
        what=f"augment stage {settings.worker_id}: reading {', '.join(augment_topics(settings))}"
             f" as group {augment_group(settings)}")
