"""Read a dataset's source rows from ClickHouse into an Arrow table.

Originals come from ``commands`` or ``errors``, synthetic rows from
``augmented`` (``kind`` = ``command`` or ``error``), all read with ``FINAL``
so replayed events count once. Every value — time range, filter values — is a
bound parameter; filter columns come from a fixed allow-list.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from streamtune.errors import DatasetError
from streamtune.models.datasets.columns import SOURCE_SCHEMAS, DatasetName
from streamtune.sinks.store import ClickHouseStore

_ORIGINAL_TABLE: dict[DatasetName, str] = {"commands": "commands", "errors": "errors"}
_AUGMENTED_KIND: dict[DatasetName, str] = {"commands": "command", "errors": "error"}
NOT_IN_AUGMENTED: dict[DatasetName, set[str]] = {
    "commands": {"intent_labels", "parameter_boundaries", "entity_tags", "complexity_score"},
    "errors": {"error_category", "severity_level", "recovery_complexity", "root_cause"},
}
"""Annotation columns the ``augmented`` table does not hold (null in synthetic rows)."""
FILTER_COLUMNS: dict[DatasetName, frozenset[str]] = {
    "commands": frozenset({"source", "session_id", "command_type"}),
    "errors": frozenset({"source", "session_id", "error_type"}),
}
"""Columns a build may be filtered on (equality with any of the given values)."""


@dataclass(frozen=True)
class Query:
    """What a build reads: an optional event-time range and column filters."""

    since: datetime | None = None
    until: datetime | None = None
    filters: Mapping[str, Sequence[str]] = field(default_factory=dict)

    def where(self, name: DatasetName) -> tuple[str, dict[str, Any]]:
        """A ``WHERE`` clause of fixed fragments and its bound parameters."""
        clauses: list[str] = ["1"]
        params: dict[str, Any] = {}
        if self.since is not None:
            clauses.append("event_time >= {since:DateTime64(3, 'UTC')}")
            params["since"] = self.since
        if self.until is not None:
            clauses.append("event_time < {until:DateTime64(3, 'UTC')}")
            params["until"] = self.until
        for i, (column, values) in enumerate(sorted(self.filters.items())):
            if column not in FILTER_COLUMNS[name]:
                allowed = ", ".join(sorted(FILTER_COLUMNS[name]))
                raise DatasetError(f"cannot filter {name} on {column!r}; use one of {allowed}")
            clauses.append(f"has({{f{i}:Array(String)}}, {column})")
            params[f"f{i}"] = list(values)
        return " AND ".join(clauses), params

    def describe(self) -> dict[str, Any]:
        """The query as plain data, for the manifest's lineage."""
        return {
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "filters": {k: list(v) for k, v in sorted(self.filters.items())},
        }


def _select(name: DatasetName, *, augmented: bool) -> str:
    parts = []
    for column in SOURCE_SCHEMAS[name].names:
        if column == "event_id":
            parts.append("toString(augmented_id)" if augmented else "toString(event_id)")
        elif column == "parent_event_id":
            parts.append("toString(parent_event_id)" if augmented else "NULL")
        elif column == "synthetic":
            parts.append("true" if augmented else "false")
        elif column == "technique":
            parts.append("technique" if augmented else "''")
        elif augmented and column in NOT_IN_AUGMENTED[name]:
            parts.append("NULL")
        else:
            parts.append(column)
    return ", ".join(parts)


def read_rows(store: ClickHouseStore, name: DatasetName, query: Query,
              *, augmented: bool) -> pa.Table:
    """Original (or augmented) rows of dataset ``name`` matching ``query``."""
    where, params = query.where(name)
    if augmented:
        table = store.table("augmented")
        where += " AND kind = {kind:String}"
        params["kind"] = _AUGMENTED_KIND[name]
    else:
        table = store.table(_ORIGINAL_TABLE[name])
    sql = (f"SELECT {_select(name, augmented=augmented)} FROM {table} FINAL "  # noqa: S608
           f"WHERE {where} ORDER BY event_time, {'augmented_id' if augmented else 'event_id'}")
    rows = store.query_rows(sql, params)
    schema = SOURCE_SCHEMAS[name]
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(schema)
    arrays = [pa.array([_arrow_value(v) for v in values], type=f.type)
              for f, values in zip(schema, columns, strict=True)]
    return pa.Table.from_arrays(arrays, schema=schema)


def _arrow_value(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)  # chdb returns DateTime64('UTC') naive
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"))
    return value


def qc_pass_rates(store: ClickHouseStore) -> dict[str, Any]:
    """Augmentation quality-gate pass rates per technique, from ``augmentation_qc``.

    The QC table has no event times, so the rates cover every batch recorded;
    an empty dict when the table is absent or empty. Events no technique could
    augment appear under ``"not augmentable: <reason>"``: their count and the
    count per command type.
    """
    present = store.query_rows(
        "SELECT count() FROM system.tables "
        "WHERE database = {db:String} AND name = 'augmentation_qc'",
        {"db": store.database})[0][0]
    if not present:
        return {}
    rows = store.query_rows(
        "SELECT technique, sum(generated), sum(semantic_passed), sum(syntax_passed), "  # noqa: S608
        "sum(dry_run_passed), sum(accepted), countIf(batch_rejected) "
        f"FROM {store.table('augmentation_qc')} FINAL GROUP BY technique ORDER BY technique")
    rates: dict[str, Any] = {}
    for technique, generated, semantic, syntax, dry_run, accepted, rejected in rows:
        if generated:
            rates[technique] = {
                "generated": int(generated),
                "semantic_pass_rate": round(semantic / generated, 4),
                "syntax_pass_rate": round(syntax / generated, 4),
                "dry_run_pass_rate": round(dry_run / generated, 4),
                "accepted_rate": round(accepted / generated, 4),
                "batches_rejected": int(rejected),
            }
    if "not_augmentable" in store.columns("augmentation_qc"):
        for technique, command_type, events in store.query_rows(
                "SELECT technique, command_type, sum(not_augmentable) "  # noqa: S608
                f"FROM {store.table('augmentation_qc')} FINAL WHERE not_augmentable > 0 "
                "GROUP BY technique, command_type ORDER BY technique, command_type"):
            entry = rates.setdefault(technique, {"events": 0, "command_types": {}})
            entry["events"] += int(events)
            entry["command_types"][command_type] = int(events)
    return rates
