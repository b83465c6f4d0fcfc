"""Tumbling-window aggregates that stay exact under replays.

The ingest path summarises each batch into :class:`WindowDelta` s — one per
(source, command type, window) it touched, tagged with the raw partition and
the batch's first and last offsets — and sends them as window-deltas records,
as few per window-deltas partition as fit (:func:`deltas_records`). A faust
agent folds them into a changelog-backed table of :class:`WindowState`.
Because the ingest commits a batch's offsets before it produces the next
batch's deltas, a delta starting at offset ``s`` proves everything of that
partition before ``s`` is final.
Against the partition's pending delta ``[s0, e0]``, a new delta ``[s, e]``:

* ``s == s0``: replaces it (a batch redone after a crash or rebalance, or the
  agent re-reading its own input);
* ``s > e0``: the pending one is final — merged into the base — and the new
  one becomes pending;
* ``s0 < s <= e0``: the pending one came from a batch that was never
  committed and was redone with other boundaries; every event of it that
  falls in this window lies at ``>= s`` and is being redone, so it is dropped;
* ``s < s0``: a stale re-read, ignored.

So each event counts once, whatever crashes — provided the agent folds each
window-deltas record once and misses none; ``app.WindowAgent`` ensures that with a
per-partition progress marker in the same table. Execution times go into a
log-bucket histogram (buckets 2 % wide), from which p50/p95/p99 are read.
"""

from __future__ import annotations

import math
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from streamtune import json_bytes

_BUCKET_BASE = 1.02
_SMALLEST_S = 1e-4
_LOG_BASE = math.log(_BUCKET_BASE)


def bucket_of(seconds: float) -> int:
    """Histogram bucket of an execution time (-1 for anything under 0.1 ms)."""
    if seconds < _SMALLEST_S:
        return -1
    return int(math.log(seconds / _SMALLEST_S) / _LOG_BASE)


def bucket_value(bucket: int) -> float:
    """Representative (geometric middle) value of a bucket."""
    if bucket < 0:
        return 0.0
    return float(_SMALLEST_S * _BUCKET_BASE ** (bucket + 0.5))


@dataclass
class Aggregate:
    """Counts and an execution-time histogram for one window and key."""

    events: int = 0
    successes: int = 0
    errors_by_type: Counter[str] = field(default_factory=Counter)
    exec_hist: Counter[int] = field(default_factory=Counter)
    dlq: int = 0

    def merge(self, other: Aggregate) -> None:
        self.events += other.events
        self.successes += other.successes
        self.errors_by_type.update(other.errors_by_type)
        self.exec_hist.update(other.exec_hist)
        self.dlq += other.dlq

    def percentile(self, q: float) -> float:
        """Execution time at quantile ``q`` (0 when no time was recorded)."""
        total = sum(self.exec_hist.values())
        if not total:
            return 0.0
        rank = q * (total - 1)
        seen = 0
        for bucket in sorted(self.exec_hist):
            seen += self.exec_hist[bucket]
            if seen > rank:
                return bucket_value(bucket)
        return bucket_value(max(self.exec_hist))

    def to_json(self) -> dict[str, Any]:
        return {"events": self.events, "successes": self.successes,
                "errors_by_type": dict(self.errors_by_type),
                "exec_hist": {str(k): v for k, v in self.exec_hist.items()}, "dlq": self.dlq}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Aggregate:
        return cls(int(data["events"]), int(data["successes"]), Counter(data["errors_by_type"]),
                   Counter({int(k): int(v) for k, v in data["exec_hist"].items()}),
                   int(data["dlq"]))


@dataclass(frozen=True, slots=True)
class WindowKey:
    """Which window: data source, command type ('' when none) and window start (epoch ms)."""

    source: str
    command_type: str
    start_ms: int

    @property
    def group(self) -> str:
        """Key that routes all windows of one (source, command type) to one partition."""
        return f"{self.source}|{self.command_type}"

    def table_key(self) -> str:
        return f"{self.group}|{self.start_ms}"

    @classmethod
    def parse(cls, text: str) -> WindowKey:
        source, command_type, start = text.rsplit("|", 2)
        return cls(source, command_type, int(start))


APPLIED_PREFIX = "@applied|"
"""Table keys of the window agent's progress markers (one per window-deltas partition);
window keys start with a source name, never with ``@``."""
LATE_PREFIX = "@late|"
"""Table keys of the late arrivals waiting for their partition's next tick."""


def applied_key(partition: int) -> str:
    """Table key holding the last window-deltas offset of ``partition`` folded in."""
    return f"{APPLIED_PREFIX}{partition}"


def late_key(partition: int) -> str:
    """Table key holding ``partition``'s late arrivals not written yet."""
    return f"{LATE_PREFIX}{partition}"


def is_window_key(table_key: str) -> bool:
    """False for the agent's own bookkeeping (markers, late arrivals), True for a window."""
    return not table_key.startswith("@")


def window_start_ms(when: datetime, window_s: int) -> int:
    """Start of the tumbling window holding ``when``, in epoch milliseconds."""
    ms = int(when.timestamp() * 1000)
    return ms - ms % (window_s * 1000)


