"""``streamtune detect``: drift detection and new-pattern mining as a stage of its own.

With ``detection.stage`` on, workers no longer watch; this stage does, as consumer
group ``<prefix>streamtune-detect``, so ingest and detection scale (and are measured)
apart. It reads

- the clean command, error and metric topics: each event's signals, in event-time
  order across partitions (the worker's :class:`Watch`, with the clean record's
  ``served_intent`` header as the served intent model's answer). Only the fields the
  detectors read are decoded (``live/watched.py``): 11 against 62 µs a record;
- the ``scored`` topic, for the served next-command predictions whose truth arrived.

Per batch it feeds the detectors, lands the alerts (a ClickHouse server it inserts
into, or the store outbox the worker imports) and publishes them to the alerts topic
(webhooks and the trainer read it there). Every ``detection.state_save_s`` (and at the
stop) it saves the detector state, under the stage's own name (``<worker_id>-detect``),
and then commits, per partition, the offset of the first event it still holds for
event-time order, or else of the next record to read: the offsets committed are those
of the state saved. A crash therefore loses nothing to detection: a restarted stage
loads the last state and reads again what came after it, held events included. Alert
ids are deterministic, so the alerts of what is fed again fold into the rows written.
(A crash between a save and its commit feeds a save's worth of signals twice.) A revoke
saves and commits the same way, and the revoked partitions' held events are dropped
unfed: their next owner reads them from the committed offsets and feeds them.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from datetime import datetime

import orjson
from confluent_kafka import (
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)
from pydantic import ValidationError

from streamtune.config import Settings, client_config
from streamtune.consumers import GroupConsumer, stage_read_ahead
from streamtune.schemas.alerts import Alert
from streamtune.schemas.topics import clean_topic, loop_topic
from streamtune.sinks.batching import BatchingSink
from streamtune.sinks.clickhouse import TableRow
from streamtune.sinks.rows import alert_row
from streamtune.sinks.stage_sink import run_stage_process
from streamtune.streams.detect.metrics import DetectMetrics
from streamtune.streams.kafka.admin import create_topics
from streamtune.streams.live.signals import (
    SERVED_INTENT_HEADER,
    Resolved,
    Served,
    ServedIntent,
    Watch,
)
from streamtune.streams.live.watched import WATCHED, Watched, WatchedCommand
from streamtune.streams.stage_loop import BatchStage
from streamtune.streams.stage_progress import StageProgress

log = logging.getLogger(__name__)

WATCHED_KINDS = ("command", "error", "metric")
"""Kinds of clean events the stage reads (their topics)."""

ALERTS_CONFIRM_S = 30.0
"""How long a batch waits for Kafka to confirm its alerts; past it the batch fails uncommitted
and its alerts are kept, sent again with the next batch before that batch's commit."""


def detect_group(settings: Settings) -> str:
    """The stage's consumer group."""
    return f"{settings.topics.prefix}streamtune-detect"


def detect_topics(settings: Settings) -> list[str]:
    """The topics the stage reads: the watched clean topics, then ``scored``."""
    prefix = settings.topics.prefix
    return [clean_topic(kind, prefix) for kind in WATCHED_KINDS] + [loop_topic("scored", prefix)]


def served_intent(message: Message) -> ServedIntent | None:
    """The served intent a clean command record carries (None: none, or not readable)."""
    value = dict(message.headers() or []).get(SERVED_INTENT_HEADER)
    if not isinstance(value, bytes):
        return None
    try:
        return ServedIntent.from_header(value)
    except ValueError:
        return None


def resolved(value: bytes) -> Resolved | None:
    """A scored record, when it is a served next-command prediction whose truth arrived."""
    if b'"command_predictor"' not in value:
        return None
    try:
        record = orjson.loads(value)
        record["event_time"] = datetime.fromisoformat(record["event_time"])
        return Resolved.of(record)
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None


