"""The batch cleans and annotates its freshly decoded events in place (no copy): what it
holds must equal what the copying path gives, ``annotate(clean_event(decode_event(raw)))``
with the redactor's full rules on every value, fields given included."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from streamtune.schemas.decode import decode_event
from streamtune.schemas.events import CommandEvent, ErrorEvent, set_fields
from streamtune.simulator import Simulator, hostile_payloads
from streamtune.streams.worker.batch import BatchProcessor, RawRecord
from streamtune.transforms.annotation import annotate
from streamtune.transforms.cleaning import clean_event
from streamtune.transforms.redaction import Redactor
from tests.support.settings import make_settings

START = datetime(2026, 1, 1, tzinfo=UTC)


def _records() -> list[RawRecord]:
    """Simulated events, every seventh command or error with a secret, and hostile payloads."""
    records = []
    for offset, event in enumerate(Simulator(11, start=START).events(1200)):
        if offset % 7 == 0 and isinstance(event, CommandEvent):
            event = event.model_copy(update={
                "raw_input": f"{event.raw_input} password=hunter2", "normalized_input": None,
                "context": {**event.context, "db_password": "hunter2"}})
        if offset % 7 == 0 and isinstance(event, ErrorEvent):
            event = event.model_copy(update={"error_message": "failed: token=t0k3n99"})
        records.append(RawRecord("raw.x", 0, offset, event.model_dump_json().encode()))
    return records + [RawRecord("raw.commands", 1, i, raw)
                      for i, (raw, _) in enumerate(hostile_payloads(11, 200, start=START))]


def test_batch_events_equal_the_copying_path(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    records = _records()
    result = BatchProcessor(settings).process(records, augment=False)
    redactor = Redactor(settings.pipeline.redaction_patterns)
    by_position = {record.position: record for record in records}
    changed = 0
    for event, position in result.events:
        record = by_position[position]
        decoded = decode_event(record.value)
        if "event_id" not in decoded.model_fields_set:
            decoded = decoded.model_copy(update={"event_id": record.identity})
        reference = annotate(clean_event(decoded, redactor=redactor)[0])
        assert event.model_dump() == reference.model_dump()
        assert event.model_fields_set == reference.model_fields_set
        changed += reference is not decoded
    assert len(result.events) > 1000 and changed > 500
    dumped = repr([event for event, _ in result.events])
    assert "hunter2" not in dumped and "t0k3n99" not in dumped


def test_set_fields_writes_into_the_model_it_is_given() -> None:
    event = decode_event(b'{"kind": "command", "event_time": "2026-01-01T00:00:00Z",'
                         b' "source": "plc", "session_id": "s", "raw_input": "move arm",'
                         b' "command_type": "move", "success": true, "execution_time": 0.5}')
    assert "complexity_score" not in event.model_fields_set and event.complexity_score is None
    same = set_fields(event, {"complexity_score": 0.25, "intent_labels": ["motion", "move"]})
    assert same is event
    assert event.complexity_score == 0.25 and event.intent_labels == ["motion", "move"]
    assert {"complexity_score", "intent_labels"} <= event.model_fields_set
    assert event.model_dump()["complexity_score"] == 0.25