@dataclass
class WindowDelta:
    """What one batch of one raw partition adds to one window."""

    key: WindowKey
    partition: str
    start_offset: int
    end_offset: int
    aggregate: Aggregate

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key.table_key(), "partition": self.partition,
                "start_offset": self.start_offset, "end_offset": self.end_offset,
                "aggregate": self.aggregate.to_json()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> WindowDelta:
        return cls(WindowKey.parse(data["key"]), str(data["partition"]),
                   int(data["start_offset"]), int(data["end_offset"]),
                   Aggregate.from_json(data["aggregate"]))


DELTAS_RECORD_BYTES = 256 * 1024
"""Deltas are packed into window-deltas records up to this size (Kafka's default limit
on a record is 1 MB)."""


def deltas_partition(delta: WindowDelta, partitions: int) -> int:
    """Window-deltas partition of a delta: the CRC-32 of its group, as librdkafka's
    default partitioner hashes a key, so a (source, command type) keeps its partition."""
    return zlib.crc32(delta.key.group.encode()) % partitions


def deltas_records(deltas: list[WindowDelta], partitions: int) -> Iterator[tuple[int, bytes]]:
    """One batch's deltas as (partition, window-deltas record) pairs: per partition, as
    few records of type ``deltas`` as fit :data:`DELTAS_RECORD_BYTES`."""
    by_partition: dict[int, list[bytes]] = {}
    for delta in deltas:
        by_partition.setdefault(deltas_partition(delta, partitions), []).append(
            json_bytes.dumps(delta.to_json()))
    for partition, encoded in by_partition.items():
        chunk: list[bytes] = []
        size = len(_HEAD) + len(_TAIL)
        for item in encoded:
            if chunk and size + len(item) + 1 > DELTAS_RECORD_BYTES:
                yield partition, _HEAD + b",".join(chunk) + _TAIL
                chunk, size = [], len(_HEAD) + len(_TAIL)
            chunk.append(item)
            size += len(item) + 1
        yield partition, _HEAD + b",".join(chunk) + _TAIL


_HEAD, _TAIL = b'{"type":"deltas","deltas":[', b"]}"


@dataclass
class WindowState:
    """A window's folded state: final base plus one pending delta per raw partition."""

    base: Aggregate = field(default_factory=Aggregate)
    pending: dict[str, tuple[int, int, Aggregate]] = field(default_factory=dict)
    closed: bool = False
    partition: int = -1
    """Partition of the window-deltas topic this window's deltas arrive on."""
    rewrite: bool = False
    """Closed, then changed by a late delta: its ``aggregates`` row is due again."""

    def apply(self, delta: WindowDelta) -> bool:
        """Fold ``delta`` in; False when it was a stale re-read and changed nothing."""
        current = self.pending.get(delta.partition)
        if current is not None:
            start, end, aggregate = current
            if delta.start_offset < start:
                return False
            if delta.start_offset > end:
                self.base.merge(aggregate)
        self.pending[delta.partition] = (delta.start_offset, delta.end_offset, delta.aggregate)
        return True

    def total(self) -> Aggregate:
        result = Aggregate()
        result.merge(self.base)
        for *_, aggregate in self.pending.values():
            result.merge(aggregate)
        return result

    def to_json(self) -> dict[str, Any]:
        return {"base": self.base.to_json(), "closed": self.closed, "partition": self.partition,
                "rewrite": self.rewrite,
                "pending": {p: [s, e, a.to_json()] for p, (s, e, a) in self.pending.items()}}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> WindowState:
        pending = {p: (int(s), int(e), Aggregate.from_json(a))
                   for p, (s, e, a) in data["pending"].items()}
        return cls(Aggregate.from_json(data["base"]), pending, bool(data["closed"]),
                   int(data["partition"]), bool(data.get("rewrite", False)))


def aggregate_row(key: WindowKey, window_s: int, total: Aggregate) -> dict[str, Any]:
    """The ``aggregates`` table row of a window."""
    start = datetime.fromtimestamp(key.start_ms / 1000, UTC)
    end = datetime.fromtimestamp((key.start_ms + window_s * 1000) / 1000, UTC)
    return {
        "window_start": start, "window_end": end, "source": key.source,
        "command_type": key.command_type, "events": total.events,
        "successes": total.successes,
        "success_rate": total.successes / total.events if total.events else 0.0,
        "errors_by_type": dict(total.errors_by_type),
        "execution_time_p50": total.percentile(0.50),
        "execution_time_p95": total.percentile(0.95),
        "execution_time_p99": total.percentile(0.99), "dlq_count": total.dlq,
    }


def late_row(delta: WindowDelta) -> dict[str, Any]:
    """The ``late_arrivals`` row of a delta whose window was closed and forgotten.

    Identified by the delta's raw partition and first offset, so a replay folds away.
    """
    return {
        "window_start": datetime.fromtimestamp(delta.key.start_ms / 1000, UTC),
        "source": delta.key.source, "command_type": delta.key.command_type,
        "raw_partition": delta.partition, "start_offset": delta.start_offset,
        "events": delta.aggregate.events, "successes": delta.aggregate.successes,
        "errors": sum(delta.aggregate.errors_by_type.values()),
        "dlq_count": delta.aggregate.dlq,
    }
