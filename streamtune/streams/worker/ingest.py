"""The ingest loop: raw topics -> batch processing -> ClickHouse, then commit.

It runs in a thread of the worker and is a member of the ``<app>-ingest``
consumer group, so N workers split the raw partitions. For each batch it

1. processes the records (validate, clean, de-duplicate, annotate);
2. scores the batch and watches it (the live stage), then flushes every row to
   ClickHouse — retrying with back-off while the store is down, with the
   assigned partitions paused (backpressure: no new records are read, group
   membership is kept);
3. sends this batch's dead letters, clean events and window deltas to Kafka;
4. finishes it: waits for Kafka to confirm its sends and commits its offsets.

Augmentation is a stage of its own (``streams/augment/``), reading the clean
topics. A batch's offsets are committed only once all its rows are written and
its sends confirmed, and before the next batch's window deltas are sent (the
order the window agent relies on). A crash anywhere replays at most the
uncommitted batch; rows fold by identity and window deltas by (partition, first offset),
so replays change nothing. On a rebalance the unfinished batch is dropped, not
committed: with the eager assignment the worker uses, every partition restarts
from its committed offset, so its new owner (maybe this worker) redoes it. A batch
not committed (a fault, a refused commit) is forgotten by de-duplication, so that a
replay in this process counts its events again rather than judging them replays.

A broker fault (``recovery.py``) is met the same way: the unfinished batches are
dropped, the consumer and producer replaced once the broker answers again, and
reading resumes from the committed offsets.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import orjson
from confluent_kafka import Consumer, KafkaException, Message, Producer, TopicPartition

from streamtune.config import Settings, client_config
from streamtune.consumers import JOIN_STALL_S, known_lags, read_ahead
from streamtune.errors import BrokerUnavailable
from streamtune.processes import close_consumer, close_within
from streamtune.prometheus import PipelineMetrics
from streamtune.schemas.bounds import uuid_text
from streamtune.schemas.dead_letter import DeadLetter
from streamtune.schemas.topics import SOURCES, clean_topic, dlq_topic, loop_topic, raw_topic
from streamtune.sinks.batching import SinkUnavailable, grace_after
from streamtune.sinks.clickhouse import ClickHouseSink
from streamtune.sinks.rows import event_json
from streamtune.streams.live.signals import SERVED_INTENT_HEADER
from streamtune.streams.live.stage import LiveOutput, LiveStage
from streamtune.streams.worker.batch import BatchProcessor, BatchResult, RawRecord
from streamtune.streams.worker.recovery import BrokerFault, ClientWatch, wait_for_broker
from streamtune.streams.worker.resting import FETCH_WINDOW_S, Rests
from streamtune.streams.worker.windows import deltas_records

log = logging.getLogger(__name__)
TICK_INTERVAL_S = 1.0
SHUTDOWN_GRACE_S = 10.0
CLOSE_WAIT_S = 5.0
"""How long a replaced consumer may take to close before it is left behind."""
MAX_FAULTS_IN_A_ROW = 5
"""Recoveries with no batch committed in between before the worker gives up: a fault
that comes back every time is not the broker's (e.g. a record Kafka refuses)."""


def deltas_topic(settings: Settings) -> str:
    """Internal topic carrying window deltas and ticks to the window agent."""
    return loop_topic("window-deltas", settings.topics.prefix)


