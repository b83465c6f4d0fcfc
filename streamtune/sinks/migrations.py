"""Versioned, idempotent schema migrations for the ClickHouse store.

Migrations are the ``NNNN_name.sql`` files beside this module, applied in
order; each applied one is recorded with its checksum in
``<db>.schema_migrations``, so running ``migrate`` again changes nothing.
An applied migration whose file changed afterwards is an error, not a guess.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources

from streamtune.errors import StoreUnavailable
from streamtune.sinks.store import ClickHouseStore

_FILENAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    """One migration file."""

    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()[:16]

    def statements(self, database: str) -> list[str]:
        """The file's statements with the database name filled in, comments dropped."""
        body = "\n".join(
            line for line in self.sql.splitlines() if not line.lstrip().startswith("--")
        )
        return [s.strip().replace("{db}", database) for s in body.split(";") if s.strip()]


def available() -> list[Migration]:
    """Every migration shipped with the package, in version order."""
    found = []
    for entry in resources.files("streamtune.sinks").joinpath("migrations").iterdir():
        match = _FILENAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    return sorted(found, key=lambda m: m.version)


def applied(store: ClickHouseStore) -> dict[int, str]:
    """Version -> checksum of every migration recorded in the store."""
    exists = store.query_rows(
        "SELECT count() FROM system.tables WHERE database = {db:String} "
        "AND name = 'schema_migrations'",
        {"db": store.database},
    )[0][0]
    if not exists:
        return {}
    rows = store.query_rows(f"SELECT version, checksum FROM {store.table('schema_migrations')}")  # noqa: S608
    return {int(version): str(checksum) for version, checksum in rows}


def migrate(store: ClickHouseStore) -> list[Migration]:
    """Apply every migration not applied yet; return those applied now."""
    store.command(f"CREATE DATABASE IF NOT EXISTS {store.database}")
    store.command(
        f"CREATE TABLE IF NOT EXISTS {store.table('schema_migrations')} ("
        "version UInt32, name String, checksum String, applied_at DateTime64(3, 'UTC')"
        ") ENGINE = ReplacingMergeTree ORDER BY version"
    )
    done = applied(store)
    now_applied = []
    for migration in available():
        if migration.version in done:
            if done[migration.version] != migration.checksum:
                raise StoreUnavailable(
                    f"migration {migration.version:04d}_{migration.name} changed after it was "
                    "applied; add a new migration instead of editing an applied one"
                )
            continue
        for statement in migration.statements(store.database):
            store.command(statement)
        store.insert(
            "schema_migrations",
            [[migration.version, migration.name, migration.checksum, datetime.now(UTC)]],
            ["version", "name", "checksum", "applied_at"],
        )
        now_applied.append(migration)
    return now_applied


RETENTION_CLOCK = {"augmented": "ingested_at", "predictions": "scored_at"}
"""Per-event rows derived from raw events expire with them, by when they were stored."""


def apply_retention(store: ClickHouseStore, *, raw_days: int, dlq_days: int) -> list[str]:
    """Set the TTL of the event tables and their derived rows to ``raw_days`` and of
    dead letters to ``dlq_days``; return the tables changed.

    Retention counts from when a row was stored (``ingested_at``), not from its
    event time, so imported history is kept as long as live events. Existing
    parts are not rewritten at once (``materialize_ttl_after_modify = 0``); they
    expire as ClickHouse merges them.
    """
    from streamtune.schemas.topics import SOURCES

    wanted = {**{table: ("ingested_at", raw_days) for table in SOURCES.values()},
              **{table: (column, raw_days) for table, column in RETENTION_CLOCK.items()},
              "dead_letters": ("failed_at", dlq_days)}
    changed = []
    for table, (column, days) in wanted.items():
        (create,) = store.query_rows(
            "SELECT create_table_query FROM system.tables WHERE database = {db:String} "
            "AND name = {t:String}", {"db": store.database, "t": table})[0]
        if f"TTL toDateTime({column}) + toIntervalDay({int(days)})" in create \
                or f"TTL toDateTime({column}) + INTERVAL {int(days)} DAY" in create:
            continue  # as created, or as ClickHouse shows it after an ALTER
        store.command(
            f"ALTER TABLE {store.table(table)} MODIFY TTL toDateTime({column}) + "
            f"INTERVAL {int(days)} DAY SETTINGS materialize_ttl_after_modify = 0"
        )
        changed.append(table)
    return changed


EMBEDDED_TABLE_SETTINGS = {
    "max_parts_to_merge_at_once": 4,
    "vertical_merge_algorithm_min_rows_to_activate": 1,
    "vertical_merge_algorithm_min_columns_to_activate": 1,
    "min_bytes_for_full_part_storage": 10 * 2**20,
}
"""MergeTree settings of an embedded store's tables. chdb merges in the worker's process,
and a merge of many parts of a wide table holds a read buffer per column of each part at
once (in one process over 800,000 events, a peak of 648-659 MB against 530 MB merging at
most 4 parts at a time, column by column). A part under 10 MB is written as one packed
file instead of a directory of files: a batch's insert costs about half the CPU (one row
into ``commands``: 8.8 → 4.5 ms). A ClickHouse server keeps its defaults."""


def tune_embedded_tables(store: ClickHouseStore) -> list[str]:
    """Give every MergeTree table of an embedded store :data:`EMBEDDED_TABLE_SETTINGS`;
    return the tables changed (none for a ClickHouse server, or when they have them)."""
    if not store.embedded:
        return []
    wanted = [f"{name} = {value}" for name, value in EMBEDDED_TABLE_SETTINGS.items()]
    changed = []
    for table, create in store.query_rows(
            "SELECT name, create_table_query FROM system.tables WHERE database = {db:String} "
            "AND engine LIKE '%MergeTree' ORDER BY name", {"db": store.database}):
        if all(setting in create for setting in wanted):
            continue
        store.command(f"ALTER TABLE {store.table(table)} MODIFY SETTING {', '.join(wanted)}")
        changed.append(table)
    return changed
