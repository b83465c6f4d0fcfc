"""``streamtune second-opinion``: the teacher answers again where the inline student was unsure.

It reads the ``scored`` topic as consumer group ``<prefix>streamtune-second-opinion``.
For each intent answer that served an event with a confidence below its version's level
(:class:`~streamtune.models.training.second_opinion.SecondOpinion`, about the least
confident 15 % of validation inputs), the version's teacher reads the same redacted text,
and a ``second_opinions`` row keeps both answers. Per batch: consume, ask, land,
commit, so a crash replays at most the batch in progress and rows fold by
(model, version, event). Rows are inserted with a ClickHouse server, else appended to
the store outbox (see ``sinks/stage_sink.py``).

The teacher costs milliseconds per text on CPU, off the hot path: the workers never wait
for it. Commands repeat: the embeddings of the latest ``KEEP_TEXTS`` distinct texts are
kept, so a repeated command is encoded once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict

from confluent_kafka import KafkaException, Message, TopicPartition
from pydantic import ValidationError

from streamtune.config import Settings, client_config
from streamtune.consumers import GroupConsumer
from streamtune.errors import RegistryError
from streamtune.models.encoder import SentenceEncoder
from streamtune.models.registry import Registry
from streamtune.models.training.second_opinion import SecondOpinion
from streamtune.schemas.predictions import PredictionRecord
from streamtune.schemas.topics import loop_topic
from streamtune.sinks.batching import BatchingSink, grace_after
from streamtune.sinks.clickhouse import TableRow
from streamtune.sinks.stage_sink import run_stage_process
from streamtune.streams.kafka.admin import create_topics
from streamtune.streams.second_opinion.metrics import SecondOpinionMetrics

log = logging.getLogger(__name__)

MODEL = "intent_classifier"
KEEP_TEXTS = 100_000
"""Embeddings the stage keeps in memory (~150 MB), the latest texts' (commands repeat)."""
SHUTDOWN_GRACE_S = 10.0
PROGRESS_EVERY_S = 5.0


def second_opinion_group(settings: Settings) -> str:
    """The stage's consumer group."""
    return f"{settings.topics.prefix}streamtune-second-opinion"


