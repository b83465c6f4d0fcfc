"""Every event kind goes producer -> dev broker -> consumer intact, keyed and in order."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest
from confluent_kafka import Consumer

from streamtune.config import Settings
from streamtune.errors import DeliveryFailed
from streamtune.schemas import EVENT_MODELS, decode_event
from streamtune.schemas.topics import raw_topic
from streamtune.streams.kafka.admin import create_topics
from streamtune.streams.kafka.producer import DeliveryReport, EventProducer
from tests.support.events import payload


def consume_all(settings: Settings, topics: list[str], expected: int, group: str) -> list:
    consumer = Consumer({"bootstrap.servers": settings.kafka.servers, "group.id": group,
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe(topics)
    received = []
    try:
        for _ in range(60):
            received += [m for m in consumer.consume(1000, 0.5) if m.error() is None]
            if len(received) >= expected:
                break
    finally:
        consumer.close()
    return received


def test_every_kind_round_trips_with_key_headers_and_per_session_order(
        settings: Settings, unique: str) -> None:
    create_topics(settings)
    start = datetime.now(UTC).replace(microsecond=0)
    sent = []
    reports: list[DeliveryReport] = []
    with EventProducer.from_settings(settings, on_delivery=reports.append) as producer:
        for i in range(40):
            for kind in EVENT_MODELS:
                event = decode_event(json.dumps(payload(
                    kind, session_id=f"session-{i % 4}",
                    event_time=(start + timedelta(milliseconds=i)).isoformat())))
                producer.send(event)
                sent.append(event)
    assert len(reports) == len(sent) and all(r.error is None for r in reports)
    topics = [raw_topic(kind, settings.topics.prefix) for kind in EVENT_MODELS]
    messages = consume_all(settings, topics, len(sent), f"g{unique}")
    assert len(messages) == len(sent)
    by_id = {str(e.event_id): e for e in sent}
    order: dict[tuple[str, str], list[datetime]] = defaultdict(list)
    for msg in messages:
        event = decode_event(msg.value())
        assert event == by_id[str(event.event_id)]
        assert msg.key() == event.session_id.encode()
        assert msg.topic() == raw_topic(event.kind, settings.topics.prefix)
        headers = dict(msg.headers())
        assert headers["kind"] == event.kind.encode()
        assert headers["event_id"] == str(event.event_id).encode()
        assert headers["schema_version"] == b"2"
        order[(msg.topic(), event.session_id)].append(event.event_time)
    for times in order.values():
        assert times == sorted(times) and len(times) == 10


def test_mappings_are_validated_before_sending(settings: Settings) -> None:
    from streamtune.errors import InvalidEvent

    with EventProducer.from_settings(settings) as producer:
        with pytest.raises(InvalidEvent, match="execution_time"):
            producer.send(payload("command", execution_time="slow"))
        assert producer.sent == 0


def test_undeliverable_events_raise_on_flush(settings: Settings) -> None:
    """Whether Kafka refuses a record later (a topic it does not know, learnt from a
    metadata reply) or the client at once (a topic it already knows is missing, a record
    over its size limit), the send returns and the next flush raises."""
    producer = EventProducer(settings.kafka.servers,
                             client_options={"message.timeout.ms": 1000,
                                             "message.max.bytes": 10_000})
    producer.send_bytes("no.such.topic.$$$", b"{}")
    with pytest.raises(DeliveryFailed):
        producer.flush(10)
    topic = raw_topic("command", settings.topics.prefix)
    create_topics(settings)
    producer.send_bytes(topic, b"x" * 20_000, headers=[("event_id", b"e-1")])
    producer.send_bytes(topic, b"{}")
    with pytest.raises(DeliveryFailed, match="1 events were not delivered; first: .*size"):
        producer.flush(10)
    assert (producer.sent, producer.failed, producer.delivered) == (3, 2, 1)
