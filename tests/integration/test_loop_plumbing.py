"""Plumbing of the loop: the store outbox into a real chdb store, model-control over Kafka."""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import UTC, datetime

import pytest
from confluent_kafka import Producer

from streamtune.config import Settings, client_config
from streamtune.models.control import ControlReader, Serving, publish
from streamtune.models.loop.trainer import Trainer, state_path
from streamtune.models.registry import Registry
from streamtune.schemas.alerts import Alert
from streamtune.schemas.topics import clean_topic
from streamtune.sinks.outbox import StoreOutbox
from streamtune.sinks.rows import alert_row, event_json
from streamtune.sinks.store import ClickHouseStore
from streamtune.streams.kafka.admin import create_topics
from tests.support.loop_models import clean, simulated


def test_outbox_rows_land_once_in_their_tables(settings: Settings,
                                               store: ClickHouseStore) -> None:
    outbox = StoreOutbox(settings)
    alert = Alert.raise_(kind="rollout", severity="critical", title="v2 rolled back", key="a",
                         model="intent_classifier", version="v2", details={"gap": 0.12})
    outbox.append("alerts", {**alert_row(alert), "raised_at": alert.raised_at.isoformat()})
    outbox.append("loop_decisions", {
        "decision_id": "intent_classifier/v2/canary", "time": datetime.now(UTC).isoformat(),
        "model": "intent_classifier", "candidate": "v2", "champion": "v1", "stage": "canary",
        "decision": "reject", "reason": "worse", "metrics": {"mcnemar_p": 0.001}})
    assert outbox.import_into(store) == 2
    assert outbox.import_into(store) == 0  # only new lines are read
    outbox.append("loop_decisions", {  # the same decision again (a replay) folds away
        "decision_id": "intent_classifier/v2/canary", "time": datetime.now(UTC).isoformat(),
        "model": "intent_classifier", "candidate": "v2", "champion": "v1", "stage": "canary",
        "decision": "reject", "reason": "worse", "metrics": {"mcnemar_p": 0.001}})
    assert outbox.import_into(store) == 1
    rows = store.query_rows(f"SELECT title, severity, JSONExtractFloat(details, 'gap') FROM "
                            f"{store.table('alerts')} FINAL")
    assert [tuple(r) for r in rows] == [("v2 rolled back", "critical", 0.12)]
    decisions = store.query_rows(f"SELECT decision, JSONExtractFloat(metrics, 'mcnemar_p') "
                                 f"FROM {store.table('loop_decisions')} FINAL")
    assert [tuple(r) for r in decisions] == [("reject", 0.001)]
    with pytest.raises(ValueError, match="does not write"):
        outbox.append("commands", {"event_id": "x"})


def test_model_control_messages_reach_every_reader_in_order(settings: Settings) -> None:
    create_topics(settings)
    publish(settings, Serving("intent_classifier", champion="v1", candidate="v2", percent=5))
    publish(settings, Serving("intent_classifier", champion="v2", reason="promoted"))
    for _ in range(2):  # a worker started later reads the same history from the start
        reader = ControlReader(settings)
        try:
            seen: list[Serving] = []
            deadline = time.monotonic() + 30
            while len(seen) < 2 and time.monotonic() < deadline:
                seen += reader.poll()
                time.sleep(0.2)
        finally:
            reader.close()
        assert [(s.champion, s.candidate, s.percent) for s in seen] == [
            ("v1", "v2", 5.0), ("v2", None, 0.0)]


def test_a_bootstrap_waits_for_the_stream_quietly_then_trains(
        settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    create_topics(settings)
    settings = settings.model_copy(update={
        "scoring": settings.scoring.model_copy(update={"models": ["intent_classifier"]}),
        "loop": settings.loop.model_copy(update={"min_train_events": 300})})
    said: list[tuple[str, str]] = []
    trainer = Trainer(settings, report=lambda what, line: said.append((what, line)))
    try:
        with caplog.at_level(logging.INFO):
            for _ in range(2):  # no champion and no events: nothing to train, said once
                trainer._bootstrap_checked = datetime.min.replace(tzinfo=UTC)
                trainer.step()
                assert trainer._training is None and not trainer.triggers.pending
            produce_clean(settings, 1500)  # 300+ commands among them
            busy = threading.Event()
            trainer._pool.submit(busy.wait)  # the training thread is busy: the training queues
            trainer._bootstrap_checked = datetime.min.replace(tzinfo=UTC)
            trainer.step()
            assert trainer._training is not None  # the bootstrap training is due
            trainer.stop()  # and a stop comes before it began: close cancels it
            threading.Timer(0.5, busy.set).start()
    finally:
        trainer.close()
    assert said == [
        ("training", "intent_classifier has no champion yet: it trains once 300 commands "
                     "events arrived (0 so far)"),
        ("training", "intent_classifier (bootstrap: no champion yet)")]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert saved_pending(settings) == {  # the cancelled training is pending again
        "intent_classifier": ["bootstrap: no champion yet"]}


def saved_pending(settings: Settings) -> dict[str, list[str]]:
    """The retraining triggers a restarted trainer would find pending (its saved state;
    a second trainer is not started: its consumer's close could wait on the group)."""
    return json.loads(state_path(settings).read_text())["pending"]  # type: ignore[no-any-return]


def produce_clean(settings: Settings, events: int) -> None:
    """``events`` simulated events, cleaned, on their clean topics (what retraining reads)."""
    producer = Producer(client_config(settings))
    for event in clean(settings, simulated(5, events)):
        producer.produce(clean_topic(event.kind, settings.topics.prefix), event_json(event))
    producer.flush(30)


def test_a_stop_ends_a_training_in_progress_and_keeps_its_trigger(settings: Settings) -> None:
    create_topics(settings)
    settings = settings.model_copy(update={
        "scoring": settings.scoring.model_copy(update={"models": ["intent_classifier"]}),
        "loop": settings.loop.model_copy(update={"min_train_events": 300}),
        "training": settings.training.model_copy(update={
            "intent_classifier": settings.training.intent_classifier.model_copy(
                update={"teacher": False})})})
    produce_clean(settings, 1500)
    said: list[tuple[str, str]] = []
    trainer = Trainer(settings, report=lambda what, line: said.append((what, line)))
    try:
        trainer.step()  # no champion: a bootstrap training starts
        running = trainer._training
        assert running is not None
        deadline = time.monotonic() + 120
        while not trainer._progress.tasks:  # a stage is under way
            assert not running.done(), said
            assert time.monotonic() < deadline, "no training stage began"
            time.sleep(0.05)
        trainer.stop()
    finally:
        trainer.close()
    assert ("training", "intent_classifier stopped; it trains again at the next start") in said
    assert Registry(settings).alias("intent_classifier", "champion") is None
    assert saved_pending(settings) == {"intent_classifier": ["bootstrap: no champion yet"]}
