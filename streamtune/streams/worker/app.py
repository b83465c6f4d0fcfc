"""The worker: a faust app hosting the ingest loop and the window agent.

* The ingest loop (a thread, confluent-kafka batches — see ``ingest.py``)
  lands raw events in ClickHouse. faust's per-event stream machinery tops
  out near 3,000 events/s on a 2-core machine (``benchmarks/pipeline.py``
  measures it), so the hot path reads batches directly; it is still one
  consumer group (``<app>-ingest``) that N workers share.
* The window agent is a faust agent over the low-volume ``window-deltas``
  topic, folding deltas into a changelog-backed faust table and writing each
  closed window to the ``aggregates`` table. faust's consumer offsets alone do
  not make that exact after a crash; :class:`WindowAgent` says why and how the
  table's own progress marker does.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import faust
from confluent_kafka import Consumer, KafkaError, TopicPartition
from mode import Service

from streamtune.config import Settings, client_config
from streamtune.errors import BrokerUnavailable
from streamtune.models.control import ControlReader
from streamtune.processes import name_thread, release_code_pages, trim_heap
from streamtune.prometheus import PipelineMetrics
from streamtune.sinks.clickhouse import ClickHouseSink, TableRow
from streamtune.streams.kafka.empty_assignment import rejoin_on_empty_assignment
from streamtune.streams.kafka.fetch_pacing import pace_fetches
from streamtune.streams.live.stage import LiveStage
from streamtune.streams.worker.held_writes import HeldWrites
from streamtune.streams.worker.ingest import IngestLoop, deltas_topic
from streamtune.streams.worker.window_index import PartitionWindows, WindowIndex
from streamtune.streams.worker.windows import (
    WindowDelta,
    WindowKey,
    WindowState,
    aggregate_row,
    applied_key,
    late_key,
    late_row,
)

log = logging.getLogger(__name__)
WINDOW_RETENTION_S = 3600
MAX_HELD_WRITES = 10_000
"""A partition's table writes held past this many are written without waiting for its
tick (``held_writes.py``)."""
RELEASE_CODE_S = 60.0
"""How often a worker lets go of its resident code pages: each time ~10 ms to read its
mappings, then the page faults that bring back the code it runs (a few ms)."""


class IngestService(Service):
    """Runs :class:`IngestLoop` in a thread for the lifetime of the app."""

    def __init__(self, loop_factory: Callable[[], IngestLoop], *,
                 on_failure: Callable[[], None] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._factory = loop_factory
        self._on_failure = on_failure
        self.ingest: IngestLoop | None = None
        self.failure: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._release_code_at = 0.0

    async def on_start(self) -> None:
        self.ingest = self._factory()
        self._thread = threading.Thread(target=self._run, name="ingest", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        if self.ingest is None:
            return
        name_thread("st-ingest")
        # start-up's code pages (imports, chdb's initialisation, models) go before the first
        # batch: with a backlog waiting, that batch came on top of them (a 526 MB peak)
        release_code_pages()
        try:
            self.ingest.run(on_batch=self._after_batch)
        except BaseException as exc:  # the worker must die loudly, not limp on
            self.failure = exc
            log.exception("ingest loop failed; stopping the worker")
            if self._on_failure is not None:
                self._on_failure()

    def _after_batch(self, count: int) -> None:
        """After each batch, give the heap's free pages back (:func:`~streamtune.processes.
        trim_heap`); after the first, and then every :data:`RELEASE_CODE_S`, let go of the
        code pages (:func:`~streamtune.processes.release_code_pages`): embedded chdb's
        initialisation alone leaves ~80 MB of them resident, its merges more as they go."""
        trim_heap()
        now = time.monotonic()
        if now >= self._release_code_at:
            self._release_code_at = now + RELEASE_CODE_S
            release_code_pages()

    def stop_ingest(self) -> None:
        """Tell the ingest loop to finish its batch and stop (from a signal handler too)."""
        if self.ingest is not None:
            self.ingest.stop()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the ingest thread to end; whether it did."""
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    async def on_stop(self) -> None:
        self.stop_ingest()
        await asyncio.get_running_loop().run_in_executor(None, self.join)


class DeltaLogReader:
    """Reads a range of one window-deltas partition straight from Kafka, outside any group.

    The window agent uses it to fetch the records faust's consumer never handed it
    (see :class:`WindowAgent`). It assigns the partition itself, commits nothing and
    joins no consumer group.
    """

    def __init__(self, settings: Settings, *, timeout_s: float = 30.0) -> None:
        self._conf = {**client_config(settings), "group.id": f"{settings.topics.prefix}"
                      "streamtune-window-gaps", "enable.auto.commit": False,
                      "enable.auto.offset.store": False, "enable.partition.eof": True,
                      "auto.offset.reset": "earliest"}
        self._topic = deltas_topic(settings)
        self._timeout_s = timeout_s

    def read(self, partition: int, start: int, end: int) -> list[tuple[int, bytes]]:
        """Records at offsets ``start <= offset < end`` of ``partition``, in order."""
        consumer = Consumer(self._conf)
        try:
            consumer.assign([TopicPartition(self._topic, partition, start)])
            records: list[tuple[int, bytes]] = []
            deadline = time.monotonic() + self._timeout_s
            while time.monotonic() < deadline:
                message = consumer.poll(0.5)
                if message is None:
                    continue
                error = message.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        return records
                    raise BrokerUnavailable(f"reading {self._topic}/{partition}: {error}")
                offset = message.offset() or 0
                if offset >= end:
                    return records
                records.append((offset, message.value() or b""))
            raise BrokerUnavailable(f"reading {self._topic}/{partition} offsets {start}..{end - 1}"
                                    f" took over {self._timeout_s:.0f} s")
        finally:
            consumer.close()


class WindowAgent:
    """Folds window-deltas records into the ``windows`` table, each record exactly once.

    faust-streaming 0.15 (aiokafka transport) does not hand an agent every record
    at or after its group's committed offset. After a restart, table recovery
    resumes the fetcher while the stream partitions are still paused; records the
    fetcher returns for them are dropped by ``Consumer.getmany`` (their partition
    is not in its active set), yet aiokafka's position has already moved past
    them. The "seek stream partitions to committed offsets" that follows does
    nothing for a partition without a committed offset (aiokafka seeks only to
    offsets > 0), and races with fetches in flight for one that has. Those records
    never reach the agent, and its next commit moves the group past them: the
    restarted worker's table misses deltas (seen in the SIGKILL test: up to the
    whole first fetch of every partition). faust also drops *and acks* events that
    reach a stream while flow control is suspended or from another consumer
    generation, and flushes its producer buffer before a commit with a 0.1 s
    timeout, so an offset may be committed before the changelog writes below it
    are on the broker. So the agent does not take its input position from faust:

    * the records' effects are followed, in the same changelog partition, by the
      table key ``@applied|<partition>`` holding the offset of the last. A changelog
      partition is written in order, so whatever recovery restores is exactly the
      effect of the records up to that marker. The writes are held until the
      partition's next tick (``held_writes.py``: a window is written once however
      many records changed it), then written with the marker last;
    * a record at or below the marker is already folded and is skipped —
      re-delivered deltas are folded once without relying on the folding rules;
    * a record above ``marker + 1`` means faust skipped some, or that writes held
      were dropped (a restart, a recovery): the agent reads the missing offsets
      straight from the topic (:class:`DeltaLogReader`) and folds them first. Ticks
      arrive on every partition every second, so a skipped tail is picked up within
      a second too.

    The marker makes the table, not the consumer group, the record of progress;
    faust's commits only decide how far back it starts reading after a restart.
    faust stays in charge of what it does correctly — the windowed table, its
    changelog and its recovery — and only its input position is not trusted.
    The ``aggregates`` write of a closing window happens before the window is
    marked closed and before the marker moves, so a crash in between rewrites the
    same row (``ReplacingMergeTree`` keeps one). A delta for a window that already
    closed marks it ``rewrite``; the partition's next tick writes every
    such window with the ones it closes, in one insert (a chdb insert costs ~10 ms
    whatever its size, and a worker catching up on a backlog receives many late
    deltas). The mark is a record's effect like any other: a crash before that tick
    leaves it to the records read back. A delta for a window closed and forgotten
    (:data:`WINDOW_RETENTION_S` behind the watermark) cannot be folded into it
    without replacing its row with a partial one: it is kept as a late arrival and
    the partition's next tick writes it to ``late_arrivals``.
    """

    def __init__(self, table: MutableMapping[str, Any], *, window_s: int, idle_close_s: float,
                 write: Callable[[list[tuple[WindowKey, WindowState]],
                                  list[tuple[WindowKey, WindowState]],
                                  list[dict[str, Any]]], Awaitable[None]],
                 read_missed: Callable[[int, int, int], list[tuple[int, bytes]]],
                 metrics: PipelineMetrics, max_held: int = MAX_HELD_WRITES) -> None:
        self.table = table
        self.window_s = window_s
        self.idle_close_s = idle_close_s
        self.max_held = max_held
        self._write = write
        self._read_missed = read_missed
        self._metrics = metrics
        self._watermark_ms = 0
        self._held = HeldWrites(table)
        self._decoded: dict[str, tuple[dict[str, Any], WindowState]] = {}
        """Per window, the state last written with the dict written: reused while the
        table holds that very dict (recovery puts another one there)."""
        self._index = WindowIndex()

    async def table_recovered(self) -> None:
        """faust restored the table after a rebalance: the window index is built again,
        and the writes held are dropped (the records they came from are read back)."""
        self._index.mark_stale()

    def applied(self, partition: int) -> int:
        """Highest offset of ``partition`` whose effect is in the table or held (-1: none).

        The marker also carries the watermark as of that record, so a restarted agent
        knows at once which windows it has forgotten.
        """
        marker = self._held.current(partition, applied_key(partition))
        if not marker:
            return -1
        self._watermark_ms = max(self._watermark_ms, int(marker.get("watermark_ms", 0)))
        return int(marker["offset"])

    async def handle(self, partition: int, offset: int, value: bytes) -> None:
        """Fold the record at ``offset`` unless it already was, after any it skipped."""
        if self._index.refresh(self.table):  # built again: the table changed under us
            self._held.drop()
            self._decoded.clear()
        applied = self.applied(partition)
        if offset <= applied:
            log.debug("window-deltas %d/%d already applied (up to %d): skipped",
                     partition, offset, applied)
            return
        if offset > applied + 1:
            missed = await asyncio.get_running_loop().run_in_executor(
                None, self._read_missed, partition, applied + 1, offset)
            log.info("window-deltas %d/%d..%d are not in the table (held writes dropped, or "
                     "records faust never handed over): folded %d records read back from "
                     "the topic", partition, applied + 1, offset - 1, len(missed))
            for missed_offset, missed_value in missed:
                await self._fold(partition, missed_offset, missed_value)
        await self._fold(partition, offset, value)

    async def _fold(self, partition: int, offset: int, value: bytes) -> None:
        message = json.loads(value)
        tick = message["type"] != "deltas"
        if tick:
            await self._tick(partition, int(message["watermark_ms"]),
                             float(message["idle_s"]) >= self.idle_close_s)
        else:
            self._deltas(partition, [WindowDelta.from_json(d) for d in message["deltas"]])
        marker = applied_key(partition), {"offset": offset, "watermark_ms": self._watermark_ms}
        if tick or self._held.count(partition) >= self.max_held:
            self._held.write(partition, self._encode, marker)
        else:
            self._held.set(partition, *marker)
        self._index.seen(self.table)
        self._metrics.window_agent_offset.labels(str(partition)).set(offset)

    def _encode(self, table_key: str, value: Any) -> Any:
        """The table value of a held write (a window's state as JSON)."""
        if isinstance(value, WindowState):
            written = value.to_json()
            self._decoded[table_key] = written, value
            return written
        return value

    def _window(self, partition: int, table_key: str) -> WindowState | None:
        """The window's current state (held, or as the table holds it), or None; a table
        value is decoded only when this agent did not write that very dict."""
        found, held = self._held.get(partition, table_key)
        if found:
            return held  # type: ignore[no-any-return]
        raw = self.table.get(table_key)
        if raw is None:
            return None
        kept = self._decoded.get(table_key)
        if kept is not None and kept[0] is raw:
            return kept[1]
        state = WindowState.from_json(raw)
        self._decoded[table_key] = raw, state
        return state

    def _indexed(self, partition: int, table_key: str) -> WindowState:
        """The state of a window the index holds (so it exists)."""
        state = self._window(partition, table_key)
        if state is None:
            raise KeyError(f"window {table_key} is indexed but not in the table")
        return state

    def _deltas(self, partition: int, deltas: list[WindowDelta]) -> None:
        # A table key is only ever changed while handling a record of the partition its
        # deltas arrive on, so its changelog stays in that partition, beside the marker.
        changed: dict[str, WindowState] = {}
        late: list[dict[str, Any]] = []
        for delta in deltas:
            table_key = delta.key.table_key()
            state = changed.get(table_key) or self._window(partition, table_key)
            if state is None:
                if self._forgotten(delta.key):
                    late.append(late_row(delta))  # its window's row must not be replaced
                    continue
                state = WindowState(partition=partition)
            if state.apply(delta):
                state.rewrite = state.closed  # its row is rewritten by the partition's next tick
                changed[table_key] = state
        for table_key, state in changed.items():
            self._held.set(partition, table_key, state)
            self._index.changed(table_key, state)
        if late:
            key = late_key(partition)
            self._held.set(partition, key, [*(self._held.current(partition, key) or []), *late])

    def _forgotten(self, key: WindowKey) -> bool:
        """Whether ``key``'s window ended :data:`WINDOW_RETENTION_S` before the watermark
        (its state is dropped once closed)."""
        return key.start_ms + (self.window_s + WINDOW_RETENTION_S) * 1000 < self._watermark_ms

    def _forget(self, partition: int, windows: PartitionWindows) -> None:
        """Drop the partition's closed windows that ended :data:`WINDOW_RETENTION_S`
        before the watermark (see :meth:`_forgotten`), unless a rewrite is due."""
        horizon = self._watermark_ms - (self.window_s + WINDOW_RETENTION_S) * 1000
        for table_key in windows.pop_closed_before(horizon):
            state = self._window(partition, table_key)  # the heap may name a window twice
            if state is not None and state.closed and not state.rewrite:
                self._held.delete(partition, table_key)
                self._decoded.pop(table_key, None)

    async def _tick(self, partition: int, watermark_ms: int, idle: bool) -> None:
        watermark = self._watermark_ms = max(self._watermark_ms, watermark_ms)
        window_ms = self.window_s * 1000
        windows = self._index.partition(partition)
        self._forget(partition, windows)
        closing: list[tuple[str, WindowKey, WindowState]] = []
        for table_key in windows.open:
            key = WindowKey.parse(table_key)
            if idle or key.start_ms + 2 * window_ms <= watermark:  # grace: one window length
                closing.append((table_key, key, self._indexed(partition, table_key)))
        rewrites = [(table_key, WindowKey.parse(table_key), self._indexed(partition, table_key))
                    for table_key in windows.rewrite]
        late = self._held.current(partition, late_key(partition)) or []
        if closing or rewrites or late:  # one insert per tick: inserts cost per call
            await self._write([(key, state) for _, key, state in closing],
                              [(key, state) for _, key, state in rewrites], late)
            for table_key, _, state in closing + rewrites:
                state.closed, state.rewrite = True, False
                self._held.set(partition, table_key, state)
                windows.open.discard(table_key)
                windows.rewrite.discard(table_key)
                windows.add_closed(table_key)
            if late:
                self._held.delete(partition, late_key(partition))
        self._metrics.windows_open.set(self._index.open_count())


def build_app(settings: Settings, *, sink: ClickHouseSink, metrics: PipelineMetrics) -> faust.App:
    """A faust app wired to ``sink``; run it with :func:`run_worker`."""
    rejoin_on_empty_assignment()
    if settings.kafka.embedded:
        pace_fetches()
    prefix = settings.topics.prefix
    app_id = f"{prefix}streamtune"
    app = faust.App(
        app_id,
        broker=[f"kafka://{s}" for s in settings.kafka.servers.split(",")],
        store="memory://",
        datadir=str(settings.data_dir / "faust"),
        web_enabled=False,
        topic_partitions=settings.topics.partitions,
        topic_replication_factor=settings.topics.replication_factor,
        broker_session_timeout=10,
        broker_heartbeat_interval=1,
        broker_rebalance_timeout=20,
        consumer_auto_offset_reset="earliest",
        consumer_group_instance_id=f"{settings.worker_id}-windows",
        table_standby_replicas=0,
        # changelog writes gather for 50 ms: each produce request is a socket write on
        # the event loop (py-spy: a quarter of its busy time at 5 ms, a sixth at 50 ms)
        producer_linger=0.05,
    )
    window_s = settings.pipeline.window_seconds
    deltas = app.topic(deltas_topic(settings), key_type=bytes, value_type=bytes,
                       value_serializer="raw", key_serializer="raw",
                       partitions=settings.topics.partitions)
    windows = app.Table("windows", default=None, key_type=str,
                        partitions=settings.topics.partitions)

    async def write(closed: list[tuple[WindowKey, WindowState]],
                    rewritten: list[tuple[WindowKey, WindowState]],
                    late: list[dict[str, Any]]) -> None:
        rows: list[TableRow] = [("aggregates", aggregate_row(key, window_s, state.total()))
                                for key, state in closed + rewritten]
        rows += [("late_arrivals", row) for row in late]
        await asyncio.get_running_loop().run_in_executor(None, sink.write, rows)
        metrics.windows_emitted.inc(len(closed))
        metrics.windows_late.inc(len(rewritten))
        metrics.late_arrivals.inc(sum(row["events"] + row["dlq_count"] for row in late))

    agent = WindowAgent(windows, window_s=window_s,
                        idle_close_s=settings.pipeline.window_idle_close_s, write=write,
                        read_missed=DeltaLogReader(settings).read, metrics=metrics)
    windows.on_recover(agent.table_recovered)

    @app.agent(deltas)
    async def fold_windows(stream: Any) -> None:
        async for event in stream.events():
            await agent.handle(event.message.partition, event.message.offset, event.value)

    return app


def add_ingest(app: faust.App, settings: Settings, *, sink: ClickHouseSink,
               metrics: PipelineMetrics,
               on_failure: Callable[[], None] | None = None) -> IngestService:
    """Attach the ingest loop so it starts and stops with the app."""
    def make_loop() -> IngestLoop:
        live = None
        if settings.scoring.enabled or settings.detection.enabled:
            live = LiveStage(settings, metrics=metrics, control=ControlReader(settings))
        return IngestLoop(settings, sink=sink, metrics=metrics,
                          group_id=f"{app.conf.id}-ingest", live=live)

    service = IngestService(make_loop, on_failure=on_failure)
    app.add_dependency(service)
    return service