class IngestLoop:
    """Consume raw topics in batches and land them; see the module docstring."""

    def __init__(
        self,
        settings: Settings,
        *,
        sink: ClickHouseSink,
        metrics: PipelineMetrics,
        group_id: str,
        processor: BatchProcessor | None = None,
        live: LiveStage | None = None,
    ) -> None:
        self.settings = settings
        self.sink = sink
        self.metrics = metrics
        self.processor = processor or BatchProcessor(settings)
        self.live = live
        self.stop_requested = threading.Event()
        self.group_id = group_id
        self.consumer, self.producer, self._watch = self._connect()
        self._deltas = deltas_topic(settings)
        self._clean_topics = {kind: clean_topic(kind, settings.topics.prefix) for kind in SOURCES}
        self._last_tick = 0.0
        self._last_data = time.monotonic()
        self._watermark_ms = 0
        self._paused: list[TopicPartition] = []
        self._unfinished: _Unfinished | None = None
        self._uncommitted: BatchResult | None = None
        """The batch processed and not yet committed (its events de-duplication knows)."""
        batching = settings.pipeline
        self._rests = (Rests(batching.batch_max_events, self._known_lag,
                             rest_s=batching.batch_max_wait_ms / 1000)
                       if settings.kafka.embedded else None)
        self.recoveries = 0
        self._faults_in_a_row = 0

    def _connect(self) -> tuple[Consumer, Producer, ClientWatch]:
        """A consumer (subscribed, from the committed offsets) and a producer, watched."""
        settings = self.settings
        watch = ClientWatch(join_stall_s=JOIN_STALL_S if settings.kafka.embedded else None)
        conf = {**client_config(settings), "error_cb": watch.on_error}
        consumer = Consumer({
            **conf, "group.id": self.group_id, "enable.auto.commit": False,
            # static membership: a restarted worker takes its partitions back at once
            "group.instance.id": f"{settings.worker_id}-ingest",
            "auto.offset.reset": "earliest", "session.timeout.ms": 10_000,
            "heartbeat.interval.ms": 1000, "max.poll.interval.ms": 300_000,
            **read_ahead(settings),
        })
        producer = Producer({**conf, "enable.idempotence": True, "linger.ms": 5,
                             "compression.type": "lz4", "on_delivery": watch.on_delivery,
                             # the watch acts on failures only: no Python call per send
                             "delivery.report.only.error": True})
        consumer.subscribe([raw_topic(kind, settings.topics.prefix) for kind in SOURCES],
                           on_assign=self._on_assign, on_revoke=self._on_revoke)
        return consumer, producer, watch

    # -- one batch -------------------------------------------------------------------

    def step(self) -> int:
        """Process one batch end to end; return the number of records it held."""
        batch_cfg = self.settings.pipeline
        self._watch.check()
        with self._stage("poll"):  # rests included
            woken = self._rests is not None and self._rests.wake(self.consumer)
            messages = self.consumer.consume(
                batch_cfg.batch_max_events,
                FETCH_WINDOW_S if woken else batch_cfg.batch_max_wait_ms / 1000)
            records = [_record(m) for m in messages if m.error() is None]
        if self._rests is not None and self._rests.after_poll(
                self.consumer, len(records), paused=bool(self._paused)):
            self.metrics.rests.inc()
        if not records:
            self._finish()
            self._land_idle_alerts()
            self._maybe_tick()
            return 0
        started = time.perf_counter()
        with self._stage("process"):
            result = self._uncommitted = self.processor.process(records, augment=False)
            encoded = [event_json(event) for event, _ in result.events]
            unfinished = _Unfinished(result, started)
            self.sink.add(result.event_rows())
        live = None
        if self.live is not None:
            with self._stage("live"):
                self.live.refresh()  # a hot swap happens here, between batches
                live = self.live.run([event for event, _ in result.events],
                                     [position[:2] for _, position in result.events])
                self.sink.add(live.table_rows())
        with self._stage("write"):
            self._flush_with_backpressure()
        with self._stage("send"):
            self._send(result, encoded, live)
        self._unfinished = unfinished
        self._finish()
        self._last_data = time.monotonic()
        self._maybe_tick()
        return len(records)

    def _finish(self) -> None:
        """Confirm the unfinished batch's sends and commit it."""
        unfinished, self._unfinished = self._unfinished, None
        if unfinished is None:
            return
        result = unfinished.result
        with self._stage("commit"):
            self._confirm_sends()
            self._commit(result)
        self._record_metrics(result, unfinished.started)

    @contextlib.contextmanager
    def _stage(self, name: str) -> Iterator[None]:
        """Add the time the block took to ``streamtune_batch_stage_seconds{stage=name}``."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self.metrics.batch_stage.labels(name).inc(time.perf_counter() - started)

    def _land_idle_alerts(self, *, drain: bool = False) -> None:
        """Write and publish the alerts of events the detectors held for order and
        released without a batch (see ``event_order.py``); all of them at shutdown."""
        if self.live is None:
            return
        live = self.live.idle(drain=drain)
        if live.alerts:
            self.sink.add(live.table_rows())
            self._flush_with_backpressure()
            self._publish_live(live)

    def _known_lag(self) -> int:
        """Records past our positions on the assigned partitions, as of the last fetches."""
        return sum(known_lags(self.consumer).values())

    def _flush_with_backpressure(self) -> None:
        def on_failure(attempt: int, exc: Exception) -> None:
            self.metrics.sink_failures.inc()
            if not self._paused:
                self._pause(self.consumer.assignment())
                log.warning("store unavailable: consumption paused (%s)", exc)

        try:
            self.sink.flush(keep_trying=grace_after(self.stop_requested, SHUTDOWN_GRACE_S),
                            on_failure=on_failure, wait=self._wait_polling)
        finally:
            if self._paused:
                self.consumer.resume(self._paused)
                self._paused = []
                self.metrics.paused.set(0)
                log.warning("store back: consumption resumed")

    def _pause(self, partitions: list[TopicPartition]) -> None:
        self.consumer.pause(partitions)
        self._paused.extend(partitions)
        self.metrics.paused.set(1)

    def _wait_polling(self, seconds: float) -> None:
        """Sleep while serving the group protocol; nothing new is processed."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            msg = self.consumer.poll(min(0.2, max(deadline - time.monotonic(), 0)))
            if msg is not None and msg.error() is None:  # a partition assigned meanwhile
                record = _record(msg)
                tp = TopicPartition(record.topic, record.partition, record.offset)
                self._pause([tp])
                self.consumer.seek(tp)

    def _send(self, result: BatchResult, encoded: list[bytes],
              live: LiveOutput | None = None) -> None:
        """Hand dead letters, clean events (``encoded``: their JSON) and deltas to Kafka."""
        produce = self.producer.produce
        for letter in result.dead_letters:
            self._send_dead_letter(letter)
        topics = self._clean_topics
        intents = live.served.intents if live is not None else {}
        for i, ((event, _), data) in enumerate(zip(result.events, encoded, strict=True)):
            intent = intents.get(uuid_text(event.event_id)) if intents else None
            produce(topics[event.kind], data, key=event.session_id.encode(),
                    headers=None if intent is None else [(SERVED_INTENT_HEADER, intent.header())])
            if i % 1000 == 999:  # serve delivery reports now and then, not per event
                self.producer.poll(0)
        for partition, record in deltas_records(result.deltas, self.settings.topics.partitions):
            produce(self._deltas, record, partition=partition)
        if live is not None:
            self._publish_live(live)
        self._watermark_ms = max(self._watermark_ms, result.max_event_ms)

    def _send_dead_letter(self, letter: DeadLetter) -> None:
        """Publish a dead letter on its DLQ topic; one Kafka refuses is sent minimal."""
        topic, key = dlq_topic(letter.topic), f"{letter.topic}/{letter.partition}".encode()
        try:
            self.producer.produce(topic, letter.model_dump_json().encode(), key=key)
        except (BufferError, KafkaException) as exc:
            log.warning("dead letter of %s/%d@%d refused by Kafka (%s): sent without its bytes",
                        letter.topic, letter.partition, letter.offset, type(exc).__name__)
            minimal = DeadLetter.minimal(reason=letter.reason, topic=letter.topic,
                                         partition=letter.partition, offset=letter.offset)
            self.producer.produce(topic, minimal.model_dump_json().encode(), key=key)

    def _confirm_sends(self) -> None:
        """Wait until Kafka confirmed every send; a fault leaves the batch uncommitted."""
        if self.producer.flush(30.0):
            raise BrokerUnavailable("Kafka did not confirm dead letters / deltas within 30 s")
        self._watch.check()
        self._watch.back()
        self._faults_in_a_row = 0

    def _publish_live(self, live: LiveOutput) -> None:
        produce, prefix = self.producer.produce, self.settings.topics.prefix
        scored, alerts = loop_topic("scored", prefix), loop_topic("alerts", prefix)
        for i, record in enumerate(live.predictions):
            produce(scored, orjson.dumps(record), key=record["session_id"].encode())
            if i % 1000 == 999:
                self.producer.poll(0)
        for alert in live.alerts:
            produce(alerts, alert.model_dump_json().encode(), key=str(alert.alert_id).encode())

    def _commit(self, result: BatchResult) -> None:
        offsets = [TopicPartition(topic, partition, last + 1)
                   for (topic, partition), (_, last) in result.spans.items()]
        try:
            self.consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as exc:  # e.g. partitions revoked meanwhile: replayed
            log.warning("offset commit failed, the batch will be replayed: %s", exc)
            self._forget_uncommitted()
        self._uncommitted = None

    def _forget_uncommitted(self) -> None:
        """The batch in hand will be redone from the committed offsets, maybe by this
        worker (static membership gets its partitions back; a recovery re-reads them):
        de-duplication forgets its events, which would otherwise be judged replays and
        left out of the redone batch's window deltas, which replace this batch's."""
        if self._uncommitted is not None:
            self.processor.forget(self._uncommitted)
            self._uncommitted = None

    def _maybe_tick(self) -> None:
        """Tell every window-agent partition how far event time got, and how idle we are."""
        now = time.monotonic()
        if now - self._last_tick < TICK_INTERVAL_S:
            return
        self._last_tick = now
        tick = json.dumps({"type": "tick", "watermark_ms": self._watermark_ms,
                           "idle_s": now - self._last_data}).encode()
        for partition in range(self.settings.topics.partitions):
            self.producer.produce(self._deltas, tick, partition=partition)
        self.producer.poll(0)

    def _record_metrics(self, result: BatchResult, started: float) -> None:
        m = self.metrics
        for topic, count in result.records_by_topic.items():
            m.events_in.labels(topic).inc(count)
        for letter in result.dead_letters:
            m.dead_letters.labels(letter.topic, letter.category).inc()
        for kind, count in result.redactions.items():
            m.redactions.labels(kind).inc(count)
        m.duplicates.inc(result.duplicates)
        m.remembered.labels("event_ids").set(len(self.processor.recent))
        m.batch_latency.observe(time.perf_counter() - started)
        m.last_batch.set(time.time())

    def update_lag(self) -> None:
        """Refresh the consumer-lag gauge from the broker's end offsets."""
        for (topic, partition), lag in known_lags(self.consumer).items():
            self.metrics.consumer_lag.labels(topic, str(partition)).set(lag)

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        if consumer is not self.consumer:  # a replaced consumer, closing
            return
        log.info("partitions assigned: %s", [(p.topic, p.partition) for p in partitions])
        self._watch.join.assigned()
        if self._rests is not None:
            self._rests.assigned()
        if self.live is not None:
            self.live.expect([(p.topic, p.partition) for p in partitions])

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        if consumer is not self.consumer:  # a replaced consumer, closing
            return
        log.info("partitions revoked: %s", [(p.topic, p.partition) for p in partitions])
        self._watch.join.joining()
        if self._unfinished is not None:  # redone from its committed offsets (module doc)
            log.info("the unfinished batch %s will be redone", self._unfinished.result.batch_id)
            self._unfinished = None
        for tp in partitions:  # another member reports their lag now
            with contextlib.suppress(KeyError):
                self.metrics.consumer_lag.remove(tp.topic, str(tp.partition))

    # -- lifecycle ---------------------------------------------------------------------

    def run(self, *, on_batch: Callable[[int], None] | None = None) -> None:
        """Loop until :meth:`stop`; a batch in progress is finished first."""
        lag_every = 5.0
        last_lag = 0.0
        try:
            while not self.stop_requested.is_set():
                try:
                    count = self.step()
                except SinkUnavailable as exc:
                    log.error("stopping with an unwritten batch (it will be replayed): %s", exc)
                    break
                except (BrokerFault, BrokerUnavailable, KafkaException, BufferError,
                        SystemError) as exc:  # SystemError: a fatal error inside flush()
                    self._recover(exc)
                    continue
                if on_batch is not None and count:
                    on_batch(count)
                if time.monotonic() - last_lag > lag_every:
                    self.update_lag()
                    last_lag = time.monotonic()
            else:
                try:
                    self._finish()
                    self._land_idle_alerts(drain=True)
                except SinkUnavailable as exc:
                    log.error("stopping with an unwritten batch (it will be replayed): %s", exc)
        finally:
            self.close()

    def _recover(self, fault: Exception) -> None:
        """Drop the unfinished batches, wait for the broker, replace both clients."""
        self._faults_in_a_row += 1
        if self._faults_in_a_row > MAX_FAULTS_IN_A_ROW:
            log.error("Kafka fault %d times in a row with nothing committed between: giving up",
                      self._faults_in_a_row)
            raise fault
        log.warning("Kafka fault (%s): the unfinished batches are dropped, to be redone "
                    "from the committed offsets", fault)
        self._unfinished = None
        self._forget_uncommitted()
        self._paused = []
        old_consumer, old_producer = self.consumer, self.producer
        close_within(old_consumer.close, CLOSE_WAIT_S, name="st-closing-consumer")
        old_producer.purge()
        away = wait_for_broker(client_config(self.settings), self.stop_requested)
        if away is None:
            return
        self.consumer, self.producer, self._watch = self._connect()
        if self._rests is not None:
            self._rests.forget()
        self.recoveries += 1
        self.metrics.paused.set(0)
        log.warning("Kafka answers again%s: new clients, reading from the committed offsets",
                    f" after {away:.1f} s" if away >= 0.1 else "")

    def stop(self) -> None:
        self.stop_requested.set()

    def close(self) -> None:
        """Close the live stage and both clients, without waiting for a Kafka that is away."""
        if self.live is not None:
            self.live.close()
        away = self._watch.away_since is not None
        if unsent := self.producer.flush(0.5 if away else 10.0):
            log.warning("stopping with %d sends (ticks, alerts) Kafka has not confirmed", unsent)
        with contextlib.suppress(RuntimeError):  # closed already by a recovery that was stopped
            close_consumer(self.consumer, seconds=CLOSE_WAIT_S)


@dataclass
class _Unfinished:
    """A batch whose rows are written but whose sends or commit may not be."""

    result: BatchResult
    started: float


def _record(message: Message) -> RawRecord:
    return RawRecord(message.topic() or "", message.partition() or 0, message.offset() or 0,
                     message.value() or b"")