class SecondOpinionStage:
    """Consume scored answers in batches, ask the teacher where unsure, land, commit."""

    def __init__(self, settings: Settings, *, sink: BatchingSink[TableRow],
                 metrics: SecondOpinionMetrics | None = None) -> None:
        self.settings = settings
        self.sink = sink
        self.metrics = metrics or SecondOpinionMetrics()
        self.registry = Registry(settings)
        self.encoder = SentenceEncoder(threads=settings.training.threads, keep=KEEP_TEXTS)
        self.opinions: dict[str, SecondOpinion | None] = {}
        self.stop_requested = threading.Event()
        self.read = self.asked = 0
        self.group = GroupConsumer({
            **client_config(settings), "group.id": second_opinion_group(settings),
            "enable.auto.commit": False, "auto.offset.reset": "earliest",
            "group.instance.id": f"{settings.worker_id}-second-opinion",
            "session.timeout.ms": 10_000, "max.poll.interval.ms": 600_000,
        }, [loop_topic("scored", settings.topics.prefix)], dev_broker=settings.kafka.embedded)

    def step(self) -> int:
        """Answer, land and commit one batch; return the number of records it held."""
        pipeline = self.settings.pipeline
        messages = self.group.consume(pipeline.batch_max_events,
                                      pipeline.batch_max_wait_ms / 1000)
        records = [m for m in messages if m.error() is None]
        if not records:
            return 0
        rows = self.rows([asked for m in records if (asked := self._unsure(m)) is not None])
        if rows:
            self.sink.add(rows)
            self.sink.flush(keep_trying=grace_after(self.stop_requested, SHUTDOWN_GRACE_S))
        self._commit(records)
        self.read += len(records)
        self.asked += len(rows)
        self.metrics.read.inc(len(records))
        self.metrics.asked.inc(len(rows))
        self.metrics.disagreed.inc(sum(not row["agrees"] for _, row in rows))
        self.metrics.last_batch.set(time.time())
        return len(records)

    def rows(self, unsure: list[tuple[PredictionRecord, SecondOpinion]]) -> list[TableRow]:
        """The ``second_opinions`` rows of answers below their version's level."""
        by_version: dict[str, list[PredictionRecord]] = defaultdict(list)
        opinions: dict[str, SecondOpinion] = {}
        for record, opinion in unsure:
            by_version[record.version].append(record)
            opinions[record.version] = opinion
        rows: list[TableRow] = []
        for version, records in by_version.items():
            with self.metrics.teacher_seconds.time():
                answers = opinions[version].answer([r.input for r in records])
            rows += [("second_opinions", {
                "event_id": r.event_id, "event_time": r.event_time, "session_id": r.session_id,
                "model": r.model, "version": version, "student_label": r.label,
                "student_confidence": r.confidence, "label": a.label,
                "confidence": a.confidence, "out_of_scope": a.out_of_scope,
                "agrees": a.label == r.label, "truth": r.truth or r.command_type})
                for r, a in zip(records, answers, strict=True)]
        return rows

    def _unsure(self, message: Message) -> tuple[PredictionRecord, SecondOpinion] | None:
        """The record and its version's second opinion, when it is a served intent answer
        below the level the teacher is asked at."""
        try:
            record = PredictionRecord.model_validate_json(message.value() or b"")
        except ValidationError as exc:
            log.warning("%s/%d@%d is not a prediction record, left out: %s", message.topic(),
                        message.partition(), message.offset(), exc.errors()[0]["msg"])
            return None
        if record.model != MODEL or not record.served or not record.input:
            return None
        opinion = self._opinion(record.version)
        if opinion is None or not opinion.unsure([record.confidence])[0]:
            return None
        return record, opinion

    def _opinion(self, version: str) -> SecondOpinion | None:
        if version not in self.opinions:
            try:
                path = self.registry.get(MODEL, version).path
            except RegistryError as exc:
                log.warning("%s %s is not in the registry (%s): no second opinion",
                            MODEL, version, exc)
                self.opinions[version] = None
            else:
                self.opinions[version] = SecondOpinion.load(path, encoder=self.encoder)
        return self.opinions[version]

    def _commit(self, records: list[Message]) -> None:
        ends: dict[tuple[str, int], int] = {}
        for m in records:
            part = (m.topic() or "", m.partition() or 0)
            ends[part] = max(ends.get(part, 0), (m.offset() or 0) + 1)
        try:
            self.group.consumer.commit(
                offsets=[TopicPartition(t, p, o) for (t, p), o in ends.items()],
                asynchronous=False)
        except KafkaException as exc:  # e.g. revoked meanwhile: its new owner redoes it
            log.warning("offset commit failed, the batch will be replayed: %s", exc)

    def run(self) -> None:
        """Loop until :meth:`stop`; the batch in progress is finished first. Raises
        :class:`SinkUnavailable` when rows could not be landed before a stop."""
        said = (time.monotonic(), 0, 0)
        try:
            while not self.stop_requested.is_set():
                try:
                    self.step()
                except KafkaException as exc:  # librdkafka reconnects by itself
                    log.warning("Kafka: %s; retrying", exc)
                    self.stop_requested.wait(1.0)
                now = time.monotonic()
                if now - said[0] >= PROGRESS_EVERY_S and self.read > said[1]:
                    log.info("second opinion: %d answers read, %d below their level asked "
                             "again (%d in all)", self.read - said[1], self.asked - said[2],
                             self.asked)
                    said = (now, self.read, self.asked)
        finally:
            self.group.close()

    def stop(self) -> None:
        self.stop_requested.set()


def run_stage(settings: Settings) -> int:
    """Run the second-opinion stage until SIGTERM/SIGINT; return its exit code."""
    create_topics(settings)
    metrics = SecondOpinionMetrics()
    return run_stage_process(
        settings, metrics, lambda sink: SecondOpinionStage(settings, sink=sink, metrics=metrics),
        SecondOpinionStage.run,
        what=f"second-opinion stage {settings.worker_id}: reading "
             f"{loop_topic('scored', settings.topics.prefix)} as group "
             f"{second_opinion_group(settings)}")
