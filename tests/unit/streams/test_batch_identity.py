"""An event sent without ``event_id`` gets an id from its record's position, so a replay
of the record (after a crash) is recognised and stored once."""

from __future__ import annotations

import json
from pathlib import Path

from streamtune.simulator import Simulator
from streamtune.streams.worker.batch import BatchProcessor, RawRecord
from tests.support.settings import make_settings


def _without_id() -> bytes:
    event = next(e for e in Simulator(3).events(20) if e.kind == "command")
    payload = json.loads(event.model_dump_json())
    del payload["event_id"]
    return json.dumps(payload).encode()


def test_missing_event_id_comes_from_the_record_position(tmp_path: Path) -> None:
    value = _without_id()
    first = BatchProcessor(make_settings(tmp_path)).process(
        [RawRecord("raw.commands", 2, 41, value), RawRecord("raw.commands", 2, 42, value)])
    replay = BatchProcessor(make_settings(tmp_path)).process(
        [RawRecord("raw.commands", 2, 41, value)])
    ids = [str(event.event_id) for event, _ in first.events]
    assert len(set(ids)) == 2  # two sends are two events
    assert str(replay.events[0][0].event_id) == ids[0]  # the same record, the same id


def test_a_replay_within_the_horizon_is_dropped(tmp_path: Path) -> None:
    processor = BatchProcessor(make_settings(tmp_path))
    record = RawRecord("raw.commands", 0, 7, _without_id())
    assert len(processor.process([record], now=100.0).events) == 1
    again = processor.process([record], now=101.0)
    assert again.events == [] and again.duplicates == 1


def test_a_sent_event_id_is_kept(tmp_path: Path) -> None:
    event = next(e for e in Simulator(3).events(20) if e.kind == "command")
    result = BatchProcessor(make_settings(tmp_path)).process(
        [RawRecord("raw.commands", 0, 1, event.model_dump_json().encode())])
    assert result.events[0][0].event_id == event.event_id


def test_replays_and_reused_ids_within_one_batch_between_bad_records(tmp_path: Path) -> None:
    # de-duplication judges a whole batch at once: each verdict must land on its record,
    # with refused records (which are never judged) in between
    event = next(e for e in Simulator(3).events(20) if e.kind == "command")
    value = event.model_dump_json().encode()
    reused = json.dumps({**json.loads(value), "raw_input": "close valve v9"}).encode()
    values = [b"{oops", value, b"[]", value, reused, b"{oops"]
    result = BatchProcessor(make_settings(tmp_path)).process(
        [RawRecord("raw.commands", 0, offset, v) for offset, v in enumerate(values)])
    assert [(e.event_id, position[2]) for e, position in result.events] == [
        (event.event_id, 1)]
    assert result.duplicates == 1
    assert [(d.offset, d.category) for d in result.dead_letters] == [
        (0, "json"), (2, "validation"), (4, "conflict"), (5, "json")]
