"""``streamtune second-opinion``: the teacher answers again where the inline student was unsure.

It reads the ``scored`` topic as consumer group ``<prefix>streamtune-second-opinion``.
For each intent answer that served an event with a confidence below its version's level
(:class:`~streamtune.models.training.second_opinion.SecondOpinion`, about the least
confident 15 % of validation inputs), the version's teacher reads the same redacted text,
and a ``second_opinions`` row keeps both answers (once: a record the worker re-emits
with the truth a later feedback gave is not asked again). Per batch: consume, ask, land,
commit, so a crash replays at most the batch in progress and rows fold by
(model, version, event). Rows are inserted with a ClickHouse server, else appended to
the store outbox (see ``sinks/stage_sink.py``).

The teacher costs milliseconds per text on CPU, off the hot path: the workers never wait
for it. Commands repeat: the embeddings of the latest ``KEEP_TEXTS`` distinct texts are
kept, so a repeated command is encoded once.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from typing import Any

from confluent_kafka import Message
from pydantic import ValidationError

from streamtune.config import Settings, client_config
from streamtune.consumers import GroupConsumer
from streamtune.errors import RegistryError
from streamtune.models.encoder import SentenceEncoder
from streamtune.models.registry import Registry
from streamtune.models.training.second_opinion import SecondOpinion
from streamtune.schemas.predictions import PredictionRecord
from streamtune.schemas.topics import loop_topic
from streamtune.sinks.batching import BatchingSink
from streamtune.sinks.clickhouse import TableRow
from streamtune.sinks.stage_sink import run_stage_process
from streamtune.streams.kafka.admin import create_topics
from streamtune.streams.second_opinion.metrics import SecondOpinionMetrics
from streamtune.streams.stage_loop import BatchStage
from streamtune.streams.stage_progress import StageProgress

log = logging.getLogger(__name__)

MODEL = "intent_classifier"
KEEP_TEXTS = 100_000
"""Embeddings the stage keeps in memory (~150 MB), the latest texts' (commands repeat)."""


def second_opinion_group(settings: Settings) -> str:
    """The stage's consumer group."""
    return f"{settings.topics.prefix}streamtune-second-opinion"


class SecondOpinionStage(BatchStage):
    """Consume scored answers in batches, ask the teacher where unsure, land, commit."""

    def __init__(self, settings: Settings, *, sink: BatchingSink[TableRow],
                 metrics: SecondOpinionMetrics | None = None) -> None:
        self.metrics = metrics or SecondOpinionMetrics()
        super().__init__(sink, self.metrics)
        self.settings = settings
        self.registry = Registry(settings)
        self.encoder = SentenceEncoder(threads=settings.training.threads, keep=KEEP_TEXTS)
        self.opinions: dict[str, SecondOpinion | None] = {}
        self.group = GroupConsumer({
            **client_config(settings), "group.id": second_opinion_group(settings),
            "enable.auto.commit": False, "auto.offset.reset": "earliest",
            "group.instance.id": f"{settings.worker_id}-second-opinion",
            "session.timeout.ms": 10_000, "max.poll.interval.ms": 600_000,
        }, [loop_topic("scored", settings.topics.prefix)], dev_broker=settings.kafka.embedded,
            on_revoke=lambda _, partitions: self.forget_lag(partitions))

    def step(self) -> int:
        """Answer, land and commit one batch; return the number of records it held."""
        pipeline = self.settings.pipeline
        messages = self.group.consume(pipeline.batch_max_events,
                                      pipeline.batch_max_wait_ms / 1000)
        records = [m for m in messages if m.error() is None]
        if not records:
            return 0
        started = time.perf_counter()
        rows = self.rows([asked for m in records if (asked := self._unsure(m)) is not None])
        if rows:
            self.land(rows)
        self.commit({(m.topic() or "", m.partition() or 0): (m.offset() or 0) + 1
                     for m in records})
        self.metrics.events_in.labels(loop_topic("scored", self.settings.topics.prefix)).inc(
            len(records))
        self.metrics.asked.inc(len(rows))
        self.metrics.disagreed.inc(sum(not row["agrees"] for _, row in rows))
        self.metrics.batch_latency.observe(time.perf_counter() - started)
        self.metrics.last_batch.set(time.time())
        return len(records)

    def rows(self, unsure: list[tuple[PredictionRecord, SecondOpinion]]
             ) -> list[tuple[str, dict[str, Any]]]:
        """The ``second_opinions`` rows of answers below their version's level."""
        by_version: dict[str, list[PredictionRecord]] = defaultdict(list)
        opinions: dict[str, SecondOpinion] = {}
        for record, opinion in unsure:
            by_version[record.version].append(record)
            opinions[record.version] = opinion
        rows: list[tuple[str, dict[str, Any]]] = []
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
            self.metrics.undecodable.inc()
            log.warning("%s/%d@%d is not a prediction record, left out: %s", message.topic(),
                        message.partition(), message.offset(), exc.errors()[0]["msg"])
            return None
        if record.model != MODEL or not record.served or not record.input \
                or record.reemitted or record.replaces != -1:  # sent again with a later
            return None  # truth: asked already (replaces: from workers before ``reemitted``)
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


def run_stage(settings: Settings) -> int:
    """Run the second-opinion stage until SIGTERM/SIGINT; return its exit code."""
    create_topics(settings)
    metrics = SecondOpinionMetrics()
    return run_stage_process(
        settings, metrics, lambda sink: SecondOpinionStage(settings, sink=sink, metrics=metrics),
        lambda stage: stage.run(progress=StageProgress(
            "second opinion", {"records": metrics.events_in, "asked again": metrics.asked},
            lag=stage.lag)),
        what=f"second-opinion stage {settings.worker_id}: reading "
             f"{loop_topic('scored', settings.topics.prefix)} as group "
             f"{second_opinion_group(settings)}")
