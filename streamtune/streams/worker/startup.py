"""``streamtune worker``: open the store, start the faust app, run until signalled.

Besides the pipeline, the worker owns the store, so it imports the model
registry's outbox and the store outbox (the trainer's decisions, evaluations
and alerts) into ClickHouse every ``pipeline.outbox_import_s`` seconds and once more when
it stops, and, when webhook endpoints are configured, delivers alerts to them in
a thread of its own (alerts raised meanwhile wait in the ``alerts`` topic).

While it has work it logs a progress line every few seconds, and one
``idle, caught up`` line when the work is done (``progress.py``).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import threading
from collections.abc import Callable

import faust
import pyarrow as pa

from streamtune.config import Settings
from streamtune.models.registry import import_outbox
from streamtune.native import compiled
from streamtune.processes import tune_gc
from streamtune.prometheus import PipelineMetrics
from streamtune.sinks.clickhouse import ClickHouseSink
from streamtune.sinks.migrations import apply_retention, migrate, tune_embedded_tables
from streamtune.sinks.outbox import StoreOutbox
from streamtune.sinks.store import ClickHouseStore
from streamtune.sinks.webhooks import AlertDispatcher, WebhookMetrics
from streamtune.streams.kafka.admin import create_topics
from streamtune.streams.kafka.producer import RateLimitFilter
from streamtune.streams.worker.app import add_ingest, build_app
from streamtune.streams.worker.ingest import CLOSE_WAIT_S, SHUTDOWN_GRACE_S
from streamtune.streams.worker.progress import SAMPLE_EVERY_S, ProgressReporter
from streamtune.streams.worker.shutdown import StoppingWorker, exit_now

log = logging.getLogger(__name__)


def add_outbox_import(app: faust.App, settings: Settings,
                      store: ClickHouseStore) -> Callable[[], None]:
    """Import registry changes and other processes' rows (decisions, evaluations) periodically;
    returns the import, for a last one at shutdown."""

    rows = StoreOutbox(settings)
    every_s = settings.pipeline.outbox_import_s

    def once() -> None:
        try:
            if imported := import_outbox(store, settings):
                log.info("imported %d model registry records", imported)
            if imported := rows.import_into(store):
                log.info("imported %d rows from the store outbox", imported)
        except Exception:  # a bad outbox line or a store hiccup must not stop the pipeline
            log.exception("outbox import failed; retrying in %.0f s", every_s)

    @app.timer(interval=every_s)  # type: ignore[untyped-decorator]
    async def import_outboxes() -> None:
        await asyncio.get_running_loop().run_in_executor(None, once)

    return once


def add_progress(app: faust.App, metrics: PipelineMetrics) -> ProgressReporter:
    """Sample the worker's metrics every second; log progress while there is work."""
    reporter = ProgressReporter(metrics)

    @app.timer(interval=SAMPLE_EVERY_S)  # type: ignore[untyped-decorator]
    async def report_progress() -> None:
        reporter.sample()  # reads counters in memory: no need for an executor

    return reporter


CLIENT_LOGGERS = ("streamtune.rdkafka", "aiokafka", "faust", "mode")
"""Kafka client libraries whose reconnect errors would flood the log in an outage."""


def limit_client_logs() -> None:
    """At most one line per client library and level per 30 s, on every handler; the
    next one says how many were held back."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RateLimitFilter) for f in handler.filters):
            handler.addFilter(RateLimitFilter(only=CLIENT_LOGGERS))


WORKER_GC_YOUNG = 250_000
"""The worker's young-generation threshold (``tune_gc`` sets 50,000). What a step holds
while it runs (two batches of 5,000 records: events, rows, JSON) stays under it, so a
collection seldom traverses a live batch; at 50,000 one ran every ~3,300 records and
took 20-45 ms, 6-8 µs per record of the batch thread (measured in one process)."""


def tune_worker_gc() -> None:
    """:func:`~streamtune.processes.tune_gc`, with the worker's young-generation threshold;
    Arrow's buffers (the redaction gate's columns, the rows inserted) from the C heap."""
    tune_gc()
    gc.set_threshold(WORKER_GC_YOUNG, *gc.get_threshold()[1:])
    pa.set_memory_pool(pa.system_memory_pool())  # mimalloc's kept pages: +18 MB peak RSS


INGEST_STOP_S = SHUTDOWN_GRACE_S + CLOSE_WAIT_S
"""How long a stop waits for the ingest loop: its last batch's store retries, then its close."""


def run_worker(settings: Settings, *, loglevel: str = "warn") -> int:
    """Run one worker until SIGTERM/SIGINT; return its exit code."""
    limit_client_logs()
    create_topics(settings)
    store = ClickHouseStore.from_settings(settings)
    try:
        migrate(store)
        apply_retention(store, raw_days=settings.pipeline.raw_ttl_days,
                        dlq_days=settings.pipeline.dlq_ttl_days)
        tune_embedded_tables(store)
        metrics = PipelineMetrics()
        metrics.serve(settings.metrics_port)
        store.on_engine_cpu = metrics.store_engine_cpu.inc
        sink = ClickHouseSink(store, metrics=metrics,
                              retry_initial_s=settings.pipeline.sink_retry_initial_s,
                              retry_max_s=settings.pipeline.sink_retry_max_s)
        app = build_app(settings, sink=sink, metrics=metrics)
        import_outboxes = add_outbox_import(app, settings, store)
        progress = add_progress(app, metrics)
        tune_worker_gc()
        service = add_ingest(app, settings, sink=sink, metrics=metrics,
                             on_failure=lambda: os.kill(os.getpid(), signal.SIGTERM))
        worker = StoppingWorker(app, on_signal=service.stop_ingest, loglevel=loglevel,
                                quiet=True, redirect_stdouts=False, override_logging=False)
        worker.spinner = None  # it writes terminal codes even into a log file
        dispatcher = None
        if settings.webhooks.endpoints:  # its consumer costs CPU: only when there is a receiver
            dispatcher = AlertDispatcher(settings, metrics=WebhookMetrics(metrics.registry))
            delivering = threading.Thread(target=dispatcher.run, name="webhooks", daemon=True)
            delivering.start()
        port = settings.metrics_port
        log.info("worker %s: reading %sraw.* as group %s-ingest, %s; hot path %s; progress "
                 "every %.0f s while there is work", settings.worker_id, settings.topics.prefix,
                 app.conf.id, f"metrics on port {port}" if port else "no metrics endpoint",
                 "compiled (mypyc)" if compiled() else "plain Python", progress.every_s)
        code = 0
        try:
            worker.execute_from_commandline()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        finally:
            if not service.join(INGEST_STOP_S):
                log.error("the ingest loop did not stop within %.0f s", INGEST_STOP_S)
            if dispatcher is not None:
                dispatcher.stop()
                delivering.join(timeout=10.0)
            import_outboxes()  # what the trainer wrote since the last import
        code = 1 if service.failure else code
    finally:
        store.close()
    if worker.left_behind:
        exit_now(code)
    return code