class DetectStage(BatchStage):
    """Consume, watch, land and publish alerts, commit; see the module docstring."""

    def __init__(self, settings: Settings, *, sink: BatchingSink[TableRow],
                 metrics: DetectMetrics, confirm_s: float = ALERTS_CONFIRM_S) -> None:
        super().__init__(sink, metrics)
        self.settings = settings
        self.metrics = metrics
        self.watch = Watch(settings, source=f"{settings.worker_id}-detect", autosave=False)
        self._read: dict[tuple[str, int], int] = {}
        """Per partition, the offset of the next record to read."""
        self._held_at: dict[str, tuple[tuple[str, int], int]] = {}
        """Per watched event (its id as text): its partition and offset, while it may be held."""
        self._scored = loop_topic("scored", settings.topics.prefix)
        self._alerts_topic = loop_topic("alerts", settings.topics.prefix)
        self._outgoing: list[Alert] = []
        """Alerts raised but not yet confirmed by Kafka."""
        self._undelivered = 0
        self.confirm_s = confirm_s
        self.producer = Producer({
            **client_config(settings), "linger.ms": 5, "enable.idempotence": True,
            "acks": "all", "on_delivery": self._on_delivery, "delivery.report.only.error": True,
            # librdkafka gives up when the batch does: the kept alerts are the only copies
            "message.timeout.ms": int(confirm_s * 1000)})
        self.group = GroupConsumer({
            **client_config(settings), "group.id": detect_group(settings),
            "enable.auto.commit": False, "auto.offset.reset": "earliest",
            # static membership: a restarted stage takes its partitions back at once
            "group.instance.id": f"{settings.worker_id}-detect",
            "session.timeout.ms": 10_000, "heartbeat.interval.ms": 1000,
            "max.poll.interval.ms": 300_000, **stage_read_ahead(settings),
        }, detect_topics(settings), dev_broker=settings.kafka.embedded,
            on_assign=self._on_assign, on_revoke=self._on_revoke)

    def step(self) -> int:
        """Watch, land and commit one batch; return the number of records it held."""
        batch = self.settings.pipeline
        messages = self.group.consume(batch.batch_max_events, batch.batch_max_wait_ms / 1000)
        records = [m for m in messages if m.error() is None]
        if not records:
            self.publish(self.watch.release())
            self._checkpoint_if_due()
            self.metrics.held.set(len(self.watch.order))  # released now: not a batch's count
            return 0
        started = time.perf_counter()
        events: list[Watched] = []
        sources: list[tuple[str, int]] = []
        intents: dict[str, ServedIntent] = {}
        answers: list[Resolved] = []
        read: Counter[str] = Counter()
        for message in records:
            topic, partition = message.topic() or "", message.partition() or 0
            read[topic] += 1
            value = message.value() or b""
            if topic == self._scored:
                if (answer := resolved(value)) is not None:
                    answers.append(answer)
                continue
            try:
                event = WATCHED.validate_json(value)
            except ValidationError as exc:
                self.metrics.undecodable.inc()
                log.warning("%s/%d@%d does not decode, left out: %s", topic, partition,
                            message.offset(), exc.errors()[0]["msg"])
                continue
            if isinstance(event, WatchedCommand) and (intent := served_intent(message)):
                intents[event.event_id] = intent
            events.append(event)
            sources.append((topic, partition))
            self._held_at.setdefault(event.event_id, ((topic, partition), message.offset() or 0))
        for topic, count in read.items():
            self.metrics.events_in.labels(topic).inc(count)
        alerts = self.watch.observe(events, Served(intents, answers), sources)
        self.publish(alerts)
        self._read.update(((m.topic() or "", m.partition() or 0), (m.offset() or 0) + 1)
                          for m in records)
        self._checkpoint_if_due()
        self.metrics.held.set(len(self.watch.order))
        self.metrics.batch_latency.observe(time.perf_counter() - started)
        self.metrics.last_batch.set(time.time())
        return len(records)

    def publish(self, alerts: list[Alert]) -> None:
        """Land the alerts' rows, then hand them to the alerts topic and wait for Kafka.

        Alerts not confirmed are kept and sent again with the next batch's (their ids
        fold the repeat), before that batch's offsets are committed."""
        for alert in alerts:
            self.metrics.alerts.labels(alert.kind, alert.severity).inc()
            log.warning("alert %s [%s] %s", alert.kind, alert.severity, alert.title)
        self._outgoing += alerts
        if not self._outgoing:
            return
        self.land([("alerts", alert_row(alert)) for alert in self._outgoing])
        self._undelivered = 0
        for alert in self._outgoing:
            self.producer.produce(self._alerts_topic, alert.model_dump_json().encode(),
                                  key=str(alert.alert_id).encode())
        if self.producer.flush(self.confirm_s) or self._undelivered:
            raise KafkaException(f"Kafka did not confirm the alerts within {self.confirm_s:.0f} s")
        self._outgoing = []

    def _on_delivery(self, err: KafkaError | None, _: Message) -> None:
        if err is not None:
            self._undelivered += 1

    def _checkpoint_if_due(self) -> None:
        if self.watch.save_due():
            self._checkpoint()

    def _checkpoint(self) -> None:
        """Save the detector state, then commit the offsets it holds (see the module
        docstring)."""
        self.watch.save()
        ends = dict(self._read)
        held_at: dict[str, tuple[tuple[str, int], int]] = {}
        for _, _, key in self.watch.order.items():
            found = self._held_at.get(key)
            if found is not None and found[0] in ends:
                held_at[key] = found
                ends[found[0]] = min(ends[found[0]], found[1])
        self._held_at = held_at  # what was fed is let go
        if ends:
            self.commit(ends)

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self.watch.expect([(tp.topic, tp.partition) for tp in partitions
                           if tp.topic != self._scored])

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Save and commit as at a checkpoint, then let the revoked partitions' held events
        go unfed: their committed offsets are at the first of them, so the partitions' next
        owner reads and feeds them (fed here, a crash before the next save lost them)."""
        self.forget_lag(partitions)
        revoked = frozenset((tp.topic, tp.partition) for tp in partitions)
        # with alerts unconfirmed the last save stands: what came after is read again
        if not self._outgoing and revoked & self._read.keys():
            self._checkpoint()
        self.watch.forget(revoked)  # their entries in _held_at go at the next checkpoint
        for partition in revoked:
            self._read.pop(partition, None)
        self.metrics.held.set(len(self.watch.order))

    def finish(self) -> None:
        """Feed the events held for order, and publish their alerts."""
        try:
            self.publish(self.watch.drain())
        except KafkaException as exc:  # their events are read again after a restart
            log.warning("the alerts of the held events were not published: %s", exc)

    def close(self) -> None:
        """Save and commit, unless alerts of what was fed are unconfirmed: then what came
        after the last save is read and fed again at the next start."""
        try:
            if not self._outgoing:
                self._checkpoint()
            self._read.clear()  # the consumer's closing revoke commits nothing more
        finally:
            super().close()


def run_stage(settings: Settings) -> int:
    """Run the detect stage until SIGTERM/SIGINT; return its exit code."""
    if not settings.detection.enabled:
        log.warning("detection is off (STREAMTUNE_DETECTION__ENABLED=false): nothing to do")
        return 0
    if not settings.detection.stage:
        log.warning("workers watch in-process (STREAMTUNE_DETECTION__STAGE=false): a detect "
                    "stage would raise every alert twice, so it does not start")
        return 0
    create_topics(settings)
    metrics = DetectMetrics()
    return run_stage_process(
        settings, metrics, lambda sink: DetectStage(settings, sink=sink, metrics=metrics),
        lambda stage: stage.run(progress=StageProgress(
            "detect", {"records": metrics.events_in, "alerts": metrics.alerts}, lag=stage.lag)),
        what=f"detect stage {settings.worker_id}: reading {', '.join(detect_topics(settings))}"
             f" as group {detect_group(settings)}")
