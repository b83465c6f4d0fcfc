"""Machine-side sources: resource metrics, per-command performance and component health.

Host metrics follow mean-reverting random walks, so consecutive readings of
one host look like a time series; components move through a small health
state machine (healthy -> degraded -> failed -> recovering -> healthy).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from uuid import UUID

from streamtune.schemas.commands import CommandSpec
from streamtune.schemas.events import ErrorStateEvent, MetricEvent, MetricUnit, PerformanceEvent

_GIB = 1024**3


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """A resource metric: unit, long-run mean, noise and bounds of its random walk."""

    name: str
    unit: MetricUnit
    mean: float
    sd: float
    low: float
    high: float


_COMMON = (
    MetricSpec("cpu_usage", "percent", 35.0, 6.0, 0.0, 100.0),
    MetricSpec("memory_used", "bytes", 0.55, 0.03, 0.05, 0.99),  # share of the host's memory
    MetricSpec("disk_used", "ratio", 0.6, 0.005, 0.0, 1.0),
    MetricSpec("net_rx", "bytes_per_s", 2.5e6, 6e5, 0.0, 1.25e9),
    MetricSpec("net_tx", "bytes_per_s", 1.2e6, 3e5, 0.0, 1.25e9),
)
_ROLE_METRICS = {
    "plc_gateway": (MetricSpec("cabinet_temperature", "celsius", 38.0, 0.8, -20.0, 90.0),),
    "app": (MetricSpec("queue_depth", "count", 40.0, 15.0, 0.0, 1e6),
            MetricSpec("request_latency", "ms", 45.0, 8.0, 0.1, 6e4)),
    "db": (MetricSpec("replication_lag", "s", 0.4, 0.2, 0.0, 3600.0),),
}
HOSTS: tuple[tuple[str, str, str, int], ...] = (
    ("plc-gw-01", "plc_gateway", "plant-north", 4 * _GIB),
    ("edge-01", "plc_gateway", "plant-north", 8 * _GIB),
    ("edge-02", "plc_gateway", "plant-south", 8 * _GIB),
    ("app-01", "app", "datacenter-1", 32 * _GIB),
    ("app-02", "app", "datacenter-1", 32 * _GIB),
    ("app-03", "app", "datacenter-1", 32 * _GIB),
    ("db-01", "db", "datacenter-1", 128 * _GIB),
    ("db-02", "db", "datacenter-1", 128 * _GIB),
)
"""(name, role, site, memory bytes) of every monitored host."""

COMPONENTS = ("plc-line-1", "plc-line-2", "scada-gateway", "historian", "mqtt-broker",
              "deploy-service", "auth-service", "db-primary", "conveyor-controller",
              "alarm-router")
State = Literal["healthy", "degraded", "failed", "recovering"]
_NEXT_STATE: dict[State, tuple[tuple[State, float], ...]] = {
    "healthy": (("degraded", 0.75), ("failed", 1.0)),
    "degraded": (("healthy", 0.5), ("failed", 0.75), ("recovering", 1.0)),
    "failed": (("recovering", 0.9), ("failed", 1.0)),
    "recovering": (("healthy", 0.8), ("degraded", 1.0)),
}
_STATE_CODES = ("hardware_fault", "device_unreachable", "resource_exhausted", "timeout",
                "dependency_failed", "config_invalid")
_SEVERITY: dict[State, Literal["low", "medium"]] = {
    "healthy": "low", "recovering": "low", "degraded": "medium"}
_STATE_MESSAGES: dict[State, str] = {
    "healthy": "{c} back to normal operation",
    "degraded": "{c} running degraded: {code} reported",
    "failed": "{c} failed: {code}; automatic failover triggered",
    "recovering": "{c} recovering after {code}",
}


class Telemetry:
    """Stateful generator of metric, performance and error-state events."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._values: dict[tuple[int, int], float] = {}
        self._metrics = [_COMMON + _ROLE_METRICS[role] for _, role, _, _ in HOSTS]
        self._states: dict[str, State] = dict.fromkeys(COMPONENTS, "healthy")
        self._codes: dict[str, str] = {}

    def metric(self, event_id: UUID, when: datetime) -> MetricEvent:
        """One reading of one metric of a random host."""
        rng = self._rng
        h = int(rng.random() * len(HOSTS))
        name, role, site, memory = HOSTS[h]
        m = int(rng.random() * len(self._metrics[h]))
        spec = self._metrics[h][m]
        old = self._values.get((h, m), spec.mean)
        value = old + 0.2 * (spec.mean - old) + rng.gauss(0.0, spec.sd)
        value = min(spec.high, max(spec.low, value))
        self._values[(h, m)] = value
        reading = value * memory if spec.name == "memory_used" else value
        if spec.unit in ("bytes", "bytes_per_s", "count"):
            reading = float(round(reading))
        else:
            reading = round(reading, 4)
        return MetricEvent(
            event_id=event_id, event_time=when, source="node_agent", session_id=f"agent-{name}",
            host=name, metric=spec.name, value=reading, unit=spec.unit,
            labels={"site": site, "role": role},
        )

    def performance(
        self, event_id: UUID, when: datetime, spec: CommandSpec, factor: float
    ) -> PerformanceEvent:
        """Latency percentiles of ``spec`` over the last minute; ``factor`` scales times."""
        rng = self._rng
        p50 = spec.median_seconds * 1000.0 * factor * math.exp(rng.gauss(0.0, 0.08))
        count = max(0, int(rng.gauss(120.0 / (1.0 + math.log1p(spec.median_seconds)), 15.0)))
        return PerformanceEvent(
            event_id=event_id, event_time=when, source="metrics_pipeline",
            session_id="perf-aggregator", command_type=spec.name, interval_s=60.0, count=count,
            latency_p50_ms=round(p50, 3),
            latency_p95_ms=round(min(8.64e7, p50 * math.exp(1.645 * spec.sigma)), 3),
            latency_p99_ms=round(min(8.64e7, p50 * math.exp(2.326 * spec.sigma)), 3),
            throughput_per_s=round(count / 60.0, 4),
        )

    def error_state(self, event_id: UUID, when: datetime) -> ErrorStateEvent:
        """A component moving to its next health state."""
        rng = self._rng
        component = COMPONENTS[int(rng.random() * len(COMPONENTS))]
        previous = self._states[component]
        draw = rng.random()
        state = next(s for s, threshold in _NEXT_STATE[previous] if draw < threshold)
        if previous == "healthy":
            self._codes[component] = rng.choice(_STATE_CODES)
        code = self._codes.get(component, "timeout")
        self._states[component] = state
        severity = _SEVERITY.get(state) or ("critical" if code == "hardware_fault" else "high")
        return ErrorStateEvent(
            event_id=event_id, event_time=when, source="health_monitor",
            session_id="health-monitor", component=component, state=state,
            previous_state=previous,
            error_code=None if state == "healthy" else code,
            message=_STATE_MESSAGES[state].format(c=component, code=code),
            severity_level=severity,
        )
