"""The window agent folds every window-deltas record exactly once, whatever faust
re-delivers or skips: re-delivered records are ignored by the table's progress
marker, and records faust never handed over are read back from the log. Its table
writes are held until the partition's next tick: a restart drops them, and the
records they came from are read back from the log too."""

from __future__ import annotations

import asyncio
import json
import random
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from streamtune.prometheus import PipelineMetrics
from streamtune.streams.worker.app import MAX_HELD_WRITES, WINDOW_RETENTION_S, WindowAgent
from streamtune.streams.worker.windows import (
    Aggregate,
    WindowDelta,
    WindowKey,
    WindowState,
    applied_key,
    deltas_records,
    is_window_key,
)

WINDOW_S = 60


def delta(start_ms: int, raw_offset: int, events: int, raw_partition: int = 0,
          command_type: str = "open_valve") -> WindowDelta:
    return WindowDelta(WindowKey("commands", command_type, start_ms),
                       f"raw.commands/{raw_partition}", raw_offset, raw_offset,
                       Aggregate(events=events))


def delta_record(start_ms: int, raw_offset: int, events: int,
                 command_type: str = "open_valve") -> bytes:
    [(_, record)] = deltas_records(
        [delta(start_ms, raw_offset, events, command_type=command_type)], 1)
    return record


def tick_record(watermark_ms: int, idle_s: float = 0.0) -> bytes:
    return json.dumps({"type": "tick", "watermark_ms": watermark_ms, "idle_s": idle_s}).encode()


