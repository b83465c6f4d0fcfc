"""`streamtune produce` rides out a dev broker that goes away mid-stream: stopped and
started again, or SIGKILLed (it then comes back with a shorter log than it acknowledged)
and started again. It exits 0 only when every event was acknowledged, every event is in
the topics afterwards (distinct event ids, read back), and it says so in a few lines.
A worker rides out the same faults, and stops within a container's grace period while
Kafka is away."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from itertools import islice
from pathlib import Path

import pytest
from confluent_kafka import Consumer, TopicPartition

from streamtune.config import Settings
from streamtune.errors import DeliveryFailed
from streamtune.schemas.events import Event
from streamtune.schemas.topics import SOURCES, raw_topic
from streamtune.simulator import Simulator
from streamtune.streams.kafka.admin import create_topics, end_offsets
from streamtune.streams.kafka.dev_broker import DevBroker, _group_alive
from streamtune.streams.kafka.producer import EventProducer
from tests.support.settings import make_settings
from tests.support.windows import WINDOW_QUERIES, check_windows
from tests.support.worker_harness import (
    Worker,
    caught_up,
    read_store,
    send_events,
    wait_for,
    wait_windows_closed,
    worker_settings,
)

EVENTS = 3000
RATE = 600.0
STOP_WITHIN_S = 8.0
"""How long a worker may take to stop while Kafka is down: under docker's 10 s grace."""


def _settings(broker: DevBroker, tmp_path: Path, unique: str) -> Settings:
    return make_settings(tmp_path, kafka={"dev_broker_port": broker.port},
                         topics={"prefix": f"t{unique}.", "partitions": 3})


def _raw_topics(settings: Settings) -> list[str]:
    return [raw_topic(kind, settings.topics.prefix) for kind in SOURCES]


def _in_topics(settings: Settings) -> int:
    return sum(sum(end_offsets(settings, t).values()) for t in _raw_topics(settings))


def _wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _event_ids(settings: Settings) -> set[bytes]:
    """The ``event_id`` header of every record in the raw topics."""
    consumer = Consumer({"bootstrap.servers": settings.kafka.servers, "group.id": "readback",
                         "enable.auto.commit": False, "log_level": 0})
    ends = {(t, p): end for t in _raw_topics(settings)
            for p, end in end_offsets(settings, t).items() if end}
    consumer.assign([TopicPartition(t, p, 0) for t, p in ends])
    ids: set[bytes] = set()
    left = dict(ends)
    errors: list[str] = []
    deadline = time.monotonic() + 60
    while left and time.monotonic() < deadline:
        msg = consumer.poll(0.5)
        if msg is None:
            continue
        if msg.error():
            errors.append(str(msg.error()))
            continue
        event_id = dict(msg.headers() or []).get("event_id")
        assert isinstance(event_id, bytes)
        ids.add(event_id)
        where = (msg.topic() or "", msg.partition() or 0)
        if (msg.offset() or 0) + 1 >= left.get(where, 0):
            left.pop(where, None)
    consumer.close()
    assert not left, f"read back short of the end offsets {left}: {errors[:5]}"
    return ids


