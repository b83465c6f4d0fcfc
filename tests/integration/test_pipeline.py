"""End to end through a real worker and augment stage: exactly the valid events stored,
hostile ones dead-lettered, duplicates once, secrets nowhere, augmented rows with lineage,
windows equal to a recomputation from the raw rows."""

from __future__ import annotations

import base64
import json
from collections import Counter
from pathlib import Path

import pytest

from streamtune.config import Settings
from streamtune.models.augmentation import TECHNIQUES, TEXT_TECHNIQUES
from streamtune.prometheus import scrape_series
from streamtune.schemas import EVENT_MODELS, CommandEvent, ErrorEvent, Event
from streamtune.schemas.topics import SOURCES, raw_topic
from streamtune.simulator import Simulator, hostile_payloads
from streamtune.streams.kafka.admin import create_topics, describe_topics
from streamtune.streams.kafka.producer import EventProducer
from tests.support.windows import WINDOW_QUERIES, check_windows
from tests.support.worker_harness import (
    AugmentStage,
    Worker,
    augment_caught_up,
    caught_up,
    read_store,
    wait_for,
    wait_windows_closed,
    worker_settings,
)

SECRETS = ["hunter2-Sup3r", "ghp_Zx81k2JHs9aQ0wErTy12uIoPlkJhGfDsA4B", "S3cretDbPw",
           "AKIAIOSFODNN7EXAMPLE", "sk_live_4eC39HqLyjWDarjtT1zdp7dc"]


def with_secrets(events: list[Event]) -> list[Event]:
    """Plant every kind of secret into some command and error events."""
    planted: list[Event] = []
    commands = [e for e in events if isinstance(e, CommandEvent)][:5]
    errors = [e for e in events if isinstance(e, ErrorEvent)][:3]
    for event, secret in zip(commands, SECRETS, strict=False):
        planted.append(event.model_copy(update={
            "raw_input": f"{event.raw_input} --password {SECRETS[0]} token={SECRETS[1]}",
            "normalized_input": None, "parameters": {"api_key": secret},
            "context": {"aws_access_key_id": SECRETS[3]}}))
    for event in errors:
        planted.append(event.model_copy(update={
            "error_message": f"login to postgres://app:{SECRETS[2]}@db:5432/plant failed, "
                             f"key {SECRETS[4]}"}))
    replaced = {e.event_id: e for e in planted}
    return [replaced.get(e.event_id, e) for e in events]


