"""The loader moves raw topics into the store: exact counts, dead letters, replays folded."""

from __future__ import annotations

import json
from collections import Counter

from streamtune.config import Settings
from streamtune.schemas import EVENT_MODELS
from streamtune.schemas.topics import raw_topic
from streamtune.sinks.rows import table_for
from streamtune.sinks.store import ClickHouseStore
from streamtune.streams.admin import create_topics
from streamtune.streams.loader import RawLoader
from streamtune.streams.producer import EventProducer
from tests.unit.test_schemas import payload

HOSTILE = [
    (b"{broken", "json"),
    (json.dumps(payload("command", execution_time="slow")).encode(), "validation"),
    (json.dumps({**payload("command"), "kind": "telepathy"}).encode(), "unknown_kind"),
    (json.dumps(payload("command", schema_version=99)).encode(), "version"),
    (b"x" * 70_000, "size"),
]


def load_all(settings: Settings, store: ClickHouseStore, group: str) -> RawLoader:
    loader = RawLoader(settings, store=store, group_id=group, batch_size=500)
    try:
        loader.run(idle_stop_s=3.0)
    finally:
        loader.close()
    return loader


def test_valid_events_land_exactly_and_bad_ones_are_dead_lettered(
        settings: Settings, store: ClickHouseStore, unique: str) -> None:
    create_topics(settings)
    per_kind = 30
    with EventProducer.from_settings(settings) as producer:
        for i in range(per_kind):
            for kind in EVENT_MODELS:
                producer.send(payload(kind, session_id=f"s{i % 7}"))
        for raw, _ in HOSTILE:
            producer.send_bytes(raw_topic("command", settings.topics.prefix), raw)
    loader = load_all(settings, store, f"g{unique}")
    assert loader.stats.events == per_kind * len(EVENT_MODELS)
    for kind in EVENT_MODELS:
        assert store.count(table_for(kind)) == per_kind
    categories = Counter(c for (c,) in store.query_rows(
        f"SELECT category FROM {store.table('dead_letters')} FINAL"))
    assert categories == Counter(category for _, category in HOSTILE)
    reasons = dict(store.query_rows(
        f"SELECT category, reason FROM {store.table('dead_letters')} FINAL"))
    assert "execution_time" in reasons["validation"]
    positions = store.query_rows(
        f"SELECT topic, partition, offset FROM {store.table('dead_letters')} FINAL")
    assert all(t == raw_topic("command", settings.topics.prefix) and o >= 0
               for t, _, o in positions)

    replay = load_all(settings, store, f"replay{unique}")  # every offset read again
    assert replay.stats.events == per_kind * len(EVENT_MODELS)
    for kind in EVENT_MODELS:
        assert store.count(table_for(kind)) == per_kind
    assert store.count("dead_letters") == len(HOSTILE)
