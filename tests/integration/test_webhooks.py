"""Alert delivery end to end: the real dev broker, the SQLite queue, real local HTTP servers."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer

from streamtune.config import Settings, client_config
from streamtune.schemas.alerts import Alert
from streamtune.schemas.topics import dlq_topic, loop_topic
from streamtune.sinks.webhooks import AlertDispatcher, WebhookMetrics, verify
from streamtune.sinks.webhooks.queue import DeliveryQueue
from streamtune.streams.kafka.admin import create_topics, group_caught_up
from streamtune.streams.kafka.dev_broker import DevBroker
from tests.support.settings import free_port, make_settings
from tests.support.webhook_receiver import Receiver

FAST = {"retry_initial_s": 0.05, "retry_max_s": 0.5}
SECRET = "shared-secret"  # noqa: S105 - a test value


@pytest.fixture
def make(broker: DevBroker, tmp_path: Path, unique: str) -> Callable[..., Settings]:
    """Settings of this test (its own topic prefix, data dir) with ``webhooks`` overrides."""
    def build(**webhooks: Any) -> Settings:
        settings = make_settings(
            tmp_path, kafka={"dev_broker_port": broker.port},
            topics={"prefix": f"t{unique}.", "partitions": 1}, webhooks={**FAST, **webhooks})
        create_topics(settings)
        return settings
    return build


@pytest.fixture
def dispatchers() -> Iterator[list[AlertDispatcher]]:
    """Dispatchers a test opens; closed at the end whatever happens."""
    opened: list[AlertDispatcher] = []
    yield opened
    for d in opened:
        d.close()


def _alert(kind: str = "drift", severity: str = "warning", key: str = "k") -> Alert:
    return Alert.raise_(kind=kind, severity=severity, title=f"{kind} {severity} {key}",  # type: ignore[arg-type]
                        key=key, signal="success", summary="error rate 0.1 -> 0.3",
                        details={"before": 0.1, "after": 0.3})


def _produce(settings: Settings, *values: Alert | bytes) -> None:
    producer = Producer(client_config(settings))
    topic = loop_topic("alerts", settings.topics.prefix)
    for v in values:
        if isinstance(v, Alert):
            producer.produce(topic, v.model_dump_json().encode(), key=str(v.alert_id).encode())
        else:
            producer.produce(topic, v)
    assert producer.flush(10) == 0


def _until(dispatcher: AlertDispatcher, done: Callable[[], bool], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "condition not reached in time"
        dispatcher.step(wait_s=0.1)


def _read_dlq(settings: Settings, count: int, timeout: float = 15) -> list[dict[str, Any]]:
    consumer = Consumer({**client_config(settings), "group.id": f"read-{time.time_ns()}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([dlq_topic(loop_topic("alerts", settings.topics.prefix))])
    records: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    try:
        while len(records) < count and time.monotonic() < deadline:
            msg = consumer.poll(0.2)
            if msg is not None and msg.error() is None:
                records.append(json.loads(msg.value()))
    finally:
        consumer.close()
    return records


def test_alert_arrives_signed_with_the_stable_fields(make: Callable[..., Settings],
                                                     dispatchers: list[AlertDispatcher]) -> None:
    from prometheus_client import CollectorRegistry

    with Receiver() as rx:
        settings = make(signing_secret=SECRET, endpoints=[rx.url("/in?token=abc")])
        metrics = WebhookMetrics(CollectorRegistry())
        dispatchers.append(dispatcher := AlertDispatcher(settings, metrics=metrics))
        alert = _alert()
        _produce(settings, alert)
        _until(dispatcher, lambda: len(rx.received) == 1)
        got = rx.received[0]
        assert got.path == "/in?token=abc"
        assert got.headers["Content-Type"] == "application/json"
        assert got.headers["X-Streamtune-Alert-Id"] == str(alert.alert_id)
        assert verify(got.body, got.headers["X-Streamtune-Signature"], SECRET)
        assert not verify(got.body, got.headers["X-Streamtune-Signature"], "other")
        body = json.loads(got.body)
        assert body["schema_version"] == 1 and body["alert_id"] == str(alert.alert_id)
        assert (body["kind"], body["severity"], body["details"]) == \
            ("drift", "warning", {"before": 0.1, "after": 0.3})
        sample = metrics.registry.get_sample_value
        host = f"127.0.0.1:{rx.port}"
        _until(dispatcher, lambda: sample("streamtune_webhook_deliveries_total",
                                          {"endpoint": host, "outcome": "delivered"}) == 1)
        assert sample("streamtune_webhook_pending") == 0
        assert sample("streamtune_webhook_seconds_count", {"endpoint": host}) == 1
        text = json.dumps([list(m.samples) for m in metrics.registry.collect()], default=str)
        assert "token=abc" not in text and "/in" not in text


def test_alert_outlives_a_down_endpoint_and_a_restart_and_arrives_once(
        make: Callable[..., Settings], dispatchers: list[AlertDispatcher]) -> None:
    port = free_port()  # nothing listens here yet
    settings = make(endpoints=[f"http://127.0.0.1:{port}/hook"])
    url = settings.webhooks.endpoints[0].url
    first = AlertDispatcher(settings)
    dispatchers.append(first)
    alert = _alert(key="outage")
    _produce(settings, alert, alert)  # a repeated record: still one delivery
    _until(first, lambda: (row := first.queue.get(str(alert.alert_id), url)) is not None
           and row.attempts >= 3)
    runner = threading.Thread(target=first.run)
    runner.start()
    queue = DeliveryQueue(settings.data_dir / "alerts" / "deliveries.sqlite")
    deadline = time.monotonic() + 15
    while (row := queue.get(str(alert.alert_id), url)) is None or row.attempts < 4:
        assert time.monotonic() < deadline, "the running dispatcher never tried again"
        time.sleep(0.05)
    queue.close()
    first.stop()
    runner.join(5)
    assert not runner.is_alive()

    with Receiver(port=port, status=503) as rx:
        second = AlertDispatcher(settings)  # the restarted process
        dispatchers.append(second)
        _until(second, lambda: len(rx.received) >= 2)
        rx.status = 200
        _until(second, lambda: len(rx.delivered_ids()) == 1)
        _produce(settings, alert)  # the alert raised again after a replay
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            second.step(wait_s=0.1)
        assert rx.delivered_ids() == [str(alert.alert_id)]
        row = second.queue.get(str(alert.alert_id), url)
        assert row is not None and row.state == "delivered" and row.attempts >= 5
        assert second.queue.counts() == {"pending": 0, "delivered": 1, "dead": 0}


def test_failed_alerts_and_bad_records_go_to_the_alerts_dlq(
        make: Callable[..., Settings], dispatchers: list[AlertDispatcher]) -> None:
    with Receiver(status=503) as flaky, Receiver(status=400) as refuses:
        settings = make(retry_budget_s=0.3, signing_secret=SECRET,
                        endpoints=[flaky.url("/hook?token=SECRET1"),
                                   refuses.url("/hook?token=SECRET2")])
        dispatchers.append(dispatcher := AlertDispatcher(settings))
        alert = _alert("regression", "critical", key="dlq")
        _produce(settings, alert, b"{not an alert")
        _until(dispatcher, lambda: dispatcher.queue.counts()["dead"] == 2)
        records = _read_dlq(settings, 3)
    assert len(refuses.received) == 1  # 400 is permanent: no retry
    assert len(flaky.received) >= 2
    text = json.dumps(records)
    assert "SECRET" not in text and SECRET not in text
    letters = [r for r in records if "dead_letter_id" in r]
    assert len(letters) == 1 and "Invalid JSON" in letters[0]["reason"]
    assert letters[0]["category"] == "validation"
    dead = {r["endpoint_host"]: r for r in records if "alert" in r}
    assert set(dead) == {f"127.0.0.1:{flaky.port}", f"127.0.0.1:{refuses.port}"}
    assert dead[f"127.0.0.1:{refuses.port}"]["error"] == "HTTP 400"
    assert dead[f"127.0.0.1:{refuses.port}"]["attempts"] == 1
    assert "retry budget 0.3 s spent" in dead[f"127.0.0.1:{flaky.port}"]["error"]
    assert all(r["alert"]["alert_id"] == str(alert.alert_id) for r in dead.values())


def test_endpoints_get_only_the_alerts_their_filters_ask_for(
        make: Callable[..., Settings], dispatchers: list[AlertDispatcher]) -> None:
    with Receiver() as drift_rx, Receiver() as critical_rx:
        settings = make(endpoints=[
            {"url": drift_rx.url(), "kinds": ["drift"], "min_severity": "warning"},
            {"url": critical_rx.url(), "min_severity": "critical", "format": "slack"}])
        dispatchers.append(dispatcher := AlertDispatcher(settings))
        alerts = {name: _alert(kind, severity, key=name) for name, kind, severity in [
            ("a", "drift", "info"), ("b", "drift", "warning"), ("c", "drift", "critical"),
            ("d", "rollout", "critical"), ("e", "new_pattern", "warning")]}
        _produce(settings, *alerts.values())
        _until(dispatcher, lambda: len(drift_rx.delivered_ids()) == 2
               and len(critical_rx.delivered_ids()) == 2)
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline:
            dispatcher.step(wait_s=0.1)
    ids = {name: str(a.alert_id) for name, a in alerts.items()}
    assert sorted(drift_rx.delivered_ids()) == sorted([ids["b"], ids["c"]])
    assert sorted(critical_rx.delivered_ids()) == sorted([ids["c"], ids["d"]])
    texts = [json.loads(r.body)["text"] for r in critical_rx.received]
    assert sorted(texts) == ["[CRITICAL] drift: drift critical c",
                             "[CRITICAL] rollout: rollout critical d"]


def test_stop_returns_within_two_seconds_while_a_request_hangs(
        make: Callable[..., Settings], dispatchers: list[AlertDispatcher]) -> None:
    with Receiver() as rx:
        rx.delay_s = 3.0
        settings = make(endpoints=[{"url": rx.url(), "timeout_s": 10}])
        url = settings.webhooks.endpoints[0].url
        dispatcher = AlertDispatcher(settings)
        dispatchers.append(dispatcher)
        alert = _alert(key="hang")
        _produce(settings, alert)
        runner = threading.Thread(target=dispatcher.run)
        runner.start()
        deadline = time.monotonic() + 15
        while not rx.received:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        dispatcher.stop()
        runner.join(5)  # the request's own timeout is 10 s: stop cut it short
        assert not runner.is_alive()
        queue = DeliveryQueue(settings.data_dir / "alerts" / "deliveries.sqlite")
        row = queue.get(str(alert.alert_id), url)  # the unanswered attempt is still owed
        queue.close()
        assert row is not None and (row.state, row.attempts) == ("pending", 0)


def test_without_endpoints_alerts_are_consumed_and_committed(
        make: Callable[..., Settings], dispatchers: list[AlertDispatcher]) -> None:
    settings = make()
    dispatchers.append(dispatcher := AlertDispatcher(settings))
    _produce(settings, _alert(key="x"), _alert(key="y"))
    group = f"{settings.topics.prefix}streamtune-alerts"
    topic = loop_topic("alerts", settings.topics.prefix)
    _until(dispatcher, lambda: group_caught_up(settings, group, [topic]))
    assert dispatcher.queue.counts() == {"pending": 0, "delivered": 0, "dead": 0}
