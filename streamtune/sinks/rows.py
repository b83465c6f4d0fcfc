"""Turn event models into table rows, column by column.

The table definitions (migrations) are the source of truth: each field is
encoded for its column's ClickHouse type — JSON text for free-form objects in
``String`` columns, ``[]`` for absent arrays, ``''`` for absent strings,
``NULL`` only where the column is ``Nullable``.

Rows are written columnar: one Arrow column per table column (UUIDs as 16
bytes, times as UTC microsecond timestamps), one Arrow insert per table. Rows
come as a dict each, or, for the events of a batch, as :class:`EventColumns`
(their columns read straight from the events, no dict per row).
ClickHouse ingests Arrow at millions of rows a second, against ~170 k rows/s
for row-wise inserts encoded in Python.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import orjson
import pyarrow as pa
from pydantic import BaseModel

from streamtune import json_bytes
from streamtune.schemas.alerts import Alert
from streamtune.schemas.events import EntityTag, Event, ParameterSpan
from streamtune.schemas.topics import SOURCES
from streamtune.sinks.store import ClickHouseStore

KAFKA_COLUMNS = ("kafka_topic", "kafka_partition", "kafka_offset")
"""Where an event was read from; filled when rows come from Kafka."""

_NOT_FROM_KAFKA = ("", -1, -1)
_FLAT_MODELS = (ParameterSpan, EntityTag)  # str/int fields only: their __dict__ is their JSON
_CONTAINERS = (dict, list)  # checked by type first: isinstance of BaseModel is slow


def table_for(kind: str) -> str:
    """Table holding events of ``kind`` (the source name)."""
    return SOURCES[kind]


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _orjson_default(value: Any) -> Any:
    if type(value) in _FLAT_MODELS:
        return value.__dict__
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    raise TypeError(type(value).__name__)


def json_text(value: Any, serialised: bytes | None = None) -> str:
    """Compact JSON text of a free-form value (non-ASCII kept as it is).

    ``serialised``: ``orjson.dumps(value)``, if already written.

    orjson where it writes what ``json.dumps(..., ensure_ascii=False,
    separators=(",", ":"))`` writes; the standard library where it would not
    (integers beyond 64 bits; ``NaN``/``Infinity``, which orjson turns into ``null``).
    Exponent floats may be spelled differently (``1e-7`` for ``1e-07``): the same number.
    """
    text = serialised
    if text is None:
        try:
            text = orjson.dumps(value, default=_orjson_default)
        except TypeError:  # orjson.JSONEncodeError: leave it to json
            text = None
    if text is None or b"null" in text and not _finite(value):  # NaN: orjson wrote null
        return json.dumps(_plain(value), ensure_ascii=False, separators=(",", ":"))
    return text.decode()


def _finite(value: Any) -> bool:
    """Whether orjson writes ``value`` as it is: no NaN or infinity in it (a model other
    than the flat ones may hide one)."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_finite(inner) for inner in value.values())
    if isinstance(value, list | tuple):
        return all(_finite(inner) for inner in value)
    return not isinstance(value, BaseModel) or type(value) in _FLAT_MODELS


def event_json(event: Event) -> bytes:
    """An event as JSON, the bytes ``event.model_dump_json()`` writes (the clean topics'
    records), by orjson: a third of the time. Values orjson cannot write (beyond 64-bit
    integers, lone surrogates) are left to pydantic."""
    try:
        return json_bytes.dumps(event.__dict__, default=_orjson_default,
                                option=orjson.OPT_UTC_Z)
    except TypeError:  # orjson.JSONEncodeError
        return event.model_dump_json().encode()


def encode(value: Any, ch_type: str) -> Any:
    """Encode one Python value for a column of type ``ch_type``."""
    if value is None:
        if ch_type.startswith("Nullable"):
            return None
        if ch_type.startswith("Array"):
            return []
        if ch_type.startswith("Map"):
            return {}
        if ch_type == "Bool":
            return False
        if ch_type.startswith(("UInt", "Int", "Float")):  # a column added later: its default
            return 0
        return ""
    if ch_type.endswith("String") or ch_type == "LowCardinality(String)":
        if type(value) in _CONTAINERS or isinstance(value, dict | list | BaseModel):
            return json_text(value)
        return value
    return value


def _unwrap(ch_type: str, wrapper: str) -> tuple[str, bool]:
    if ch_type.startswith(wrapper + "(") and ch_type.endswith(")"):
        return ch_type[len(wrapper) + 1:-1], True
    return ch_type, False


def _scalar_arrow_type(base: str) -> pa.DataType | None:
    if base == "String":
        return pa.string()
    if base == "Bool":
        return pa.bool_()
    if base in ("Float32", "Float64"):
        return pa.float64()
    if base.startswith(("UInt", "Int")):
        return pa.int64()
    if base.startswith("DateTime64"):
        return pa.timestamp("us", tz="UTC")
    return None


Converter = Callable[[list[Any]], pa.Array]


