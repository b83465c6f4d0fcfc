"""Simulated command rows as an Arrow table, as a dataset snapshot reads them."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pyarrow as pa

from streamtune.schemas.events import CommandEvent
from streamtune.schemas.text import normalize_text
from streamtune.simulator import Simulator

START = datetime(2026, 1, 1, tzinfo=UTC)
JSON_FIELDS = ("parameters", "context", "parameter_boundaries", "entity_tags")


def command_table(events: int, seed: int) -> pa.Table:
    rows = []
    for e in Simulator(seed, start=START).events(events):
        if not isinstance(e, CommandEvent):
            continue
        d = e.model_dump(mode="json")
        rows.append({
            "event_id": d["event_id"], "session_id": d["session_id"], "source": d["source"],
            "event_time": e.event_time.replace(microsecond=e.event_time.microsecond // 1000 * 1000),
            "raw_input": d["raw_input"], "normalized_input": normalize_text(d["raw_input"]),
            "command_type": d["command_type"], "success": d["success"],
            "execution_time": d["execution_time"], "intent_labels": d["intent_labels"],
            "complexity_score": d["complexity_score"],
            **{k: json.dumps(d[k]) for k in JSON_FIELDS}})
    return pa.Table.from_pylist(rows)
