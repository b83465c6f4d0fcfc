"""The worker: a faust app hosting the ingest loop and the window agent.

* The ingest loop (a thread, confluent-kafka batches — see ``ingest.py``)
  lands raw events in ClickHouse. faust's per-event stream machinery tops
  out near 3,000 events/s on a 2-core machine (``benchmarks/pipeline.py``
  measures it), so the hot path reads batches directly; it is still one
  consumer group (``<app>-ingest``) that N workers share.
* The window agent is a faust agent over the low-volume ``window-deltas``
  topic, folding deltas into a changelog-backed faust table and writing each
  closed window to the ``aggregates`` table.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Callable
from typing import Any

import faust
from mode import Service

from streamtune.config import Settings
from streamtune.sinks.clickhouse import ClickHouseSink
from streamtune.sinks.metrics import PipelineMetrics
from streamtune.streams.ingest import IngestLoop, deltas_topic
from streamtune.streams.windows import WindowDelta, WindowKey, WindowState, aggregate_row

log = logging.getLogger(__name__)
WINDOW_RETENTION_S = 3600


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

    async def on_start(self) -> None:
        self.ingest = self._factory()
        self._thread = threading.Thread(target=self._run, name="ingest", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        if self.ingest is None:
            return
        try:
            self.ingest.run()
        except BaseException as exc:  # the worker must die loudly, not limp on
            self.failure = exc
            log.exception("ingest loop failed; stopping the worker")
            if self._on_failure is not None:
                self._on_failure()

    async def on_stop(self) -> None:
        if self.ingest is not None and self._thread is not None:
            self.ingest.stop()
            await asyncio.get_running_loop().run_in_executor(None, self._thread.join)


def build_app(settings: Settings, *, sink: ClickHouseSink, metrics: PipelineMetrics) -> faust.App:
    """A faust app wired to ``sink``; run it with :func:`run_worker`."""
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
        producer_linger=0.005,
    )
    window_s = settings.pipeline.window_seconds
    grace_ms = window_s * 1000
    deltas = app.topic(deltas_topic(settings), key_type=bytes, value_type=bytes,
                       value_serializer="raw", key_serializer="raw",
                       partitions=settings.topics.partitions)
    windows = app.Table("windows", default=None, key_type=str,
                        partitions=settings.topics.partitions)
    loop_state = {"watermark_ms": 0}

    async def write(key: WindowKey, state: WindowState, *, late: bool) -> None:
        row = aggregate_row(key, window_s, state.total())
        await asyncio.get_running_loop().run_in_executor(
            None, sink.write, [("aggregates", row)])
        (metrics.windows_late if late else metrics.windows_emitted).inc()

    @app.agent(deltas)
    async def fold_windows(stream: Any) -> None:
        # A table key is only ever changed while handling a message of the partition
        # its deltas arrive on, so its changelog stays in that partition.
        async for event in stream.events():
            message = json.loads(event.value)
            partition = event.message.partition
            applied = metrics.window_agent_offset.labels(str(partition))
            if message["type"] == "delta":
                delta = WindowDelta.from_json(message)
                table_key = delta.key.table_key()
                raw = windows.get(table_key)
                state = WindowState.from_json(raw) if raw else WindowState(partition=partition)
                if state.apply(delta):
                    if state.closed:
                        await write(delta.key, state, late=True)
                    windows[table_key] = state.to_json()
                applied.set(event.message.offset)
                continue
            watermark = max(loop_state["watermark_ms"], int(message["watermark_ms"]))
            loop_state["watermark_ms"] = watermark
            idle = float(message["idle_s"]) >= settings.pipeline.window_idle_close_s
            still_open = 0
            for table_key, raw in list(windows.items()):
                if raw["partition"] != partition:  # peek without decoding the whole state
                    still_open += not raw["closed"]
                    continue
                key = WindowKey.parse(table_key)
                end_ms = key.start_ms + window_s * 1000
                if raw["closed"]:
                    if end_ms + WINDOW_RETENTION_S * 1000 < watermark:
                        del windows[table_key]
                    continue
                if idle or end_ms + grace_ms <= watermark:
                    state = WindowState.from_json(raw)
                    await write(key, state, late=False)
                    state.closed = True
                    windows[table_key] = state.to_json()
                else:
                    still_open += 1
            metrics.windows_open.set(still_open)
            applied.set(event.message.offset)

    return app


def add_ingest(app: faust.App, settings: Settings, *, sink: ClickHouseSink,
               metrics: PipelineMetrics,
               on_failure: Callable[[], None] | None = None) -> IngestService:
    """Attach the ingest loop so it starts and stops with the app."""
    service = IngestService(
        lambda: IngestLoop(settings, sink=sink, metrics=metrics,
                           group_id=f"{app.conf.id}-ingest"),
        on_failure=on_failure,
    )
    app.add_dependency(service)
    return service
