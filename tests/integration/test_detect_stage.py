"""A detect stage SIGKILLed mid-stream and started again resumes its detectors' saved
state, reads on from its committed offsets, and the drift that comes after is alerted once
per signal, its alert rows reaching the worker's store through the outbox. Alerts Kafka
did not confirm (the broker away) are kept and sent once it is back."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from prometheus_client import CollectorRegistry

from streamtune.config import Settings, client_config
from streamtune.schemas.alerts import Alert
from streamtune.schemas.events import CommandEvent
from streamtune.schemas.topics import clean_topic, loop_topic
from streamtune.simulator import Scenario
from streamtune.simulator.scenario import ErrorRateDrift, ExecutionTimeDrift
from streamtune.sinks.journal import read_from
from streamtune.sinks.outbox import StoreOutbox
from streamtune.sinks.rows import event_json
from streamtune.sinks.stage_sink import stage_sink
from streamtune.streams.detect.metrics import DetectMetrics
from streamtune.streams.detect.stage import DetectStage as StageInProcess
from streamtune.streams.detect.stage import detect_group
from streamtune.streams.kafka.admin import create_topics
from streamtune.streams.kafka.dev_broker import DevBroker
from streamtune.streams.kafka.producer import EventProducer
from streamtune.streams.live.signals import RESOURCE_SIGNALS
from tests.support.drift import check_one_alert_per_signal
from tests.support.loop_models import clean, simulated
from tests.support.settings import make_settings
from tests.support.worker_harness import (
    DetectStage,
    Worker,
    caught_up,
    detect_caught_up,
    read_store,
    read_topic,
    wait_for,
    worker_settings,
)

EVENTS, KILL_AT, CHANGE_AT, SLICE = 5000, 1500, 2500, 500


def test_a_killed_detect_stage_resumes_its_state_and_alerts_the_drift_once(
        settings: Settings, tmp_path: Path) -> None:
    scenario = Scenario(error_rate=ErrorRateDrift(at=CHANGE_AT, to=0.35),
                        execution_time_shift=ExecutionTimeDrift(at=CHANGE_AT, factor=3.0))
    stream = simulated(41, EVENTS, scenario=scenario, hours_ago=1.0)
    index = {str(e.event_id): i for i, e in enumerate(stream)}
    wsettings = worker_settings(settings, tmp_path, batch_max_events=SLICE, groups={
        "scoring": {"enabled": False}, "detection": {"stage": True}})
    create_topics(wsettings)
    worker = Worker(wsettings, log=tmp_path / "worker.log").start()
    first = DetectStage(wsettings, log=tmp_path / "detect-1.log").start()
    second = DetectStage(wsettings, log=tmp_path / "detect-2.log")
    try:
        with EventProducer.from_settings(wsettings) as producer:
            for start in range(0, EVENTS, SLICE):  # live traffic, not a backlog
                if start == KILL_AT:
                    first.kill()  # mid-stream: its last state save is up to 2 s old
                for event in stream[start:start + SLICE]:
                    producer.send(event)
                producer.flush()
                stage = first if start < KILL_AT else second
                if start == KILL_AT:
                    wait_for(lambda: caught_up(wsettings), timeout=120, what="the worker",
                             worker=worker)
                    stage.start()  # a backlog of a slice waits for it
                wait_for(lambda: caught_up(wsettings) and detect_caught_up(wsettings),
                         timeout=120, what="a slice", worker=[worker, stage])
        assert second.terminate() == 0, second.tail()
        assert worker.terminate() == 0, worker.tail()  # imports the outbox as it stops
    finally:
        for process in (second, first, worker):
            process.ensure_stopped()
    assert "starting fresh" not in second.log.read_text(errors="replace")  # state resumed
    rows = read_store(wsettings, {"drift": (
        "SELECT signal, details FROM streamtune.alerts FINAL "
        "WHERE kind = 'drift' AND scope = 'global'")})["drift"]
    by_signal: dict[str, list[int]] = {}
    for signal, details in rows:
        key = json.loads(details)["key"].rsplit("/", 1)[-1]
        by_signal.setdefault(signal, []).append(index[key])
    check_one_alert_per_signal(by_signal, CHANGE_AT)


def test_alerts_kafka_did_not_confirm_are_kept_and_sent_once_it_is_back(
        own_broker: DevBroker, tmp_path: Path, unique: str) -> None:
    settings = make_settings(tmp_path, kafka={"dev_broker_port": own_broker.port},
                             topics={"prefix": f"t{unique}.", "partitions": 1},
                             detection={"stage": True})
    create_topics(settings)
    first, second = (Alert.raise_(kind="drift", severity="warning", title=f"drift {n}",
                                  key=f"k{n}", signal="error") for n in (1, 2))
    with stage_sink(settings) as (sink, _):
        stage = StageInProcess(settings, sink=sink, metrics=DetectMetrics(), confirm_s=3.0)
        try:
            assert own_broker.stop()
            started = time.monotonic()
            with pytest.raises(KafkaException, match="did not confirm"):
                stage.publish([first])
            assert time.monotonic() - started < 10.0  # its batch fails, the loop goes on
            own_broker.start()
            for attempt in range(10):  # as the stage's loop: each batch sends what is kept
                try:  # the next batch's alerts, after the kept one; then no new ones
                    stage.publish([second] if attempt == 0 else [])
                    break
                except KafkaException:  # librdkafka may take a few s to connect again
                    continue
            else:
                pytest.fail("the kept alerts were not confirmed once the broker was back")
        finally:
            stage.close()
    sent = read_topic(settings, loop_topic("alerts", settings.topics.prefix))
    assert {json.loads(m.value() or b"")["alert_id"] for m in sent} == {
        str(first.alert_id), str(second.alert_id)}
    assert {(m.key() or b"").decode() for m in sent} == {str(first.alert_id),
                                                        str(second.alert_id)}
    landed = [record["row"]["alert_id"] for record in read_from(StoreOutbox(settings).path, 0)[0]]
    assert set(landed) == {str(first.alert_id), str(second.alert_id)}  # ids fold the repeat


def test_the_held_events_gauge_falls_to_zero_when_idle_partitions_release_them(
        settings: Settings, tmp_path: Path) -> None:
    """Events a lagging partition holds back are fed when it goes idle, between batches;
    the gauge operators read says so then, not only after the next batch."""
    idle_s = 4.0
    stage_settings = make_settings(
        tmp_path, kafka={"dev_broker_port": settings.kafka.dev_broker_port},
        topics={"prefix": settings.topics.prefix, "partitions": 2},  # deleted after the test
        detection={"stage": True, "reorder_idle_s": idle_s})
    create_topics(stage_settings)
    commands = [e for e in clean(stage_settings, simulated(5, 300, hours_ago=0.5))
                if isinstance(e, CommandEvent)][:40]
    producer = Producer(client_config(stage_settings))
    topic = clean_topic("command", stage_settings.topics.prefix)
    producer.produce(topic, event_json(commands[0]), partition=1)  # the oldest, then silence
    for event in commands[1:]:  # later ones: held until partition 1 goes idle
        producer.produce(topic, event_json(event), partition=0)
    assert producer.flush(10) == 0
    metrics = DetectMetrics(CollectorRegistry())

    def held() -> float | None:
        return metrics.registry.get_sample_value("streamtune_detection_held_events")

    with stage_sink(stage_settings) as (sink, _):
        stage = StageInProcess(stage_settings, sink=sink, metrics=metrics, confirm_s=10.0)
        try:
            read, deadline = 0, time.monotonic() + 60
            while read < len(commands) and time.monotonic() < deadline:
                read += stage.step()
            assert read == len(commands)
            assert held() == len(stage.watch.order) > 0  # partition 1 has not passed them
            time.sleep(idle_s + 0.5)
            while stage.step():  # nothing new: the idle release
                pass
            assert len(stage.watch.order) == 0
            assert held() == 0
        finally:
            stage.close()


def test_a_stage_killed_holding_events_feeds_them_after_its_restart(
        settings: Settings, tmp_path: Path) -> None:
    """Offsets are committed with the detector state they are in: events a SIGKILLed stage
    held for event-time order are read again by its restart, what it fed is not."""
    stage_settings = make_settings(
        tmp_path, kafka={"dev_broker_port": settings.kafka.dev_broker_port},
        topics={"prefix": settings.topics.prefix, "partitions": 2},  # deleted after the test
        detection={"stage": True, "reorder_idle_s": 120.0, "state_save_s": 0.001})
    create_topics(stage_settings)
    stream = clean(stage_settings, simulated(6, 300, hours_ago=0.5))
    commands = [e for e in stream if isinstance(e, CommandEvent)][:40]
    producer = Producer(client_config(stage_settings))
    prefix = stage_settings.topics.prefix
    for kind in ("error", "metric"):  # each partition delivers a late watched event
        watched = [e for e in stream if e.kind == kind
                   and getattr(e, "metric", "cpu_usage") in RESOURCE_SIGNALS]
        for partition, event in enumerate(watched[-2:]):
            producer.produce(clean_topic(kind, prefix), event_json(event), partition=partition)
    topic = clean_topic("command", prefix)
    producer.produce(topic, event_json(commands[0]), partition=1)  # the oldest, then silence
    for event in commands[1:]:  # later ones: held while partition 1 is not idle
        producer.produce(topic, event_json(event), partition=0)
    assert producer.flush(10) == 0
    held = len(commands) - 1 + 4

    first = DetectStage(stage_settings, log=tmp_path / "detect-1.log").start()
    try:
        wait_for(lambda: first.metric("streamtune_detection_held_events") == held
                 and _committed(stage_settings, topic, 1) == 1, timeout=120,
                 what="the first stage holding its events", worker=first)
        first.kill()  # no closing save, no commit
    finally:
        first.ensure_stopped()
    with stage_sink(stage_settings) as (sink, _):
        second = StageInProcess(stage_settings, sink=sink, metrics=DetectMetrics(
            CollectorRegistry()), confirm_s=10.0)
        try:
            success = ("success", "global")
            assert second.watch.state.drift.detectors()[success] == 1  # the oldest command
            read, deadline = 0, time.monotonic() + 60
            while read < held and time.monotonic() < deadline:
                read += second.step()
            assert read == held  # the held ones again, not the one fed
            second.finish()
            assert second.watch.state.drift.detectors()[success] == len(commands)
        finally:
            second.close()


def test_a_revoke_commits_at_the_held_events_and_leaves_them_to_the_next_owner(
        settings: Settings, tmp_path: Path) -> None:
    """A second stage joining the group takes partitions from the first: the first commits
    each revoked partition at the first event it held there (so a crash of it after the
    rebalance loses nothing) and lets those events go; whoever owns the partition then
    feeds them, and every command is fed exactly once across the two."""
    stage_settings = make_settings(
        tmp_path, kafka={"dev_broker_port": settings.kafka.dev_broker_port},
        topics={"prefix": settings.topics.prefix, "partitions": 2},  # deleted after the test
        detection={"stage": True, "reorder_idle_s": 120.0, "state_save_s": 0.001})
    create_topics(stage_settings)
    commands = [e for e in clean(stage_settings, simulated(7, 300, hours_ago=0.5))
                if isinstance(e, CommandEvent)][:40]
    producer = Producer(client_config(stage_settings))
    topic = clean_topic("command", stage_settings.topics.prefix)
    for event in commands:  # held: the other partitions expected have delivered nothing
        producer.produce(topic, event_json(event), partition=0)
    assert producer.flush(10) == 0
    second_settings = stage_settings.model_copy(update={"worker_id": "second"})
    with stage_sink(stage_settings) as (sink, _):
        first = StageInProcess(stage_settings, sink=sink, metrics=DetectMetrics(
            CollectorRegistry()), confirm_s=10.0)
        try:
            read, deadline = 0, time.monotonic() + 60
            while read < len(commands) and time.monotonic() < deadline:
                read += first.step()
            assert read == len(commands) and len(first.watch.order) == len(commands)
        except BaseException:
            first.close()
            raise
        second = StageInProcess(second_settings, sink=sink, metrics=DetectMetrics(
            CollectorRegistry()), confirm_s=10.0)
        try:
            deadline = time.monotonic() + 60
            while not second.group.consumer.assignment() and time.monotonic() < deadline:
                second.step()
                first.step()
            assert second.group.consumer.assignment()
            # the first stage's partitions were all revoked (an eager rebalance), the one
            # holding the events included: committed at the first of them, not past them
            # (the dev broker refuses a commit in the revoke, so its checkpoints' 0 stands)
            assert _committed(stage_settings, topic, 0) == 0
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and (
                    len(first.watch.order) + len(second.watch.order) < len(commands)):
                first.step()
                second.step()
            assert len(first.watch.order) + len(second.watch.order) == len(commands)
            first.finish()
            second.finish()
            success = ("success", "global")
            fed = [stage.watch.state.drift.detectors().get(success, 0)
                   for stage in (first, second)]
            assert sum(fed) == len(commands), fed
        finally:
            first.close()
            second.close()


def _committed(settings: Settings, topic: str, partition: int) -> int:
    """The detect group's committed offset of one partition (negative: none)."""
    consumer = Consumer({**client_config(settings), "group.id": detect_group(settings)})
    try:
        found = consumer.committed([TopicPartition(topic, partition)], timeout=10)
        return found[0].offset
    finally:
        consumer.close()
