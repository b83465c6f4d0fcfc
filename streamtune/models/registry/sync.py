"""Import the registry's outbox into ClickHouse (``model_versions``, ``model_events``).

Only the process that owns the store calls this (in embedded mode, the
worker; by hand, ``streamtune models sync`` while no worker runs). The byte
offset reached is kept per store in ``<data_dir>/models/outbox.imported.json``
so a call reads only new lines; records already in the store (by
``record_id``) are skipped, so importing twice inserts nothing.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from streamtune.config import Settings
from streamtune.models.registry.registry import Registry
from streamtune.sinks import journal
from streamtune.sinks.disk import locked, write_json_atomic
from streamtune.sinks.store import ClickHouseStore, redacted_url

STATE_FILE = "outbox.imported.json"

EVENT_COLUMNS = ("record_id", "time", "name", "version", "event", "previous_version", "reason")
VERSION_COLUMNS = ("name", "version", "sha256", "created_at", "dataset_name", "dataset_id",
                   "hyperparameters", "metrics", "architecture", "parent", "path")


def _event_row(record: dict[str, Any]) -> list[Any]:
    return [record["record_id"], datetime.fromisoformat(record["time"]), record["name"],
            record["version"], record["event"], record.get("previous") or "",
            record.get("reason", "")]


def _version_row(model: dict[str, Any]) -> list[Any]:
    dataset = model.get("dataset", {})
    return [model["name"], model["version"], model["sha256"],
            datetime.fromisoformat(model["created_at"]), str(dataset.get("name", "")),
            str(dataset.get("id", "")), json.dumps(model["hyperparameters"], sort_keys=True),
            json.dumps(model["metrics"], sort_keys=True),
            json.dumps(model["architecture"], sort_keys=True), model.get("parent") or "",
            model.get("path", "")]


def import_outbox(store: ClickHouseStore, settings: Settings) -> int:
    """Insert outbox records not yet in ``store``; return how many were new."""
    registry = Registry(settings)
    state_path = registry.root / STATE_FILE
    key = f"{redacted_url(store.url)}#{store.database}"
    with locked(registry.root / f".{STATE_FILE}.lock"):
        offsets: dict[str, int] = (json.loads(state_path.read_text(encoding="utf-8"))
                                   if state_path.exists() else {})
        records, end = journal.read_from(registry.outbox_path, offsets.get(key, 0))
        ids = [r["record_id"] for r in records]
        known = {row[0] for row in store.query_rows(
            f"SELECT record_id FROM {store.table('model_events')} "  # noqa: S608
            "WHERE record_id IN {ids:Array(String)}", {"ids": ids})} if ids else set()
        fresh = [r for r in records if r["record_id"] not in known]
        store.insert("model_versions", [_version_row(r["model"]) for r in fresh
                                        if r["event"] == "registered"], VERSION_COLUMNS)
        store.insert("model_events", [_event_row(r) for r in fresh], EVENT_COLUMNS)
        if end != offsets.get(key, 0):
            write_json_atomic(state_path, {**offsets, key: end})
    return len(fresh)
