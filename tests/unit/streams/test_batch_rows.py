"""A batch's rows reuse the JSON its secret screen wrote, and hold what they held before.

``BatchResult.event_rows`` takes the JSON text of a free-form object from the
screen when the event kept that very object; it must equal ``json_text`` of
the stored value, and a value the cleaning replaced (a redacted secret) must
never take the JSON of the value it replaced.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

from streamtune.schemas.events import CommandEvent, ErrorEvent
from streamtune.simulator import Simulator, hostile_payloads
from streamtune.sinks.rows import TableLayout, json_text
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
    rows = result.event_rows()
    plain = dataclasses.replace(result, serialised={}).event_rows()
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


def test_a_column_a_row_does_not_fill_gets_its_type_default() -> None:
    layout = TableLayout("augmentation_qc", ("technique", "generated", "skipped", "batch_rejected"),
                         ("LowCardinality(String)", "UInt32", "UInt32", "Bool"))
    table = layout.arrow([{"technique": "token_drop", "generated": 3},  # written before
                          {"technique": "skipped: rare", "skipped": 2}])  # `skipped` existed
    assert table.to_pylist() == [
        {"technique": "token_drop", "generated": 3, "skipped": 0, "batch_rejected": False},
        {"technique": "skipped: rare", "generated": 0, "skipped": 2, "batch_rejected": False}]
