"""A batch's rows reuse the JSON its secret screen wrote, and hold what they held before.

The events' rows come as columns per kind (``EventColumns``); they must hold what the
rows built event by event (``event_fields``) held, and give the same Arrow table.

``BatchResult.event_rows`` takes the JSON text of a free-form object from the
screen when the event kept that very object; it must equal ``json_text`` of
the stored value, and a value the cleaning replaced (a redacted secret) must
never take the JSON of the value it replaced.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

from streamtune.schemas.events import CommandEvent, ErrorEvent
from streamtune.simulator import Simulator, hostile_payloads
from streamtune.sinks.rows import (
    EventColumns,
    TableLayout,
    event_fields,
    json_text,
    row_by_row,
    table_for,
)
from streamtune.streams.worker.batch import BatchProcessor, RawRecord
from tests.support.settings import make_settings

START = datetime(2026, 1, 1, tzinfo=UTC)


def _records() -> tuple[list[RawRecord], int]:
    """Simulated events (every tenth command or error with a secret) and hostile payloads;
    and how many secrets were planted."""
    records, planted = [], 0
    for offset, event in enumerate(Simulator(8, start=START).events(1500)):
        if offset % 10 == 0 and isinstance(event, CommandEvent):
            event = event.model_copy(update={"context": {**event.context,
                                                         "db_password": "hunter2"}})
            planted += 1
        if offset % 10 == 0 and isinstance(event, ErrorEvent):
            event = event.model_copy(update={"correction": {"note": "token=t0k3n99"}})
            planted += 1
        records.append(RawRecord("raw.x", 0, offset, event.model_dump_json().encode()))
    records += [RawRecord("raw.commands", 1, i, raw)
                for i, (raw, _) in enumerate(hostile_payloads(8, 300, start=START))]
    return records, planted


def test_rows_reuse_the_screened_json_and_equal_json_text(tmp_path: Path) -> None:
    records, planted = _records()
    result = BatchProcessor(make_settings(tmp_path)).process(records, augment=False)
    rows = row_by_row(result.event_rows())
    plain = row_by_row(dataclasses.replace(result, serialised={}).event_rows())
    reused = 0
    for (table, fields), (plain_table, plain_fields) in zip(rows, plain, strict=True):
        assert table == plain_table and fields.keys() == plain_fields.keys()
        for name, value in fields.items():
            reference = plain_fields[name]
            if isinstance(value, str) and isinstance(reference, dict):
                assert value == json_text(reference)
                reused += 1
            else:
                assert value == reference or value != value  # NaN in a float column
    assert reused > 1000
    dumped = repr(rows)
    assert "hunter2" not in dumped and "t0k3n99" not in dumped
    assert dumped.count("[REDACTED:") >= planted > 50


def test_event_columns_hold_each_events_fields_and_position(tmp_path: Path) -> None:
    records, _ = _records()
    result = BatchProcessor(make_settings(tmp_path)).process(records, augment=False)
    columnar = result.event_rows()
    assert {table for table, _ in columnar} == {table_for(e.kind) for e, _ in result.events} \
        | {"dead_letters"}
    by_table = defaultdict(list)  # what each table's rows were, built event by event
    for event, position in result.events:
        by_table[table_for(event.kind)].append(event_fields(event, position))
    for table, data in columnar:
        if table == "dead_letters":
            continue
        assert isinstance(data, EventColumns)
        expected = by_table[table]
        assert len(data) == len(expected)
        for row, fields in zip(data.rows(), expected, strict=True):
            assert row.keys() == fields.keys()
            for name, value in row.items():
                if isinstance(fields[name], dict | list) and isinstance(value, str):
                    assert value == json_text(fields[name])  # the screen's JSON
                else:
                    assert value is fields[name] or value == fields[name]


def test_columns_give_the_arrow_table_their_rows_give(tmp_path: Path) -> None:
    records, _ = _records()
    result = BatchProcessor(make_settings(tmp_path)).process(records, augment=False)
    layout = TableLayout(
        "commands",
        ("event_id", "event_time", "raw_input", "context", "intent_labels",
         "complexity_score", "kafka_topic", "kafka_offset", "not_a_field"),
        ("UUID", "DateTime64(3, 'UTC')", "String", "String", "Array(LowCardinality(String))",
         "Nullable(Float32)", "LowCardinality(String)", "Int64", "String"))
    (commands,) = [data for table, data in result.event_rows() if table == "commands"]
    assert isinstance(commands, EventColumns) and len(commands) > 500
    assert layout.arrow(commands).equals(layout.arrow(commands.rows()))
    assert set(layout.arrow(commands).column("not_a_field").to_pylist()) == {""}


def test_a_column_a_row_does_not_fill_gets_its_type_default() -> None:
    layout = TableLayout("augmentation_qc", ("technique", "generated", "skipped", "batch_rejected"),
                         ("LowCardinality(String)", "UInt32", "UInt32", "Bool"))
    table = layout.arrow([{"technique": "token_drop", "generated": 3},  # written before
                          {"technique": "skipped: rare", "skipped": 2}])  # `skipped` existed
    assert table.to_pylist() == [
        {"technique": "token_drop", "generated": 3, "skipped": 0, "batch_rejected": False},
        {"technique": "skipped: rare", "generated": 0, "skipped": 2, "batch_rejected": False}]
