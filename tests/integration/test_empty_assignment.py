"""aiokafka (faust's consumer) joins again when its group answers a join with an empty
assignment, instead of ending its group coordinator for good."""

from __future__ import annotations

import asyncio
import logging

import pytest
from aiokafka import AIOKafkaConsumer  # type: ignore[import-untyped]
from aiokafka.consumer.group_coordinator import (  # type: ignore[import-untyped]
    CoordinatorGroupRebalance,
)
from confluent_kafka import Producer

from streamtune.config import Settings, client_config
from streamtune.streams.kafka.admin import create_topics
from streamtune.streams.kafka.empty_assignment import rejoin_on_empty_assignment
from streamtune.streams.worker.ingest import deltas_topic


def test_an_empty_assignment_is_joined_again(settings: Settings, caplog: pytest.LogCaptureFixture,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    create_topics(settings)
    topic = deltas_topic(settings)
    producer = Producer(client_config(settings))
    producer.produce(topic, b"delta", partition=0)
    assert producer.flush(10) == 0
    rejoin_on_empty_assignment()
    synced = CoordinatorGroupRebalance._send_sync_group_request
    answers: list[bytes | None] = []

    async def first_answer_empty(self: object, request: object) -> bytes | None:
        answer = await synced(self, request)
        answers.append(answer)
        return b"" if len(answers) == 1 else answer  # what the dev broker once sent

    monkeypatch.setattr(CoordinatorGroupRebalance, "_send_sync_group_request",
                        first_answer_empty)

    async def first_record() -> bytes:
        consumer = AIOKafkaConsumer(topic, bootstrap_servers=settings.kafka.servers,
                                    group_id=f"{settings.topics.prefix}empty-assignment",
                                    auto_offset_reset="earliest")
        await consumer.start()
        try:
            record = await asyncio.wait_for(consumer.getone(), timeout=30)
            return bytes(record.value)
        finally:
            await consumer.stop()

    with caplog.at_level(logging.WARNING):
        assert asyncio.run(first_record()) == b"delta"
    assert len(answers) >= 2  # joined once more after the empty answer
    said = [r.getMessage() for r in caplog.records]
    assert any("no assignment for this member: joining again" in m for m in said), said
    assert not any("Unexpected error in coordinator routine" in m for m in said), said
