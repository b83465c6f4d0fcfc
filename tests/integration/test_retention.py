"""Retention on a real chdb store: the settings' TTLs land on every table that has one,
count from when a row was stored, and a merge drops what is older while keeping the rest
(history imported today included); an embedded store's tables merge a few parts at a time
and write small parts as one packed file."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from streamtune.schemas.topics import SOURCES
from streamtune.sinks.migrations import (
    EMBEDDED_TABLE_SETTINGS,
    apply_retention,
    tune_embedded_tables,
)
from streamtune.sinks.store import ClickHouseStore


def _ttl(store: ClickHouseStore, table: str) -> str:
    create = store.query_rows(
        "SELECT create_table_query FROM system.tables WHERE database = {db:String} "
        "AND name = {t:String}", {"db": store.database, "t": table})[0][0]
    return str(create).split(" TTL ", 1)[1]


def test_settings_set_every_ttl_and_a_merge_expires_old_rows(store: ClickHouseStore) -> None:
    assert apply_retention(store, raw_days=30, dlq_days=90) == []  # the migrations' own
    changed = apply_retention(store, raw_days=7, dlq_days=14)
    derived = {*SOURCES.values(), "augmented", "predictions"}
    assert set(changed) == derived | {"dead_letters"}
    for table in derived - {"predictions"}:
        assert _ttl(store, table).startswith("toDateTime(ingested_at) + toIntervalDay(7)"), table
    assert _ttl(store, "predictions").startswith("toDateTime(scored_at) + toIntervalDay(7)")
    assert _ttl(store, "dead_letters").startswith("toDateTime(failed_at) + toIntervalDay(14)")
    assert apply_retention(store, raw_days=7, dlq_days=14) == []  # already so: no ALTER

    now = datetime.now(UTC)
    store.insert("commands", [(uuid.uuid4(), now - timedelta(days=10), now - timedelta(days=10),
                               "old"),
                              (uuid.uuid4(), now - timedelta(days=3), now - timedelta(days=3),
                               "recent"),
                              (uuid.uuid4(), now - timedelta(days=400), now, "history")],
                 ["event_id", "event_time", "ingested_at", "raw_input"])
    store.insert("dead_letters", [("raw.commands", 0, 1, now - timedelta(days=20), "x", "json"),
                                  ("raw.commands", 0, 2, now - timedelta(days=10), "y", "json")],
                 ["topic", "partition", "offset", "failed_at", "reason", "category"])
    for table in ("commands", "dead_letters"):
        store.command(f"OPTIMIZE TABLE {store.table(table)} FINAL")
    kept = [r for (r,) in store.query_rows(f"SELECT raw_input FROM {store.table('commands')}")]
    assert sorted(kept) == ["history", "recent"]
    letters = store.query_rows(f"SELECT offset FROM {store.table('dead_letters')}")
    assert [o for (o,) in letters] == [2]


def test_an_embedded_stores_tables_merge_a_few_parts_at_a_time_and_pack_small_ones(
        store: ClickHouseStore) -> None:
    tables = {name for (name,) in store.query_rows(
        "SELECT name FROM system.tables WHERE database = {db:String} "
        "AND engine LIKE '%MergeTree'", {"db": store.database})}
    assert set(tune_embedded_tables(store)) == tables >= {*SOURCES.values(), "dead_letters"}
    assert tune_embedded_tables(store) == []  # already so: no ALTER
    settings = store.query_rows(
        "SELECT create_table_query FROM system.tables WHERE database = {db:String} "
        "AND name = 'commands'", {"db": store.database})[0][0].split(" SETTINGS ", 1)[1]
    for name, value in EMBEDDED_TABLE_SETTINGS.items():
        assert f"{name} = {value}" in settings, name
    now = datetime.now(UTC)
    store.insert("commands", [(uuid.uuid4(), now, now, "start pump 3")],
                 ["event_id", "event_time", "ingested_at", "raw_input"])
    parts = store.query_rows(
        "SELECT part_storage_type, count() FROM system.parts WHERE database = {db:String} "
        "AND table = 'commands' AND active GROUP BY ALL", {"db": store.database})
    assert parts == [("Packed", 1)]  # one file: half the CPU of a part's directory
