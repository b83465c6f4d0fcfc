"""The store outbox: rows other processes want in ClickHouse, for the store's owner to insert.

In embedded mode only the worker may open the chdb store, so the trainer,
the CLI, the alert path and the augment stage append rows here (one JSON line
each: ``{"table", "row"}``; the augment stage a batch at a time) and the worker
inserts them every few seconds. Augmentation rows are inserted as the worker
used to write them itself (:class:`~streamtune.sinks.rows.RowWriter`: the
table's columns, JSON text for free-form values). The
tables fold replays by identity, so a line inserted twice changes nothing.
Once the file has grown past ``rotate_bytes`` and every store that imports it
has read it all, it is emptied (under the writers' lock), so it does not grow
for ever.
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

from pydantic import BaseModel

from streamtune import json_bytes
from streamtune.config import Settings
from streamtune.sinks import journal
from streamtune.sinks.disk import locked, write_json_atomic
from streamtune.sinks.rows import RowWriter
from streamtune.sinks.store import ClickHouseStore, redacted_url

LAYOUT_TABLES = frozenset({"augmented", "augmentation_qc", "second_opinions"})
"""Tables whose rows are written with the table's layout (extra fields ignored)."""
TABLES = frozenset({"alerts", "loop_decisions", "evaluations", "human_reviews"}) | LAYOUT_TABLES
TIME_COLUMNS = frozenset({"time", "raised_at", "reviewed_at", "event_time"})
ROTATE_BYTES = 64 << 20


class StoreOutbox:
    """``<data_dir>/outbox/store.jsonl`` and the offset each store imported up to."""

    def __init__(self, settings: Settings, *, rotate_bytes: int = ROTATE_BYTES) -> None:
        self.root = settings.data_dir / "outbox"
        self.path = self.root / "store.jsonl"
        self.state_path = self.root / "store.imported.json"
        self.rotate_bytes = rotate_bytes

    def append(self, table: str, row: dict[str, Any]) -> None:
        """Queue one row for ``table`` (JSON-ready values; times as ISO strings)."""
        if table not in TABLES:
            raise ValueError(f"the outbox does not write {table!r} (only {sorted(TABLES)})")
        self.root.mkdir(parents=True, exist_ok=True)
        journal.append(self.path, {"table": table, "row": row})

    def append_many(self, rows: list[tuple[str, dict[str, Any]]]) -> None:
        """Queue a batch of ``(table, row)`` pairs in one write and one fsync; values
        may be times, UUIDs and pydantic models (written as JSON)."""
        unknown = {table for table, _ in rows} - TABLES
        if unknown:
            raise ValueError(f"the outbox does not write {sorted(unknown)} "
                             f"(only {sorted(TABLES)})")
        self.root.mkdir(parents=True, exist_ok=True)
        journal.append_many(self.path, [json_bytes.dumps({"table": table, "row": row},
                                                     default=_jsonable)
                                        for table, row in rows])

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
            laid_out: list[tuple[str, dict[str, Any]]] = []
            for record in records:
                table, row = record.get("table"), record.get("row")
                if table not in TABLES or not isinstance(row, dict):
                    continue
                if table in LAYOUT_TABLES:
                    laid_out.append((table, {c: _time(c, v) for c, v in row.items()}))
                    continue
                columns = tuple(sorted(row))
                by_table[(table, columns)].append([_value(c, row[c]) for c in columns])
            for (table, columns), rows in by_table.items():
                store.insert(table, rows, columns)
            RowWriter(store).write(laid_out)
            offsets[key] = end
            if not self._rotated(offsets):
                write_json_atomic(self.state_path, offsets)
        return len(records)

    def _rotated(self, offsets: dict[str, int]) -> bool:
        """Empty the file when it is past ``rotate_bytes`` and every store read it all."""
        ends = set(offsets.values())
        if len(ends) != 1 or (end := ends.pop()) < self.rotate_bytes:
            return False
        with locked(self.path.with_name(f".{self.path.name}.lock")):
            if self.path.stat().st_size != end:
                return False  # a writer appended since the read: next time
            write_json_atomic(self.state_path, {})
            self.path.unlink()
        return True


def _jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    raise TypeError(type(value).__name__)


def _time(column: str, value: Any) -> Any:
    return datetime.fromisoformat(value) if column in TIME_COLUMNS and isinstance(value, str) \
        else value


def _value(column: str, value: Any) -> Any:
    if column in TIME_COLUMNS and isinstance(value, str):
        return datetime.fromisoformat(value)
    if isinstance(value, dict | list) and column not in {"recovery_steps"}:
        return json.dumps(value, sort_keys=True)
    return value