def _produce(broker: DevBroker, settings: Settings, cwd: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMTUNE_")}
    env |= {"STREAMTUNE_KAFKA__DEV_BROKER_PORT": str(broker.port),
            "STREAMTUNE_TOPICS__PREFIX": settings.topics.prefix}
    return subprocess.Popen(
        [sys.executable, "-m", "streamtune", "produce", "--synthetic", str(EVENTS),
         "--rate", str(RATE)], cwd=cwd, env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _kill(broker: DevBroker) -> None:
    pid = broker.status().pid
    assert pid is not None
    os.killpg(pid, signal.SIGKILL)
    _wait_for(lambda: not _group_alive(pid), 10, "the killed broker to be gone")
    broker.pid_file.unlink()


def _acknowledged_then_lost(broker: DevBroker, settings: Settings, producer: EventProducer,
                            events: list[Event]) -> int:
    """Send ``events``, wait for their acknowledgements and kill the broker at once, before
    its next save; return how many of them the restarted broker kept. Tried again (the
    same events, resent by the producer as lost or as duplicates) in the rare case that a
    save came between the last acknowledgement and the kill."""
    for _ in range(3):
        for event in events:
            producer.send(event)
        producer.flush(30)
        _kill(broker)
        broker.start()
        kept = _in_topics(settings)
        if kept < producer.acknowledged:
            return kept
    raise AssertionError("the broker saved every acknowledged event before each kill")


def _events(count: int) -> list[Event]:
    return list(islice(Simulator(11).events(count), count))


@pytest.mark.parametrize(("idempotence", "written_again"),
                         [(False, True), (False, False), (True, True)])
def test_a_log_that_came_back_shorter_is_refilled_from_the_replay_window(
        own_broker: DevBroker, tmp_path: Path, unique: str, idempotence: bool,
        written_again: bool) -> None:
    """Acknowledged, then lost by a killed broker: the producer finds the shorter log by
    its offsets, with no fatal error to say so when idempotence is off, whether or not it
    writes to those partitions again, and resends what its replay window holds."""
    settings = _settings(own_broker, tmp_path, unique)
    create_topics(settings)
    time.sleep(1.5)  # the topics saved: the kill loses events only
    events = _events(400)
    producer = EventProducer(settings.kafka.servers, topic_prefix=settings.topics.prefix,
                             client_options={"enable.idempotence": idempotence})
    kept = _acknowledged_then_lost(own_broker, settings, producer, events[:300])
    for event in events[300:] if written_again else []:
        producer.send(event)
    producer.flush(30)
    sent = events if written_again else events[:300]
    assert producer.lost == 0
    assert producer.resent >= 300 - kept
    assert _event_ids(settings) == {str(event.event_id).encode() for event in sent}


def test_acknowledged_events_older_than_the_replay_window_are_reported_lost(
        own_broker: DevBroker, tmp_path: Path, unique: str) -> None:
    """What a shorter log lost beyond the replay window cannot be resent: the producer
    counts it and its flush fails, rather than the loss passing unseen."""
    settings = _settings(own_broker, tmp_path, unique)
    create_topics(settings)
    time.sleep(1.5)
    producer = EventProducer(settings.kafka.servers, topic_prefix=settings.topics.prefix,
                             client_options={"enable.idempotence": False}, replay_window=0.0)
    kept = _acknowledged_then_lost(own_broker, settings, producer, _events(300))
    with pytest.raises(DeliveryFailed, match="lost up to"):
        producer.flush(30)
    assert producer.lost > 0
    assert producer.lost + producer.resent >= 300 - kept
    assert len(_event_ids(settings)) == 300 - producer.lost


@pytest.mark.parametrize("fault", ["stop", "kill"])
def test_produce_survives_a_broker_restart(own_broker: DevBroker, tmp_path: Path,
                                           unique: str, fault: str) -> None:
    settings = _settings(own_broker, tmp_path, unique)
    create_topics(settings)
    producer = _produce(own_broker, settings, tmp_path)
    try:
        _wait_for(lambda: _in_topics(settings) >= EVENTS // 3, 30, "a third of the events")
        if fault == "stop":
            assert own_broker.stop()
        else:
            _kill(own_broker)
        time.sleep(2.0)  # the outage itself: the producer keeps sending meanwhile
        own_broker.start()
        out, err = producer.communicate(timeout=45)
    finally:
        if producer.poll() is None:
            producer.kill()
            producer.communicate()
    assert producer.returncode == 0, out + err
    assert f"{EVENTS:,} events sent, {EVENTS:,} delivered (acknowledged), 0 failed" in out
    assert "Traceback" not in err and "\x1b[" not in out + err
    assert len(err.splitlines()) <= 6, err  # away, back, one recovery: a few lines
    # a killed broker comes back with a shorter log: the producer had to resend
    assert ("events were resent" in out) == (fault == "kill"), out
    assert len(_event_ids(settings)) == EVENTS


def test_a_drained_stop_keeps_every_acknowledged_record(own_broker: DevBroker,
                                                        tmp_path: Path, unique: str) -> None:
    """``stop`` under load: the restarted broker has every record the producer saw
    acknowledged, and its log has no traceback (the launcher's KeyboardInterrupt)."""
    settings = _settings(own_broker, tmp_path, unique)
    create_topics(settings)
    producer = _produce(own_broker, settings, tmp_path)
    try:
        _wait_for(lambda: _in_topics(settings) >= 500, 30, "500 events")
        kept_before = _in_topics(settings)
        assert own_broker.stop()
        own_broker.start()
        assert _in_topics(settings) >= kept_before
        out, err = producer.communicate(timeout=45)
    finally:
        if producer.poll() is None:
            producer.kill()
            producer.communicate()
    assert producer.returncode == 0, out + err
    assert "resent" not in out  # nothing was lost, so nothing had to be resent
    assert len(_event_ids(settings)) == EVENTS
    assert "Traceback" not in own_broker.log_file.read_text(errors="replace")


@pytest.mark.parametrize("fault", ["stop", "kill"])
def test_a_worker_outlives_a_broker_restart(own_broker: DevBroker, tmp_path: Path,
                                            unique: str, fault: str) -> None:
    """A worker under load keeps running through a broker stop/start or SIGKILL/start,
    stores every event the broker kept exactly once (counting each once in its windows
    after a stop), and says so in a few lines."""
    settings = _settings(own_broker, tmp_path, unique)
    create_topics(settings)
    wsettings = worker_settings(settings, tmp_path, batch_max_events=300)
    worker = Worker(wsettings, log=tmp_path / "worker.log").start()
    producer = _produce(own_broker, settings, tmp_path)
    try:
        wait_for(lambda: worker.metric("streamtune_events_in_total") >= EVENTS // 4,
                 timeout=120, what="a quarter of the events stored", worker=worker)
        before = worker.log.read_text(errors="replace")
        if fault == "stop":
            assert own_broker.stop()
        else:
            _kill(own_broker)
        time.sleep(2.0)  # the outage itself: the worker and the producer keep going
        own_broker.start()
        out, err = producer.communicate(timeout=60)
        assert producer.returncode == 0, out + err
        wait_for(lambda: caught_up(wsettings), timeout=120, what="catching up after the outage",
                 worker=worker)
        wait_windows_closed(worker, wsettings)
        assert worker.alive(), worker.tail()
        assert worker.terminate() == 0, worker.tail()
    finally:
        if producer.poll() is None:
            producer.kill()
            producer.communicate()
        worker.ensure_stopped()
    sent = _event_ids(settings)
    tables = sorted(set(SOURCES.values()))
    store = read_store(wsettings, {**{table: f"SELECT count(), uniqExact(event_id) FROM "
                                             f"streamtune.{table} FINAL" for table in tables},
                                   **WINDOW_QUERIES})
    counts = {table: store[table] for table in tables}
    stored = sum(distinct for (_, distinct), in counts.values())
    assert len(sent) == EVENTS, (stored, out + err)
    assert all(rows == distinct for (rows, distinct), in counts.values()), counts
    assert stored == EVENTS, counts
    if fault == "stop":  # batches redone after the outage count once in the windows
        check_windows(store)  # (a killed dev broker loses what it acknowledged in its last
        # second, the worker's own window deltas and commits too: see DevBroker)
    outage = worker.log.read_text(errors="replace")[len(before):]
    assert "Traceback" not in outage and "\x1b[" not in outage, outage[-3000:]
    said = [line for line in outage.splitlines()
            if line.startswith(("WARNING", "ERROR", "CRITICAL")) and line.split()[1].startswith(
                ("aiokafka", "faust", "streamtune.rdkafka", "streamtune.streams.worker"))]
    assert len(said) <= 10, "\n".join(said)  # away, a recovery, back: a few lines


def test_a_worker_stops_promptly_while_kafka_is_down(own_broker: DevBroker, tmp_path: Path,
                                                     unique: str) -> None:
    """SIGTERM during a Kafka outage: the worker exits 0 within a container's grace period
    (faust's commit and flush wait for Kafka without end: they are left behind), and a
    worker started once Kafka is back stores every event once, windows exact."""
    settings = _settings(own_broker, tmp_path, unique)
    create_topics(settings)
    wsettings = worker_settings(settings, tmp_path)
    events, later = list(Simulator(31).events(800)), list(Simulator(32).events(200))
    send_events(settings, events)
    first = Worker(wsettings, log=tmp_path / "worker-1.log").start()
    try:
        wait_for(lambda: caught_up(wsettings), timeout=120, what="the first events stored",
                 worker=first)
        assert own_broker.stop()
        wait_for(lambda: "Kafka went away" in first.log.read_text(errors="replace"),
                 timeout=30, what="the worker noticing the outage", worker=first)
        started = time.monotonic()
        code = first.terminate(timeout=STOP_WITHIN_S + 30)
        took = time.monotonic() - started
    finally:
        first.ensure_stopped()
    said = first.log.read_text(errors="replace")
    assert code == 0, said[-3000:]
    assert took < STOP_WITHIN_S, (took, said[-3000:])
    assert "Traceback" not in said, said[-3000:]

    own_broker.start()
    send_events(settings, later)
    second = Worker(wsettings, log=tmp_path / "worker-2.log").start()
    try:
        wait_for(lambda: caught_up(wsettings), timeout=120, what="the rest stored",
                 worker=second)
        wait_windows_closed(second, wsettings)
        assert second.terminate() == 0, second.tail()
    finally:
        second.ensure_stopped()
    store = read_store(wsettings, {"commands": "SELECT count(), uniqExact(event_id) FROM "
                                               "streamtune.commands FINAL", **WINDOW_QUERIES})
    commands = sum(SOURCES[e.kind] == "commands" for e in events + later)
    assert store["commands"] == [[commands, commands]]
    check_windows(store)
