"""New-pattern alerts: streaming template mining (drain3) of command texts and error messages.

One drain3 ``TemplateMiner`` per stream (``command``: normalized command text,
``error``: error messages), with numbers, identifiers (tokens with digits such as
``pump-3`` or ``v1.2.0``), hex, IP addresses and UUIDs masked so parameters do
not split templates. Clusters created during a stream's first
``pattern_warmup_events`` events, or by :meth:`PatternMiner.learn`, are known.
A cluster created later is a candidate; it raises one ``new_pattern`` alert once
it has ``pattern_min_count`` members and their mean model confidence is below
``pattern_max_confidence`` (members without a confidence are not averaged; with
none at all only the count applies).

Labels (e.g. the executed command type) never seen in warm-up or ``learn``
group their candidates: every new cluster of such a label feeds one pattern per
(stream, label), so a new command type phrased four ways raises one alert.
Drain3 can rewrite a template as clusters absorb messages; a pattern is
identified by its cluster id (or label), keeping its first and current template.
Memory grows with the number of clusters (drain3's ``max_clusters`` is unset, so
a known cluster is never evicted and re-found as new).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from drain3 import TemplateMiner  # type: ignore[import-untyped]
from drain3.masking import MaskingInstruction  # type: ignore[import-untyped]
from drain3.template_miner_config import TemplateMinerConfig  # type: ignore[import-untyped]

from streamtune.config import DetectionSettings
from streamtune.schemas.alerts import Alert

STREAMS = ("command", "error")
_EDGE_L, _EDGE_R = r"((?<=[^A-Za-z0-9])|^)", r"((?=[^A-Za-z0-9])|$)"
MASKS: tuple[tuple[str, str], ...] = (
    (r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", "UUID"),
    (r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}(:\d+)?", "IP"),
    (r"0[xX][0-9a-fA-F]+", "HEX"),
    (r"[A-Za-z_][\w.-]*\d[\w.-]*", "ID"),
    (r"[-+]?\d[\w.]*", "NUM"),
)
"""Regex and mask name, applied in this order (whole tokens only)."""

MAX_EXAMPLES = 5
MAX_TEXT = 300
"""Characters kept of an example or a template in an alert."""


def template_miner(similarity: float) -> TemplateMiner:
    """A drain3 miner with the masks above and ``sim_th = similarity``."""
    config = TemplateMinerConfig()
    config.drain_sim_th = similarity
    config.masking_instructions = [MaskingInstruction(_EDGE_L + f"({regex})" + _EDGE_R, name)
                                   for regex, name in MASKS]
    return TemplateMiner(config=config)


@dataclass
class _Pattern:
    """A candidate: a new cluster, or every new cluster of a new label."""

    first_template: str
    first_seen: datetime
    cluster_ids: list[int] = field(default_factory=list)
    count: int = 0
    confidence_sum: float = 0.0
    confidence_n: int = 0
    examples: list[str] = field(default_factory=list)
    labels: Counter[str] = field(default_factory=Counter)
    alerted: bool = False

    def add(self, text: str, confidence: float | None, label: str) -> None:
        self.count += 1
        if confidence is not None:
            self.confidence_sum += confidence
            self.confidence_n += 1
        if len(self.examples) < MAX_EXAMPLES and text[:MAX_TEXT] not in self.examples:
            self.examples.append(text[:MAX_TEXT])
        if label:
            self.labels[label] += 1

    @property
    def mean_confidence(self) -> float | None:
        return self.confidence_sum / self.confidence_n if self.confidence_n else None


@dataclass
class _Stream:
    miner: TemplateMiner
    events: int = 0
    known_clusters: set[int] = field(default_factory=set)
    known_labels: set[str] = field(default_factory=set)
    clusters: dict[int, _Pattern] = field(default_factory=dict)
    labels: dict[str, _Pattern] = field(default_factory=dict)


class PatternMiner:
    """Drain3 template mining per stream, raising one alert per new recurring pattern."""

    def __init__(self, settings: DetectionSettings, *, source: str) -> None:
        self.settings = settings
        self.source = source
        self._streams = {name: _Stream(template_miner(settings.pattern_similarity))
                         for name in STREAMS}

    def learn(self, stream: str, texts: Iterable[str], labels: Iterable[str] = ()) -> int:
        """Pre-seed known templates (and labels) from training data; the clusters now known."""
        state = self._stream(stream)
        for text in texts:
            state.known_clusters.add(state.miner.add_log_message(text)["cluster_id"])
        state.known_labels.update(label for label in labels if label)
        return len(state.known_clusters)

    def observe(self, stream: str, text: str, *, confidence: float | None, label: str = "",
                key: str, at: datetime) -> list[Alert]:
        """Mine one text; the new-pattern alert it completes, if any."""
        state = self._stream(stream)
        if at.tzinfo is None or at.utcoffset() is None:
            raise ValueError("at must be timezone-aware")
        if confidence is not None and not 0.0 <= confidence <= 1.0:
            raise ValueError(f"confidence must be in [0, 1], got {confidence!r}")
        if not text.strip():
            return []
        state.events += 1
        result = state.miner.add_log_message(text)
        cluster_id: int = result["cluster_id"]
        if state.events <= self.settings.pattern_warmup_events:
            state.known_clusters.add(cluster_id)
            if label:
                state.known_labels.add(label)
            return []
        if cluster_id in state.known_clusters:
            return []
        new_label = bool(label) and label not in state.known_labels
        table: dict[Any, _Pattern] = state.labels if new_label else state.clusters
        pattern = table.get(label if new_label else cluster_id)
        if pattern is None:
            pattern = _Pattern(result["template_mined"], at)
            table[label if new_label else cluster_id] = pattern
        if cluster_id not in pattern.cluster_ids:
            pattern.cluster_ids.append(cluster_id)
        pattern.add(text, confidence, label)
        if pattern.alerted or pattern.count < self.settings.pattern_min_count:
            return []
        mean = pattern.mean_confidence
        if mean is not None and mean >= self.settings.pattern_max_confidence:
            return []
        pattern.alerted = True
        return [self._alert(stream, state, pattern, key, at)]

    def _stream(self, stream: str) -> _Stream:
        if stream not in self._streams:
            raise ValueError(f"unknown pattern stream {stream!r} (known: {', '.join(STREAMS)})")
        return self._streams[stream]

    def _alert(self, stream: str, state: _Stream, pattern: _Pattern, key: str,
               at: datetime) -> Alert:
        clusters = state.miner.drain.id_to_cluster
        templates = [clusters[c].get_template()[:MAX_TEXT] for c in pattern.cluster_ids
                     if c in clusters][:MAX_EXAMPLES]
        first = pattern.first_template[:MAX_TEXT]
        mean = pattern.mean_confidence
        return Alert.raise_(
            kind="new_pattern", severity="warning", key=f"{stream}/{first}", signal=stream,
            scope="global", source=self.source, raised_at=at,
            title=f"new {stream} pattern: {first[:200]}",
            summary=f"{pattern.count} {stream} events since {pattern.first_seen.isoformat()} "
                    f"match a template unknown before" + (
                        "" if mean is None else f", mean confidence {mean:.2f}"),
            details={"stream": stream, "template": first, "templates": templates,
                     "examples": list(pattern.examples),
                     "first_seen": pattern.first_seen.isoformat(), "count": pattern.count,
                     "mean_confidence": mean, "labels": dict(pattern.labels),
                     "clusters": len(pattern.cluster_ids), "trigger": key})
