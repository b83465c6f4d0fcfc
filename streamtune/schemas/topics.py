"""The topic catalogue: every topic streamtune reads or writes, in one place.

Each data source has a raw topic (``raw.<source>``), its dead-letter queue
(``raw.<source>.dlq``) and a clean topic (``clean.<source>``); the learning
loop adds scored, drift, alerts (with its DLQ) and model-control topics.

Examples
--------
>>> from streamtune.config import Settings
>>> names = [t.name for t in catalogue(Settings())]
>>> "raw.commands" in names and "raw.commands.dlq" in names
True
"""

from __future__ import annotations

from dataclasses import dataclass

from streamtune.config import Settings

SOURCES: dict[str, str] = {
    "command": "commands",
    "error": "errors",
    "feedback": "feedback",
    "correction": "corrections",
    "trace": "traces",
    "metric": "metrics",
    "performance": "performance",
    "error_state": "error_states",
}
"""Event kind -> source name used in topic and table names."""

_HOUR_MS = 3_600_000


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """One topic: its name, what keys it, how it is sized and kept."""

    name: str
    role: str
    key: str
    partitions: int
    retention_ms: int
    cleanup_policy: str = "delete"

    def config(self) -> dict[str, str]:
        """Topic-level Kafka configuration."""
        conf = {"cleanup.policy": self.cleanup_policy}
        if self.cleanup_policy == "delete":
            conf["retention.ms"] = str(self.retention_ms)
        return conf


def raw_topic(kind: str, prefix: str = "") -> str:
    """Raw topic for an event kind."""
    return f"{prefix}raw.{SOURCES[kind]}"


def dlq_topic(topic: str) -> str:
    """Dead-letter queue of a topic."""
    return f"{topic}.dlq"


def clean_topic(kind: str, prefix: str = "") -> str:
    """Clean (validated, redacted) topic for an event kind."""
    return f"{prefix}clean.{SOURCES[kind]}"


def loop_topic(name: str, prefix: str = "") -> str:
    """Topic of the learning loop: scored, drift, alerts, alerts.dlq, model-control."""
    return f"{prefix}{name}"


def windows_changelog_topic(prefix: str = "") -> str:
    """The changelog faust keeps of the worker's window table (app ``<prefix>streamtune``)."""
    return f"{prefix}streamtune-windows-changelog"


def catalogue(settings: Settings) -> list[TopicSpec]:
    """Every topic, in a stable order."""
    t = settings.topics
    p = t.prefix
    raw_ms = t.raw_retention_hours * _HOUR_MS
    dlq_ms = t.dlq_retention_hours * _HOUR_MS
    specs: list[TopicSpec] = []
    for kind in SOURCES:
        raw = raw_topic(kind, p)
        specs += [
            TopicSpec(raw, "raw events from the control system", "session_id", t.partitions,
                      raw_ms),
            TopicSpec(dlq_topic(raw), "dead letters of " + raw, "topic/partition", 1, dlq_ms),
            TopicSpec(
                clean_topic(kind, p), "validated, redacted events", "session_id",
                t.partitions, raw_ms,
            ),
        ]
    specs += [
        TopicSpec(loop_topic("scored", p), "predictions per event", "session_id",
                  t.partitions, raw_ms),
        TopicSpec(loop_topic("drift", p), "drift and new-pattern findings", "signal",
                  1, dlq_ms),
        TopicSpec(loop_topic("alerts", p), "alerts to deliver by webhook", "alert_id",
                  1, dlq_ms),
        TopicSpec(dlq_topic(loop_topic("alerts", p)), "alerts past their retry budget",
                  "alert_id", 1, dlq_ms),
        TopicSpec(loop_topic("window-deltas", p), "window deltas and ticks (internal)",
                  "source|command_type", t.partitions, raw_ms),
        TopicSpec(loop_topic("model-control", p), "champion changes, hot swaps",
                  "model_name", 1, dlq_ms, cleanup_policy="compact"),
        # created here, not left to faust: a dev broker that loses it in a crash would
        # otherwise let the next write auto-create it with one partition
        TopicSpec(windows_changelog_topic(p), "the window table's changelog (faust)",
                  "window key", t.partitions, raw_ms, cleanup_policy="compact"),
    ]
    return specs
