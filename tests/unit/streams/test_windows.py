"""Window folding stays exact under crashes, redone batches and re-read deltas."""

from __future__ import annotations

import json
import random
import zlib
from collections import Counter
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from streamtune.streams.worker.windows import (
    DELTAS_RECORD_BYTES,
    Aggregate,
    WindowDelta,
    WindowKey,
    WindowState,
    aggregate_row,
    bucket_of,
    bucket_value,
    deltas_records,
    window_start_ms,
)

KEY = WindowKey("commands", "open_valve", 0)


def run_stream(events: list[int], seed: int) -> tuple[dict[int, WindowState], Counter[int]]:
    """Feed per-offset events (each names its window) through batches that crash and redo.

    Models the ingest contract: a batch's deltas are published, then (unless it
    crashes first) its offsets committed; after a crash the next batch starts at the
    committed offset with other boundaries. The agent may also crash and re-read
    its input from an earlier offset, in log order.
    """
    rng = random.Random(seed)
    states: dict[int, WindowState] = {}
    published: list[WindowDelta] = []
    committed = 0
    while committed < len(events):
        end = min(committed + rng.randint(1, 7), len(events)) - 1
        per_window: dict[int, Aggregate] = {}
        for offset in range(committed, end + 1):
            per_window.setdefault(events[offset], Aggregate()).events += 1
        for window, aggregate in per_window.items():
            published.append(WindowDelta(WindowKey("c", "t", window), "raw/0", committed,
                                         end, aggregate))
            states.setdefault(window, WindowState()).apply(published[-1])
        if rng.random() < 0.3:  # crash before the commit: this batch is redone
            continue
        committed = end + 1
        if published and rng.random() < 0.2:  # the agent re-reads a suffix of its input
            for delta in published[rng.randrange(len(published)):]:
                states[delta.key.start_ms].apply(delta)
    return states, Counter(events)


@given(st.lists(st.integers(0, 3), min_size=1, max_size=80), st.integers(0, 10_000))
@settings(max_examples=300)
def test_each_event_counts_once_whatever_crashes(events: list[int], seed: int) -> None:
    states, expected = run_stream(events, seed)
    assert {w: s.total().events for w, s in states.items()} == dict(expected)


def test_stale_deltas_are_ignored_and_redone_ones_replace() -> None:
    state = WindowState()
    first = WindowDelta(KEY, "p/0", 10, 19, Aggregate(events=5))
    assert state.apply(first)
    assert state.apply(WindowDelta(KEY, "p/0", 10, 14, Aggregate(events=2)))  # redone, shorter
    assert state.total().events == 2
    assert state.apply(WindowDelta(KEY, "p/0", 15, 30, Aggregate(events=4)))
    assert state.total().events == 6
    assert not state.apply(WindowDelta(KEY, "p/0", 10, 14, Aggregate(events=2)))  # stale
    assert state.total().events == 6
    assert state.apply(WindowDelta(KEY, "p/1", 0, 3, Aggregate(events=1)))  # other partition
    assert state.total().events == 7
    assert WindowState.from_json(state.to_json()).total() == state.total()


def test_an_uncommitted_batch_redone_with_other_boundaries_is_dropped() -> None:
    state = WindowState()
    state.apply(WindowDelta(KEY, "p/0", 100, 199, Aggregate(events=8)))  # never committed
    state.apply(WindowDelta(KEY, "p/0", 151, 220, Aggregate(events=8)))  # redo started at 100
    assert state.total().events == 8


def test_percentiles_come_within_one_bucket() -> None:
    rng = random.Random(3)
    times = sorted(rng.lognormvariate(0, 1.5) for _ in range(2000))
    aggregate = Aggregate()
    for t in times:
        aggregate.exec_hist[bucket_of(t)] += 1
    for q in (0.5, 0.95, 0.99):
        exact = times[int(q * (len(times) - 1))]
        assert abs(aggregate.percentile(q) - exact) <= 0.011 * exact
    assert bucket_value(bucket_of(0.0)) == 0.0 and Aggregate().percentile(0.5) == 0.0


def test_aggregate_rows_and_window_starts() -> None:
    when = datetime(2026, 11, 25, 10, 30, 45, tzinfo=UTC)
    start = window_start_ms(when, 60)
    assert datetime.fromtimestamp(start / 1000, UTC) == datetime(2026, 11, 25, 10, 30, tzinfo=UTC)
    total = Aggregate(events=4, successes=3, errors_by_type=Counter(timeout=2), dlq=1)
    row = aggregate_row(WindowKey("commands", "x", start), 60, total)
    assert row["success_rate"] == 0.75 and row["dlq_count"] == 1
    assert (row["window_end"] - row["window_start"]).total_seconds() == 60
    assert WindowKey.parse(WindowKey("errors", "", start).table_key()) == WindowKey(
        "errors", "", start)


def test_deltas_are_packed_per_partition_into_records_under_the_size_limit() -> None:
    """Every delta travels once, on the partition its group hashes to (CRC-32, as
    librdkafka's default partitioner does with a key), in records under the limit."""
    hist = Counter({b: 1 for b in range(600)})  # a wide histogram: ~6 KB per delta
    deltas = [WindowDelta(WindowKey(source, f"type{t}", w * 60_000), f"raw.{source}/{p}", 1, 9,
                          Aggregate(events=1, exec_hist=hist))
              for source in ("commands", "errors") for t in range(8) for w in range(12)
              for p in range(3)]
    records = list(deltas_records(deltas, 6))
    seen: list[tuple[str, str]] = []
    for partition, record in records:
        assert len(record) <= DELTAS_RECORD_BYTES
        message = json.loads(record)
        assert message["type"] == "deltas"
        for item in message["deltas"]:
            parsed = WindowDelta.from_json(item)
            assert zlib.crc32(parsed.key.group.encode()) % 6 == partition
            assert parsed.aggregate.exec_hist == hist
            seen.append((parsed.key.table_key(), parsed.partition))
    assert sorted(seen) == sorted((d.key.table_key(), d.partition) for d in deltas)
    assert len(records) > len({p for p, _ in records})  # some partition needed several