def arrow_converter(ch_type: str) -> Converter:
    """A function turning one column's Python values into an Arrow array for ``ch_type``.

    The values go through :func:`encode`'s rules (absent values, JSON text);
    UUIDs travel as 16 bytes, times as UTC microsecond timestamps (ClickHouse
    truncates them to the column's precision).
    """
    inner, nullable = _unwrap(ch_type, "Nullable")
    base, _ = _unwrap(inner, "LowCardinality")
    if base == "String":
        def strings(values: list[Any]) -> pa.Array:
            return pa.array([v if type(v) is str else encode(v, ch_type) for v in values],
                            pa.string())
        return strings
    if base == "UUID":
        def uuids(values: list[Any]) -> pa.Array:
            return pa.array([v.bytes if isinstance(v, UUID) else
                             None if v is None else UUID(str(v)).bytes for v in values],
                            pa.binary(16))
        return uuids
    scalar = _scalar_arrow_type(base)
    if scalar is not None:
        def scalars(values: list[Any]) -> pa.Array:
            if not nullable and None in values:
                values = [encode(v, ch_type) for v in values]
            return pa.array(values, scalar)
        return scalars
    array_inner, is_array = _unwrap(base, "Array")
    item = _scalar_arrow_type(_unwrap(array_inner, "LowCardinality")[0])
    if is_array and item is not None:
        list_type = pa.list_(item)

        def arrays(values: list[Any]) -> pa.Array:
            return pa.array([[] if v is None else v for v in values], list_type)
        return arrays
    if base.startswith("Map(") and base.endswith(")"):
        key_type, _, value_type = base[4:-1].partition(", ")
        k = _scalar_arrow_type(_unwrap(key_type, "LowCardinality")[0])
        v = _scalar_arrow_type(_unwrap(value_type, "LowCardinality")[0])
        if k is not None and v is not None:
            map_type = pa.map_(k, v)

            def maps(values: list[Any]) -> pa.Array:
                return pa.array([{} if x is None else x for x in values], map_type)
            return maps

    def other(values: list[Any]) -> pa.Array:
        return pa.array([encode(v, ch_type) for v in values])
    return other


@dataclass(frozen=True, slots=True)
class EventColumns:
    """Events of one kind as their table's columns, with no dict per row.

    ``fields``: the events' ``__dict__`` (not copies); ``given``: whole columns that take
    the place of the fields' values (where each event was read from Kafka, the JSON text
    of free-form objects already written)."""

    fields: list[dict[str, Any]]
    given: dict[str, list[Any]]

    def __len__(self) -> int:
        return len(self.fields)

    def column(self, name: str) -> list[Any]:
        found = self.given.get(name)
        if found is not None:
            return found
        return [values.get(name) for values in self.fields]

    def rows(self) -> list[dict[str, Any]]:
        """The same rows, a dict each (for writers that take rows one by one)."""
        rows = [dict(values) for values in self.fields]
        for name, column in self.given.items():
            for row, value in zip(rows, column, strict=True):
                row[name] = value
        return rows


Row = dict[str, Any] | EventColumns
"""What a writer takes for a table: one row, or a batch's events of one kind as columns."""


def row_by_row(items: Iterable[tuple[str, Row]]) -> list[tuple[str, dict[str, Any]]]:
    """The rows as ``(table, fields)``, a dict each: columns given as their rows (for
    writers that take rows one by one)."""
    return [(table, row) for table, data in items
            for row in (data.rows() if isinstance(data, EventColumns) else [data])]


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

    def arrow(self, rows: list[dict[str, Any]] | EventColumns) -> pa.Table:
        """The rows as one Arrow table with this layout's columns."""
        if isinstance(rows, EventColumns):
            columns = [rows.column(c) for c in self.columns]
        else:
            columns = [[r.get(c) for r in rows] for c in self.columns]
        arrays = [_converter(t)(values)
                  for values, t in zip(columns, self.types, strict=True)]
        return pa.Table.from_arrays(arrays, names=list(self.columns))


_CONVERTERS: dict[str, Converter] = {}


def _converter(ch_type: str) -> Converter:
    found = _CONVERTERS.get(ch_type)
    if found is None:
        found = _CONVERTERS[ch_type] = arrow_converter(ch_type)
    return found


class RowWriter:
    """Encodes ``(table, fields)`` pairs with each table's layout and inserts them."""

    def __init__(self, store: ClickHouseStore) -> None:
        self.store = store
        self._layouts: dict[str, TableLayout] = {}

    def layout(self, table: str) -> TableLayout:
        if table not in self._layouts:
            self._layouts[table] = TableLayout.read(self.store, table)
        return self._layouts[table]

    def write(self, items: Iterable[tuple[str, Row]]) -> dict[str, int]:
        """Insert the rows, one Arrow insert per table; return rows written per table."""
        written: dict[str, int] = {}
        for table, data in arrow_tables(items, self.layout).items():
            self.store.insert(table, data, self.layout(table).columns)
            written[table] = data.num_rows
        return written


def arrow_tables(items: Iterable[tuple[str, Row]],
                 layout: Callable[[str], TableLayout]) -> dict[str, pa.Table]:
    """The rows as one Arrow table per table, in each table's ``layout``."""
    single: dict[str, list[dict[str, Any]]] = defaultdict(list)
    columnar: dict[str, list[EventColumns]] = defaultdict(list)
    for table, row in items:
        if isinstance(row, EventColumns):
            columnar[table].append(row)
        else:
            single[table].append(row)
    tables: dict[str, pa.Table] = {}
    for table in {**single, **columnar}:
        shape = layout(table)
        parts = [shape.arrow(part) for part in columnar.get(table, ())]
        if table in single:
            parts.append(shape.arrow(single[table]))
        tables[table] = parts[0] if len(parts) == 1 else pa.concat_tables(parts)
    return tables


def event_fields(event: Event, position: tuple[str, int, int] | None = None) -> dict[str, Any]:
    """An event's column values, with where it was read from Kafka (if it was)."""
    fields = dict(event.__dict__)
    fields["kafka_topic"], fields["kafka_partition"], fields["kafka_offset"] = (
        position or _NOT_FROM_KAFKA)
    return fields


def alert_row(alert: Alert) -> dict[str, Any]:
    """An alert as a row of the ``alerts`` table."""
    row = alert.model_dump()
    row["alert_id"] = str(alert.alert_id)
    row["details"] = json_text(alert.details)
    row.pop("schema_version")
    return row
