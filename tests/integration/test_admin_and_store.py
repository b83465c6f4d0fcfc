"""`topics create` and `db migrate` are idempotent; rows land once per event_id."""

from __future__ import annotations

import json

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


def test_sql_looking_values_are_stored_verbatim(store: ClickHouseStore) -> None:
    text = "x'); DROP TABLE commands; --"
    event = decode_event(json.dumps(payload("command", raw_input=text,
                                            parameters={"q": "' OR 1=1 --"})))
    RowWriter(store).write([("commands", event_fields(event))])
    assert store.query_rows(f"SELECT raw_input, parameters FROM {store.table('commands')} "
                            "WHERE raw_input = {t:String}", {"t": text}) == [
        (text, '{"q":"\' OR 1=1 --"}')]
    assert store.count("commands") == 1