class CountingTable(dict[str, Any]):
    """A plain-dict table that counts writes per key (each is a changelog record)."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: dict[str, int] = {}

    def __setitem__(self, key: str, value: Any) -> None:
        self.writes[key] = self.writes.get(key, 0) + 1
        super().__setitem__(key, value)


class Harness:
    """A WindowAgent over a plain dict, a log of records and a list of written rows."""

    def __init__(self, log: list[bytes]) -> None:
        self.log = log
        self.table = CountingTable()
        self.written: list[tuple[WindowKey, int, bool]] = []
        self.reads: list[tuple[int, int, int]] = []
        self.inserts = 0
        self.late: list[dict[str, Any]] = []
        self.agent = self.new_agent()

    def new_agent(self, max_held: int = MAX_HELD_WRITES) -> WindowAgent:
        """A fresh agent on the same table (a restarted worker after recovery)."""

        async def write(closed: list[tuple[WindowKey, WindowState]],
                        rewritten: list[tuple[WindowKey, WindowState]],
                        late: list[dict[str, Any]]) -> None:
            self.inserts += 1
            self.late += late
            self.written += [(key, state.total().events, False) for key, state in closed]
            self.written += [(key, state.total().events, True) for key, state in rewritten]

        def read_missed(partition: int, start: int, end: int) -> list[tuple[int, bytes]]:
            self.reads.append((partition, start, end))
            return [(o, self.log[o]) for o in range(start, min(end, len(self.log)))]

        return WindowAgent(self.table, window_s=WINDOW_S, idle_close_s=5.0, write=write,
                           read_missed=read_missed, metrics=PipelineMetrics(),
                           max_held=max_held)

    def deliver(self, offsets: list[int]) -> None:
        async def run() -> None:
            for offset in offsets:
                await self.agent.handle(0, offset, self.log[offset])
        asyncio.run(run())

    def events(self) -> dict[int, int]:
        return {WindowKey.parse(k).start_ms: WindowState.from_json(v).total().events
                for k, v in self.table.items() if is_window_key(k)}


def stream_log(n: int) -> tuple[list[bytes], dict[int, int]]:
    """n deltas, one per raw offset, over three windows, with a tick every fifth."""
    log: list[bytes] = []
    expected: dict[int, int] = {}
    for raw_offset in range(n):
        start = (raw_offset % 3) * WINDOW_S * 1000
        log.append(delta_record(start, raw_offset, 1))
        expected[start] = expected.get(start, 0) + 1
        if raw_offset % 5 == 4:
            log.append(tick_record(0))
    return log, expected


def test_records_faust_never_delivered_are_read_back_in_order() -> None:
    log, expected = stream_log(30)
    harness = Harness(log)
    harness.deliver(list(range(10)))
    assert harness.table[applied_key(0)]["offset"] == 5  # written at the tick (offset 5)
    # a restarted worker: faust resumes past records it fetched and dropped, and the
    # writes of 6..9, held for the next tick, are gone
    harness.agent = harness.new_agent()
    harness.deliver(list(range(20, len(log))))
    assert harness.reads == [(0, 6, 20)]
    assert harness.events() == expected
    assert harness.table[applied_key(0)]["offset"] == len(log) - 1


def test_a_record_delivered_twice_is_folded_once() -> None:
    closing = 3 * WINDOW_S * 1000
    log = [delta_record(0, 0, 3), delta_record(0, 1, 4), tick_record(closing)]
    harness = Harness(log)
    harness.deliver([0, 1, 2, 1, 0, 1, 2])
    assert harness.events() == {0: 7}
    assert harness.reads == []
    # the window was written once when it closed, not again as "late" on each repeat
    assert harness.written == [(WindowKey("commands", "open_valve", 0), 7, False)]


def test_a_missing_marker_reads_the_partition_from_its_start() -> None:
    log, expected = stream_log(10)  # ending with a tick, which writes what it held
    harness = Harness(log)
    harness.deliver([len(log) - 1])
    assert harness.reads == [(0, 0, len(log) - 1)]
    assert harness.events() == expected


def test_closing_tick_writes_each_window_once_and_skipped_ticks_are_read_back() -> None:
    log = [delta_record(0, 0, 2), delta_record(0, 1, 1),
           tick_record(3 * WINDOW_S * 1000), tick_record(3 * WINDOW_S * 1000)]
    harness = Harness(log)
    harness.deliver([0, 3, 2])  # faust skipped 1 and 2; 2 comes again late
    assert harness.written == [(WindowKey("commands", "open_valve", 0), 3, False)]
    assert harness.events() == {0: 3}


def test_late_deltas_are_rewritten_by_the_next_tick_in_one_insert_even_after_a_restart() -> None:
    window = 60_000
    closing = 3 * window
    log = [delta_record(0, 0, 2), delta_record(window, 1, 1), tick_record(closing),
           delta_record(0, 2, 5), delta_record(window, 3, 4), delta_record(0, 4, 1),
           tick_record(closing), tick_record(closing)]
    harness = Harness(log)
    harness.deliver([0, 1, 2])
    assert harness.inserts == 1
    harness.deliver([3, 4, 5])  # three late deltas for two closed windows: nothing written yet
    assert harness.inserts == 1
    harness.agent = harness.new_agent()  # a restart: the rewrite marks, held, are read back
    harness.deliver([6])
    late = {(key.start_ms, events) for key, events, is_late in harness.written if is_late}
    assert late == {(0, 8), (window, 5)}
    assert harness.inserts == 2
    harness.deliver([7])  # nothing left to rewrite
    assert harness.inserts == 2
    assert harness.events() == {0: 8, window: 5}


def test_a_delta_for_a_forgotten_window_is_kept_as_a_late_arrival_not_a_partial_row() -> None:
    window = 60_000
    far = (2 * WINDOW_RETENTION_S + 10 * WINDOW_S) * 1000  # the first window is long forgotten
    log = [delta_record(0, 0, 7), tick_record(3 * window), tick_record(far),
           delta_record(0, 1, 2), delta_record(far, 2, 1), tick_record(far), tick_record(far)]
    harness = Harness(log)
    harness.deliver([0, 1, 2, 3, 4])
    assert harness.written == [(WindowKey("commands", "open_valve", 0), 7, False)]
    harness.agent = harness.new_agent()  # a restart: the late arrival, held, is read back
    harness.deliver([5])
    assert harness.events() == {far: 1}  # the first window left the state
    assert [(row["events"], row["start_offset"]) for row in harness.late] == [(2, 1)]
    assert harness.written == [(WindowKey("commands", "open_valve", 0), 7, False)]  # kept
    harness.deliver([6])
    assert len(harness.late) == 1  # written once


def test_a_restarted_agent_knows_its_watermark_before_the_first_tick() -> None:
    far = (2 * WINDOW_RETENTION_S + 10 * WINDOW_S) * 1000
    log = [delta_record(0, 0, 7), tick_record(3 * 60_000), tick_record(far),
           delta_record(0, 1, 2), tick_record(far)]
    harness = Harness(log)
    harness.deliver([0, 1, 2])
    harness.agent = harness.new_agent()  # restarted: no tick seen yet
    harness.deliver([3, 4])
    assert [(row["events"], row["start_offset"]) for row in harness.late] == [(2, 1)]
    assert harness.written == [(WindowKey("commands", "open_valve", 0), 7, False)]


@given(st.integers(5, 60), st.integers(0, 10_000))
@settings(max_examples=60, deadline=None)
def test_any_delivery_faust_makes_folds_every_record_once(n: int, seed: int) -> None:
    """Deliveries skip ahead, go back and repeat; restarts happen in between."""
    rng = random.Random(seed)
    log, expected = stream_log(n)
    log.append(tick_record(0))  # every partition gets a tick each second
    harness = Harness(log)
    position = 0
    while position < len(log):
        if rng.random() < 0.2:
            harness.agent = harness.new_agent()
            position = max(0, position - rng.randint(0, 8))  # re-read from an old commit
        step = rng.randint(1, 6)
        chunk = list(range(position, min(position + step, len(log))))
        if len(chunk) > 1 and rng.random() < 0.3:
            chunk = chunk[rng.randint(1, len(chunk) - 1):]  # faust dropped the head
        harness.deliver(chunk)
        position += step
    harness.deliver([len(log) - 1])  # the stream goes on: at least the last record arrives
    assert harness.events() == expected


def test_a_record_of_many_deltas_writes_each_window_once() -> None:
    """One batch's deltas for a window, from six raw partitions, in one record."""
    deltas = [delta(0, 10, p + 1, raw_partition=p) for p in range(6)]
    deltas += [delta(WINDOW_S * 1000, 11, 2, raw_partition=p) for p in range(6)]
    [(_, record)] = deltas_records(deltas, 1)
    harness = Harness([record])
    harness.deliver([0])
    assert harness.table.writes == {}  # held for the tick
    harness.log.append(tick_record(0))
    harness.deliver([1])
    assert harness.events() == {0: 21, WINDOW_S * 1000: 12}
    window_writes = {k: n for k, n in harness.table.writes.items() if is_window_key(k)}
    assert window_writes == {"commands|open_valve|0": 1,
                             f"commands|open_valve|{WINDOW_S * 1000}": 1}
    assert harness.table.writes[applied_key(0)] == 1
    assert harness.table[applied_key(0)]["offset"] == 1


