"""`topics create` and `db migrate` are idempotent; rows land once per event_id."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from streamtune.config import Settings
from streamtune.errors import StoreUnavailable
from streamtune.schemas import EVENT_MODELS, DeadLetter, decode_event
from streamtune.schemas.topics import catalogue
from streamtune.sinks import migrations
from streamtune.sinks.rows import RowWriter, event_fields, table_for
from streamtune.sinks.store import ClickHouseStore
from streamtune.streams.kafka.admin import create_topics, describe_topics
from tests.support.events import payload


def test_topics_create_twice_gives_the_same_topics(settings: Settings) -> None:
    first = create_topics(settings)
    assert set(first.values()) == {"created"}
    assert set(first) == {s.name for s in catalogue(settings)}
    states = describe_topics(settings)
    assert all(s.exists and s.partitions == s.spec.partitions for s in states)
    assert {s.spec.partitions for s in states} == {3, 1}
    second = create_topics(settings)
    assert set(second.values()) == {"exists"}
    assert describe_topics(settings) == states


def schema_of(store: ClickHouseStore) -> list[tuple]:
    return store.query_rows(
        "SELECT name, create_table_query FROM system.tables WHERE database = {db:String} "
        "AND name != 'schema_migrations' AND NOT startsWith(name, '.') ORDER BY name",
        {"db": store.database})


def test_migrate_twice_changes_nothing(store: ClickHouseStore) -> None:
    before = schema_of(store)
    assert {t for t, _ in before} >= {table_for(k) for k in EVENT_MODELS} | {
        "dead_letters", "aggregates"}
    assert migrations.migrate(store) == []
    assert schema_of(store) == before
    assert migrations.applied(store) == {m.version: m.checksum for m in migrations.available()}


def test_an_edited_applied_migration_is_refused(store: ClickHouseStore) -> None:
    store.command(f"ALTER TABLE {store.table('schema_migrations')} UPDATE checksum = 'x' "
                  "WHERE version = 1 SETTINGS mutations_sync = 1")
    with pytest.raises(StoreUnavailable, match="changed after it was applied"):
        migrations.migrate(store)


def test_every_kind_lands_once_even_when_replayed(store: ClickHouseStore) -> None:
    events = [decode_event(json.dumps(payload(kind))) for kind in EVENT_MODELS]
    writer = RowWriter(store)
    rows = [(table_for(e.kind), event_fields(e, ("raw.x", 0, i))) for i, e in enumerate(events)]
    writer.write(rows)
    writer.write(rows)  # a replay after a crash
    for event in events:
        table = table_for(event.kind)
        rows = store.query_rows(
            f"SELECT event_id, session_id, event_time FROM {store.table(table)} FINAL "
            "WHERE event_id = {id:UUID}", {"id": event.event_id})
        assert rows == [(event.event_id, event.session_id,
                         event.event_time.replace(tzinfo=None))]
    stored = store.query_rows(f"SELECT parameters, success, kafka_offset FROM "
                              f"{store.table('commands')} FINAL")
    assert stored == [('{"device":"pump 3"}', True, 0)]
    letter = DeadLetter.wrap(b"\xff", reason="event: not valid JSON", category="json",
                             topic="raw.commands", partition=1, offset=9)
    writer.write([("dead_letters", dict(letter))] * 2)
    assert store.query_rows(f"SELECT raw_b64, reason, offset FROM "
                            f"{store.table('dead_letters')} FINAL") == [("/w==", letter.reason, 9)]


def test_embedded_inserts_report_the_cpu_chdb_took_in_the_calling_thread(
        store: ClickHouseStore) -> None:
    reported: list[float] = []
    store.on_engine_cpu = reported.append
    events = [decode_event(json.dumps(payload(kind))) for kind in EVENT_MODELS]
    rows = [(table_for(e.kind), event_fields(e, ("raw.x", 0, i))) for i, e in enumerate(events)]
    started = time.thread_time()
    RowWriter(store).write(rows)
    spent = time.thread_time() - started
    assert len(reported) == len(EVENT_MODELS)  # one report per table inserted into
    assert all(cpu > 0 for cpu in reported)
    assert sum(reported) <= spent  # the calling thread's own CPU, a part of the write's
    store.insert("commands", [], ["event_id"])  # nothing to insert: nothing reported
    assert len(reported) == len(EVENT_MODELS)


def test_sql_looking_values_are_stored_verbatim(store: ClickHouseStore) -> None:
    text = "x'); DROP TABLE commands; --"
    event = decode_event(json.dumps(payload("command", raw_input=text,
                                            parameters={"q": "' OR 1=1 --"})))
    RowWriter(store).write([("commands", event_fields(event))])
    assert store.query_rows(f"SELECT raw_input, parameters FROM {store.table('commands')} "
                            "WHERE raw_input = {t:String}", {"t": text}) == [
        (text, '{"q":"\' OR 1=1 --"}')]
    assert store.count("commands") == 1


_AFTER_A_LARGE_QUERY = """
import re, sys
from streamtune.sinks.store import ClickHouseStore
store = ClickHouseStore("chdb://" + sys.argv[1])
store.query_rows("SELECT length(groupArray(toString(number))) FROM numbers(5000000) "
                 "SETTINGS max_threads = 1")
stats = store.query_rows("SELECT * FROM system.jemalloc_stats")[0][0]
print(*(re.search(pattern, stats).group(1) for pattern in (
    r"Allocated: ([0-9]+)", r"resident: ([0-9]+)", r"opt.dirty_decay_ms: (-?[0-9]+)")))
"""


@pytest.mark.parametrize("own_conf", [None, "dirty_decay_ms:5000"])
def test_embedded_chdb_gives_freed_memory_back_at_once(tmp_path: Path,
                                                       own_conf: str | None) -> None:
    """A query that used ~400 MB leaves little of it resident (its allocator's default kept
    it for 5 s: 455 MB); a JE_MALLOC_CONF of the user's own is kept. A process of its own:
    the allocator reads its configuration once, when chdb loads."""
    env = {name: value for name, value in os.environ.items() if name != "JE_MALLOC_CONF"}
    if own_conf is not None:
        env["JE_MALLOC_CONF"] = own_conf
    done = subprocess.run([sys.executable, "-c", _AFTER_A_LARGE_QUERY, str(tmp_path / "db")],
                          env=env, capture_output=True, text=True, timeout=120, check=True)
    allocated, resident, decay_ms = map(int, done.stdout.split())
    if own_conf is None:
        assert decay_ms == 0
        assert resident - allocated < 64 * 2**20
    else:
        assert decay_ms == 5000
