"""Prometheus metrics of a worker, served on ``settings.metrics_port``.

Latencies are in seconds with millisecond-resolution buckets.
"""

from __future__ import annotations

import urllib.request

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    start_http_server,
)

LATENCY_BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
SIZE_BUCKETS = (1, 10, 50, 100, 500, 1000, 2500, 5000, 10000, 50000)


class ProcessMetrics:
    """A process's metrics in a registry of their own, with its CPU, memory and file
    descriptors (``process_*``), served over HTTP by :meth:`serve`."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        ProcessCollector(registry=self.registry)

    def serve(self, port: int) -> None:
        """Expose the registry over HTTP (``port`` 0 disables it)."""
        if port:
            start_http_server(port, registry=self.registry)


class PipelineMetrics(ProcessMetrics):
    """Every metric the pipeline exports."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        super().__init__(registry)
        r = self.registry
        self.events_in = Counter("streamtune_events_in", "Raw records read", ["topic"], registry=r)
        self.events_out = Counter("streamtune_events_out", "Rows written", ["table"], registry=r)
        self.dead_letters = Counter("streamtune_dead_letters", "Records sent to a DLQ",
                                    ["topic", "category"], registry=r)
        self.redactions = Counter("streamtune_redactions", "Secrets redacted", ["kind"],
                                  registry=r)
        self.duplicates = Counter("streamtune_duplicates_dropped",
                                  "Events dropped as repeats of a recent event_id", registry=r)
        self.sink_batch_rows = Histogram("streamtune_sink_batch_rows", "Rows per sink flush",
                                         buckets=SIZE_BUCKETS, registry=r)
        self.sink_latency = Histogram("streamtune_sink_write_seconds", "Sink flush latency",
                                      buckets=LATENCY_BUCKETS, registry=r)
        self.sink_failures = Counter("streamtune_sink_failures", "Failed sink write attempts",
                                     registry=r)
        self.store_engine_cpu = Counter(
            "streamtune_store_engine_cpu_seconds",
            "CPU the worker spent inside embedded chdb's inserts (ClickHouse's own work, which "
            "a ClickHouse server does itself; 0 with one)", registry=r)
        self.batch_latency = Histogram("streamtune_batch_seconds",
                                       "Read-to-commit time of a batch",
                                       buckets=LATENCY_BUCKETS, registry=r)
        self.batch_stage = Counter(
            "streamtune_batch_stage_seconds",
            "Time the ingest thread spent per step of its batches (rate(): share of its time)",
            ["stage"], registry=r)
        self.rests = Counter("streamtune_ingest_rests",
                             "Rests the ingest consumer took between fetches (dev broker only: "
                             "it pauses fetching, as a real broker holds a fetch)", registry=r)
        self.last_batch = Gauge("streamtune_last_batch_timestamp_seconds",
                                "Wall-clock time the last batch was committed (0: none yet)",
                                registry=r)
        self.consumer_lag = Gauge("streamtune_consumer_lag", "Records behind the end",
                                  ["topic", "partition"], registry=r)
        self.paused = Gauge("streamtune_consuming_paused",
                            "1 while consumption is paused for backpressure", registry=r)
        self.detection_in_stage = Gauge(
            "streamtune_detection_in_stage",
            "1 when this worker runs no detectors (DETECTION__STAGE): a detect stage must",
            registry=r)
        self.windows_emitted = Counter("streamtune_windows_emitted",
                                       "Closed windows written", registry=r)
        self.windows_open = Gauge("streamtune_windows_open", "Windows not closed yet",
                                  registry=r)
        self.window_agent_offset = Gauge(
            "streamtune_window_agent_offset",
            "Last window-deltas offset the window agent applied", ["partition"], registry=r)
        self.remembered = Gauge(
            "streamtune_remembered_entries", "Entries the worker keeps in memory, each bounded "
            "by a setting: event_ids, sessions, intent_records", ["kept"], registry=r)
        self.detection_held = Gauge(
            "streamtune_detection_held_events",
            "Events the drift detectors hold back for event-time order", registry=r)
        self.windows_late = Counter("streamtune_windows_late",
                                    "Windows rewritten for late events", registry=r)
        self.late_arrivals = Counter(
            "streamtune_late_arrivals", "Events and dead letters that came after their "
            "window was closed and forgotten (kept in late_arrivals)", registry=r)
        self.predictions = Counter("streamtune_predictions", "Prediction records emitted",
                                   ["model", "role"], registry=r)
        self.live_correct = Counter("streamtune_live_correct",
                                    "Served predictions by the outcome first known for each "
                                    "(a later correction is not counted again)",
                                    ["model", "outcome"], registry=r)
        self.serving = Gauge("streamtune_serving_percent",
                             "Share of sessions each served version answers",
                             ["model", "version", "role"], registry=r)
        self.alerts = Counter("streamtune_alerts", "Alerts raised", ["kind", "severity"],
                              registry=r)


def scrape_series(port: int, *, timeout: float = 2.0) -> dict[str, float]:
    """Read a worker's metrics endpoint: sample (name with labels) -> value ({} if down)."""
    try:
        with urllib.request.urlopen(  # noqa: S310 - a loopback URL we build
                f"http://127.0.0.1:{port}/metrics", timeout=timeout) as response:
            text = response.read().decode()
    except OSError:
        return {}
    return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
            for line in text.splitlines() if line and not line.startswith("#")}


def scrape(port: int, *, timeout: float = 2.0) -> dict[str, float]:
    """Read a worker's metrics endpoint: metric name -> sum over its labels ({} if down)."""
    return totals(scrape_series(port, timeout=timeout))


def totals(series: dict[str, float]) -> dict[str, float]:
    """Samples (name with labels) -> metric name -> sum over its labels."""
    summed: dict[str, float] = {}
    for sample, value in series.items():
        name = sample.split("{", 1)[0]
        summed[name] = summed.get(name, 0.0) + value
    return summed


def windows_caught_up(port: int, end_offsets: dict[int, int]) -> bool:
    """True when the worker's window agent applied every delta below ``end_offsets``."""
    series = scrape_series(port)
    for partition, end in end_offsets.items():
        applied = series.get(f'streamtune_window_agent_offset{{partition="{partition}"}}', -1)
        if end > 0 and applied < end - 1:
            return False
    return True