def test_the_agent_folds_into_what_the_table_holds_after_a_recovery_not_what_it_wrote() -> None:
    """The agent reuses the states it wrote while the table holds those very values; a
    recovery that puts other values there (here: the same windows with more events, as
    another worker's changelog would) is what later deltas fold into."""
    log = [delta_record(0, offset, 1) for offset in range(3)] + [tick_record(0)]
    log += [delta_record(0, offset, 1) for offset in range(3, 6)] + [tick_record(0)]
    harness = Harness(log)
    harness.deliver([0, 1, 2, 3])
    assert harness.events() == {0: 3}
    key = WindowKey("commands", "open_valve", 0).table_key()
    restored = WindowState.from_json(json.loads(json.dumps(harness.table[key])))
    restored.base.merge(Aggregate(events=10))  # what the changelog held beyond this agent
    harness.table[key] = restored.to_json()
    harness.deliver([4, 5, 6, 7])
    assert harness.events() == {0: 16}


class ReadLoggingTable(CountingTable):
    """Also logs the keys read and whether the whole table was walked."""

    def __init__(self) -> None:
        super().__init__()
        self.read: list[str] = []

    def get(self, key: str, default: Any = None) -> Any:
        self.read.append(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> Any:
        self.read.append(key)
        return super().__getitem__(key)

    def items(self) -> Any:
        self.read.append("<all>")
        return super().items()


def test_a_tick_reads_only_its_own_partitions_windows() -> None:
    harness = Harness([])
    harness.table = ReadLoggingTable()
    harness.agent = harness.new_agent()
    closing = 3 * WINDOW_S * 1000

    async def run() -> None:
        for partition in range(3):
            for offset, command_type in enumerate(["open_valve", "close_valve"]):
                record = delta_record(0, offset, 1, f"{command_type}{partition}")
                await harness.agent.handle(partition, offset, record)
            await harness.agent.handle(partition, 2, tick_record(0))  # written
        harness.table.read.clear()
        await harness.agent.handle(0, 3, tick_record(closing))

    asyncio.run(run())
    windows_read = {key for key in harness.table.read if not key.startswith("@")}
    assert windows_read == {"commands|open_valve0|0", "commands|close_valve0|0"}
    assert {key.command_type for key, _, _ in harness.written} == {"open_valve0", "close_valve0"}


def test_windows_a_recovery_restores_are_closed_by_their_partitions_next_tick() -> None:
    """faust's recovery after a rebalance drops the revoked partitions' windows and
    restores the assigned ones': the agent never wrote them, and the table may keep
    its size, so the recovery callback makes the agent index the table again."""
    log = [delta_record(0, 0, 2), tick_record(0),
           tick_record(3 * WINDOW_S * 1000)]
    harness = Harness(log)
    harness.deliver([0, 1])
    del harness.table["commands|open_valve|0"]  # revoked
    restored = WindowState(Aggregate(events=5), partition=0)
    harness.table["commands|close_valve|0"] = restored.to_json()  # assigned and restored
    asyncio.run(harness.agent.table_recovered())
    harness.deliver([2])
    assert harness.written == [(WindowKey("commands", "close_valve", 0), 5, False)]


def test_windows_put_in_the_table_by_anything_else_are_indexed_too() -> None:
    log = [delta_record(0, 0, 2), tick_record(0),
           tick_record(3 * WINDOW_S * 1000)]
    harness = Harness(log)
    harness.deliver([0, 1])
    harness.table["commands|close_valve|0"] = WindowState(Aggregate(events=5),
                                                          partition=0).to_json()
    harness.deliver([2])
    assert set(harness.written) == {(WindowKey("commands", "close_valve", 0), 5, False),
                                    (WindowKey("commands", "open_valve", 0), 2, False)}


def test_a_window_changed_and_closed_between_two_ticks_is_written_once() -> None:
    """Each write to the table is a changelog record: held until the tick, three deltas
    and the close of one window make one write, and the marker one."""
    closing = 3 * WINDOW_S * 1000
    log = [delta_record(0, 0, 2), delta_record(0, 1, 3), delta_record(0, 2, 4),
           tick_record(closing)]
    harness = Harness(log)
    harness.deliver([0, 1, 2])
    assert harness.table.writes == {}
    harness.deliver([3])
    assert harness.table.writes == {"commands|open_valve|0": 1, applied_key(0): 1}
    assert harness.written == [(WindowKey("commands", "open_valve", 0), 9, False)]
    assert WindowState.from_json(harness.table["commands|open_valve|0"]).closed


def test_writes_held_past_the_bound_are_written_without_a_tick() -> None:
    log = [delta_record(0, n, 1, f"type{n}") for n in range(5)]
    harness = Harness(log)
    harness.agent = harness.new_agent(max_held=2)
    harness.deliver([0, 1, 2, 3, 4])
    window_writes = {k for k in harness.table.writes if is_window_key(k)}
    assert window_writes == {f"commands|type{n}|0" for n in range(4)}  # 2 held, + marker
    assert harness.table[applied_key(0)]["offset"] == 3
