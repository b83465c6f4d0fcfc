"""The columns of the two datasets, as Arrow schemas.

Free-form objects and span lists (``parameters``, ``context``,
``parameter_boundaries``, ``entity_tags``, ``failed_command``, ``correction``)
stay JSON strings in Parquet, as in ClickHouse; :data:`JSON_COLUMNS` names
them so readers can decode them. Every row carries its identity and lineage:
``event_id``, ``session_id``, ``event_time``, ``source``, and ``synthetic``,
``technique``, ``parent_event_id`` (``False``, ``''``, null for original rows).
The builder adds the split columns of :data:`SPLIT_COLUMNS`.
"""

from __future__ import annotations

from typing import Literal

import pyarrow as pa

from streamtune.errors import DatasetError

DatasetName = Literal["commands", "errors"]
NAMES: tuple[DatasetName, ...] = ("commands", "errors")
SCHEMA_VERSION = 1

_IDENTITY = [
    ("event_id", pa.string()),
    ("session_id", pa.string()),
    ("event_time", pa.timestamp("ms", tz="UTC")),
    ("source", pa.string()),
]
_LINEAGE = [
    ("synthetic", pa.bool_()),
    ("technique", pa.string()),
    ("parent_event_id", pa.string()),
]

COMMAND_FIELDS = [
    ("raw_input", pa.string()),
    ("normalized_input", pa.string()),
    ("command_type", pa.string()),
    ("parameters", pa.string()),
    ("context", pa.string()),
    ("success", pa.bool_()),
    ("execution_time", pa.float64()),
    ("intent_labels", pa.list_(pa.string())),
    ("parameter_boundaries", pa.string()),
    ("entity_tags", pa.string()),
    ("complexity_score", pa.float64()),
]
ERROR_FIELDS = [
    ("failed_command", pa.string()),
    ("error_type", pa.string()),
    ("error_message", pa.string()),
    ("correction", pa.string()),
    ("recovery_steps", pa.list_(pa.string())),
    ("success_indicator", pa.bool_()),
    ("error_category", pa.string()),
    ("severity_level", pa.string()),
    ("recovery_complexity", pa.float64()),
    ("root_cause", pa.string()),
]

SOURCE_SCHEMAS: dict[DatasetName, pa.Schema] = {
    "commands": pa.schema(_IDENTITY + COMMAND_FIELDS + _LINEAGE),
    "errors": pa.schema(_IDENTITY + ERROR_FIELDS + _LINEAGE),
}
"""Columns a dataset is built from (what extraction returns)."""

SPLIT_COLUMNS: dict[DatasetName, list[tuple[str, pa.DataType]]] = {
    "commands": [("template", pa.string()), ("split", pa.string()),
                 ("session_split", pa.string())],
    "errors": [("template", pa.string()), ("split", pa.string())],
}

JSON_COLUMNS = frozenset({"parameters", "context", "parameter_boundaries", "entity_tags",
                          "failed_command", "correction"})

LABEL_COLUMN: dict[DatasetName, str] = {"commands": "command_type", "errors": "error_type"}

LINEAGE_DEFAULTS = {"synthetic": False, "technique": "", "parent_event_id": None}


def snapshot_schema(name: DatasetName) -> pa.Schema:
    """Columns of a snapshot's split files."""
    schema = SOURCE_SCHEMAS[name]
    for field_name, kind in SPLIT_COLUMNS[name]:
        schema = schema.append(pa.field(field_name, kind))
    return schema


def conform(name: DatasetName, table: pa.Table) -> pa.Table:
    """``table`` with exactly the dataset's source columns, in order, cast to their types.

    Lineage columns an original-only table lacks are filled with their
    defaults; any other missing column is an error.
    """
    schema = SOURCE_SCHEMAS[name]
    missing = [f.name for f in schema if f.name not in table.column_names
               and f.name not in LINEAGE_DEFAULTS]
    if missing:
        raise DatasetError(f"{name} dataset table lacks columns: {', '.join(missing)}")
    columns = []
    for field in schema:
        if field.name in table.column_names:
            columns.append(table.column(field.name).cast(field.type))
        else:
            columns.append(pa.array([LINEAGE_DEFAULTS[field.name]] * table.num_rows,
                                    type=field.type))
    return pa.Table.from_arrays(columns, schema=schema)