@pytest.mark.timeout(400)
def test_worker_lands_exactly_the_valid_events(settings: Settings, tmp_path: Path) -> None:
    create_topics(settings)
    events = with_secrets(list(Simulator(11).events(3000)))
    hostile = hostile_payloads(5, 150)
    hostile.append((f'{{"kind": "command", "raw_input": "x token={SECRETS[1]}"'.encode(), "json"))
    resent = [e for e in events if e.kind == "command"][:40]
    with EventProducer.from_settings(settings) as producer:
        for i, event in enumerate(events):
            producer.send(event)
            if i % 20 == 0 and hostile:
                payload, _ = hostile[i // 20 % len(hostile)]
                producer.send_bytes(raw_topic("command", settings.topics.prefix), payload)
        sent_hostile = [hostile[i // 20 % len(hostile)] for i in range(0, len(events), 20)]
        for event in resent:  # the same event_id again: stored once
            producer.send(event)
    valid_extra = [(p, c) for p, c in sent_hostile if c == "valid"]
    invalid = [(p, c) for p, c in sent_hostile if c != "valid"]

    wsettings = worker_settings(settings, tmp_path)
    worker = Worker(wsettings, log=tmp_path / "worker.log").start()
    stage = AugmentStage(wsettings, log=tmp_path / "augment.log").start()
    try:
        wait_for(lambda: caught_up(wsettings), timeout=240, what="all records committed",
                 worker=worker)
        wait_for(lambda: augment_caught_up(wsettings), timeout=240,
                 what="all clean records augmented", worker=stage)
        assert stage.terminate() == 0  # its rows are in the outbox: the worker imports them
        wait_windows_closed(worker, wsettings)
        assert worker.metric("streamtune_duplicates_dropped_total") == len(resent)
        assert worker.metric("streamtune_redactions_total") >= 5 * 4 + 3 * 2
        assert worker.metric("streamtune_dead_letters_total") == len(invalid)
        remembered = scrape_series(worker.metrics_port)
        assert worker.alive()
        assert worker.terminate() == 0
    finally:
        stage.ensure_stopped()
        worker.ensure_stopped()

    tables = {kind: SOURCES[kind] for kind in EVENT_MODELS}
    queries = {f"count_{t}": f"SELECT count() FROM streamtune.{t} FINAL" for t in tables.values()}
    queries |= {f"raw_{t}": f"SELECT count() FROM streamtune.{t}" for t in tables.values()}
    queries |= {f"dump_{t}": f"SELECT * FROM streamtune.{t}" for t in tables.values()}
    queries |= {
        "dead": "SELECT category, reason, raw_b64, topic, offset FROM streamtune.dead_letters "
                "FINAL",
        "augmented": "SELECT technique, family, parent_event_id, kind, synthetic, raw_input, "
                     "error_message, parameters FROM streamtune.augmented FINAL",
        "qc": "SELECT technique, sum(generated), sum(accepted) FROM streamtune.augmentation_qc "
              "FINAL GROUP BY technique",
        "dlq_windows": "SELECT sum(dlq_count) FROM streamtune.aggregates FINAL",
        "refresh": "SYSTEM REFRESH VIEW streamtune.aggregates_hourly_mv",
        "wait": "SYSTEM WAIT VIEW streamtune.aggregates_hourly_mv",
        "hourly": "SELECT sum(events), sum(dlq_count), sum(windows) FROM "
                  "streamtune.aggregates_hourly",
        "windows_total": "SELECT sum(events), sum(dlq_count), count() FROM "
                         "streamtune.aggregates FINAL",
        "sessions": "SELECT uniqExact(session_id) FROM streamtune.commands FINAL",
        "merge_settings": "SELECT name, create_table_query LIKE '%max_parts_to_merge_at_once = "
                          "4%' FROM system.tables WHERE database = 'streamtune' AND engine LIKE "
                          "'%MergeTree'",
        "ids": "SELECT toString(event_id) FROM streamtune.commands FINAL UNION ALL "
               "SELECT toString(event_id) FROM streamtune.errors FINAL",
        **WINDOW_QUERIES,
    }
    store = read_store(wsettings, queries)

    expected = Counter(e.kind for e in events)
    expected["command"] += len(valid_extra)
    for kind, table in tables.items():
        assert store[f"count_{table}"] == [[expected[kind]]], table
        assert store[f"raw_{table}"] == [[expected[kind]]], table  # duplicates never written

    # in memory: every id it stored (for de-duplication), every session with commands
    kept = 'streamtune_remembered_entries{{kept="{}"}}'
    assert remembered[kept.format("event_ids")] == sum(expected.values())
    assert remembered[kept.format("sessions")] == store["sessions"][0][0] > 50

    categories = Counter(row[0] for row in store["dead"])
    assert categories == Counter(c for _, c in invalid)
    assert all(row[1] and row[3] == raw_topic("command", settings.topics.prefix)
               for row in store["dead"])
    dlq_topic_counts = {s.spec.name: s.messages for s in describe_topics(settings)}
    assert dlq_topic_counts[raw_topic("command", settings.topics.prefix) + ".dlq"] == len(invalid)
    assert store["dlq_windows"] == [[len(invalid)]]

    everything = json.dumps(store) + "".join(
        base64.b64decode(row[2]).decode("utf-8", "replace") for row in store["dead"])
    for secret in SECRETS:
        assert secret not in everything, secret
    assert "[REDACTED:" in everything

    techniques = {row[0] for row in store["augmented"]}
    assert set(TECHNIQUES) <= techniques <= set(TECHNIQUES) | set(TEXT_TECHNIQUES), techniques
    parents = {row[0] for row in store["ids"]}
    assert all(row[2] in parents and row[4] for row in store["augmented"])
    assert {row[0] for row in store["qc"]} >= techniques

    check_windows(store)
    assert store["hourly"] == store["windows_total"]
    assert store["windows_total"][0][0] == len(events) + len(valid_extra)

    # the embedded store's tables merge a few parts at a time (the worker's peak memory)
    tuned = dict(store["merge_settings"])
    assert set(tables.values()) | {"dead_letters", "aggregates"} <= set(tuned)
    assert all(tuned.values()), [name for name, ok in tuned.items() if not ok]
