"""The store outbox: rows other processes want in ClickHouse, for the store's owner to insert.

In embedded mode only the worker may open the chdb store, so the trainer,
the CLI and the alert path append rows here (one JSON line each:
``{"table", "row"}``) and the worker inserts them every few seconds. The
tables fold replays by identity, so a line inserted twice changes nothing.
With a ClickHouse server the same path is used, which keeps one writer
design for both modes.

Examples
--------
>>> box = StoreOutbox(Settings(data_dir=Path("/tmp/st")))   # doctest: +SKIP
>>> box.append("alerts", alert_row)                          # doctest: +SKIP
>>> box.import_into(store)                                   # doctest: +SKIP
1
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime
from typing import Any

from streamtune.config import Settings
from streamtune.sinks import journal
from streamtune.sinks.disk import locked, write_json_atomic
from streamtune.sinks.store import ClickHouseStore, redacted_url

TABLES = frozenset({"alerts", "loop_decisions", "evaluations", "human_reviews"})
TIME_COLUMNS = frozenset({"time", "raised_at", "reviewed_at", "event_time"})


class StoreOutbox:
    """``<data_dir>/outbox/store.jsonl`` and the offset each store imported up to."""

    def __init__(self, settings: Settings) -> None:
        self.root = settings.data_dir / "outbox"
        self.path = self.root / "store.jsonl"
        self.state_path = self.root / "store.imported.json"

    def append(self, table: str, row: dict[str, Any]) -> None:
        """Queue one row for ``table`` (JSON-ready values; times as ISO strings)."""
        if table not in TABLES:
            raise ValueError(f"the outbox does not write {table!r} (only {sorted(TABLES)})")
        self.root.mkdir(parents=True, exist_ok=True)
        journal.append(self.path, {"table": table, "row": row})

    def import_into(self, store: ClickHouseStore) -> int:
        """Insert every row not imported into ``store`` yet; return how many."""
        if not self.path.exists():
            return 0
        key = f"{redacted_url(store.url)}#{store.database}"
        with locked(self.root / ".store.imported.lock"):
            offsets: dict[str, int] = (json.loads(self.state_path.read_text("utf-8"))
                                       if self.state_path.exists() else {})
            records, end = journal.read_from(self.path, offsets.get(key, 0))
            by_table: dict[tuple[str, tuple[str, ...]], list[list[Any]]] = defaultdict(list)
            for record in records:
                table, row = record.get("table"), record.get("row")
                if table not in TABLES or not isinstance(row, dict):
                    continue
                columns = tuple(sorted(row))
                by_table[(table, columns)].append([_value(c, row[c]) for c in columns])
            for (table, columns), rows in by_table.items():
                store.insert(table, rows, columns)
            if end != offsets.get(key, 0):
                write_json_atomic(self.state_path, {**offsets, key: end})
        return len(records)


def _value(column: str, value: Any) -> Any:
    if column in TIME_COLUMNS and isinstance(value, str):
        return datetime.fromisoformat(value)
    if isinstance(value, dict | list) and column not in {"recovery_steps"}:
        return json.dumps(value, sort_keys=True)
    return value
