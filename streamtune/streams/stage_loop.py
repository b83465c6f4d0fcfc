"""The batch loop the stages beside the worker share (augment, detect, second opinion):
landing rows with consumption paused while the store refuses them, committing offsets, the
lag gauge, and the loop itself, which outlives Kafka errors and ends at
:meth:`BatchStage.stop`."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence

from confluent_kafka import Consumer, KafkaException, TopicPartition
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from streamtune.consumers import GroupConsumer, known_lags
from streamtune.prometheus import LATENCY_BUCKETS, ProcessMetrics
from streamtune.sinks.batching import BatchingSink, grace_after
from streamtune.sinks.clickhouse import TableRow
from streamtune.streams.stage_progress import StageProgress

log = logging.getLogger(__name__)

SHUTDOWN_GRACE_S = 10.0
"""How long a stopping stage keeps trying to land its last rows."""
LAG_EVERY_S = 5.0


class StageMetrics(ProcessMetrics):
    """What every stage exports, as ``streamtune_<stage>_*``, with the process's CPU and
    memory (``process_*``); a stage's own metrics come beside them."""

    def __init__(self, stage: str, *, read: str,
                 registry: CollectorRegistry | None = None) -> None:
        super().__init__(registry)
        r, name = self.registry, f"streamtune_{stage}"
        self.events_in = Counter(f"{name}_events_in", read, ["topic"], registry=r)
        self.undecodable = Counter(f"{name}_undecodable",
                                   "Clean-topic records that did not decode (left out)",
                                   registry=r)
        self.land_failures = Counter(f"{name}_land_failures",
                                     "Failed attempts to land a batch's rows", registry=r)
        self.batch_latency = Histogram(f"{name}_batch_seconds", "Read-to-commit time of a batch",
                                       buckets=LATENCY_BUCKETS, registry=r)
        self.last_batch = Gauge(f"{name}_last_batch_timestamp_seconds",
                                "Wall-clock time the last batch was committed (0: none yet)",
                                registry=r)
        self.consumer_lag = Gauge(f"{name}_consumer_lag", "Records behind the end",
                                  ["topic", "partition"], registry=r)


class BatchStage:
    """A consumer-group stage: subclasses set ``group`` and implement :meth:`step`."""

    group: GroupConsumer

    def __init__(self, sink: BatchingSink[TableRow], metrics: StageMetrics) -> None:
        self.sink = sink
        self.stop_requested = threading.Event()
        self._land_failures = metrics.land_failures
        self._consumer_lag = metrics.consumer_lag

    @property
    def consumer(self) -> Consumer:
        """The group's consumer in use (a new one after a stalled join)."""
        return self.group.consumer

    def step(self) -> int:
        """Handle one batch; return the number of records it held."""
        raise NotImplementedError

    def land(self, rows: Sequence[TableRow]) -> None:
        """Write the rows; while that fails, retry with the partitions paused (until the
        stop's grace runs out: then :class:`SinkUnavailable`)."""
        paused: list[TopicPartition] = []

        def on_failure(attempt: int, exc: Exception) -> None:
            self._land_failures.inc()
            if not paused:
                paused.extend(self.consumer.assignment())
                self.consumer.pause(paused)
                log.warning("cannot land rows: consumption paused (%s)", exc)

        self.sink.add(rows)
        try:
            self.sink.flush(keep_trying=grace_after(self.stop_requested, SHUTDOWN_GRACE_S),
                            on_failure=on_failure)
        finally:
            if paused:
                self.consumer.resume(paused)
                log.warning("rows landed again: consumption resumed")

    def commit(self, ends: Mapping[tuple[str, int], int]) -> None:
        """Commit each partition's next offset; a failed commit replays the batch."""
        try:
            self.consumer.commit(offsets=[TopicPartition(topic, partition, end)
                                          for (topic, partition), end in ends.items()],
                                 asynchronous=False)
        except KafkaException as exc:  # e.g. revoked meanwhile: its new owner redoes it
            log.warning("offset commit failed, the batch will be replayed: %s", exc)

    def update_lag(self) -> None:
        """Refresh the lag gauge from the end offsets of the last fetches."""
        for (topic, partition), lag in known_lags(self.consumer).items():
            self._consumer_lag.labels(topic, str(partition)).set(lag)

    def lag(self) -> float:
        """Records behind the end, as last refreshed."""
        return sum(s.value for family in self._consumer_lag.collect() for s in family.samples)

    def forget_lag(self, partitions: list[TopicPartition]) -> None:
        """Partitions revoked: their new owner reports their lag."""
        for tp in partitions:
            try:
                self._consumer_lag.remove(tp.topic, str(tp.partition))
            except KeyError:
                continue

    def finish(self) -> None:
        """After the last batch, at a stop (nothing by default)."""

    def close(self) -> None:
        """Last of all, whatever happened."""
        self.group.close()

    def run(self, *, progress: StageProgress | None = None) -> None:
        """Loop until :meth:`stop`, ``progress`` sampled after every poll; the batch in
        progress is finished first. Raises :class:`SinkUnavailable` when rows could not be
        landed before a stop."""
        last_lag = 0.0
        try:
            while not self.stop_requested.is_set():
                try:
                    self.step()
                except KafkaException as exc:  # librdkafka reconnects by itself
                    log.warning("Kafka: %s; retrying", exc)
                    self.stop_requested.wait(1.0)
                    continue
                if progress is not None:
                    progress.sample()
                if time.monotonic() - last_lag > LAG_EVERY_S:
                    self.update_lag()
                    last_lag = time.monotonic()
            self.finish()
        finally:
            self.close()

    def stop(self) -> None:
        self.stop_requested.set()
