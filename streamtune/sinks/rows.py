"""Turn event models into table rows, column by column.

The table definitions (migrations) are the source of truth: each field is
encoded for its column's ClickHouse type — JSON text for free-form objects in
``String`` columns, ``[]`` for absent arrays, ``''`` for absent strings,
``NULL`` only where the column is ``Nullable``.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from streamtune.schemas.events import Event
from streamtune.schemas.topics import SOURCES
from streamtune.sinks.store import ClickHouseStore

KAFKA_COLUMNS = ("kafka_topic", "kafka_partition", "kafka_offset")
"""Where an event was read from; filled when rows come from Kafka."""

_NOT_FROM_KAFKA = ("", -1, -1)


def table_for(kind: str) -> str:
    """Table holding events of ``kind`` (the source name)."""
    return SOURCES[kind]


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def encode(value: Any, ch_type: str) -> Any:
    """Encode one Python value for a column of type ``ch_type``."""
    if value is None:
        if ch_type.startswith("Nullable"):
            return None
        if ch_type.startswith("Array"):
            return []
        if ch_type.startswith("Map"):
            return {}
        return ""
    if ch_type.endswith("String") or ch_type == "LowCardinality(String)":
        if isinstance(value, dict | list | BaseModel):
            return json.dumps(_plain(value), ensure_ascii=False, separators=(",", ":"))
        return value
    return value


@dataclass(frozen=True, slots=True)
class TableLayout:
    """Columns a writer fills for one table, with their types."""

    table: str
    columns: tuple[str, ...]
    types: tuple[str, ...]

    @classmethod
    def read(cls, store: ClickHouseStore, table: str) -> TableLayout:
        cols = store.columns(table, writable=True)
        return cls(table, tuple(cols), tuple(cols.values()))

    def row(self, fields: dict[str, Any]) -> list[Any]:
        return [encode(fields.get(c), t) for c, t in zip(self.columns, self.types, strict=True)]


class RowWriter:
    """Encodes ``(table, fields)`` pairs with each table's layout and inserts them."""

    def __init__(self, store: ClickHouseStore) -> None:
        self.store = store
        self._layouts: dict[str, TableLayout] = {}

    def layout(self, table: str) -> TableLayout:
        if table not in self._layouts:
            self._layouts[table] = TableLayout.read(self.store, table)
        return self._layouts[table]

    def write(self, items: Iterable[tuple[str, dict[str, Any]]]) -> dict[str, int]:
        """Insert the rows, one insert per table; return rows written per table."""
        grouped: dict[str, list[list[Any]]] = defaultdict(list)
        for table, fields in items:
            grouped[table].append(self.layout(table).row(fields))
        for table, rows in grouped.items():
            self.store.insert(table, rows, self.layout(table).columns)
        return {table: len(rows) for table, rows in grouped.items()}


def event_fields(event: Event, position: tuple[str, int, int] | None = None) -> dict[str, Any]:
    """An event's column values, with where it was read from Kafka (if it was)."""
    fields = dict(event)
    fields.update(zip(KAFKA_COLUMNS, position or _NOT_FROM_KAFKA, strict=True))
    return fields
