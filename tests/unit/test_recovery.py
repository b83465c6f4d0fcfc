"""The ingest loop's client watch: which client reports make a broker fault."""

from __future__ import annotations

import logging

import pytest
from confluent_kafka import KafkaError

from streamtune.streams.worker.recovery import BrokerFault, ClientWatch


class _Message:
    def topic(self) -> str:
        return "clean.commands"


def test_a_fatal_error_is_a_fault_at_the_next_check() -> None:
    watch = ClientWatch()
    watch.on_error(KafkaError(KafkaError._TRANSPORT, "connection refused"))
    watch.check()  # transient: librdkafka retries by itself
    watch.on_error(KafkaError(KafkaError.OUT_OF_ORDER_SEQUENCE_NUMBER, "out of order",
                              fatal=True))
    with pytest.raises(BrokerFault, match="fatal Kafka error: out of order"):
        watch.check()


def test_a_refused_send_is_a_fault_and_an_acknowledged_one_is_not() -> None:
    watch = ClientWatch()
    watch.on_delivery(None, _Message())  # type: ignore[arg-type]
    watch.check()
    watch.on_delivery(KafkaError(KafkaError._MSG_TIMED_OUT, "timed out"), _Message())  # type: ignore[arg-type]
    assert watch.failed_sends == 1
    with pytest.raises(BrokerFault, match="a send to clean.commands failed: timed out"):
        watch.check()


def test_a_broker_gone_and_back_is_said_once_each(caplog: pytest.LogCaptureFixture) -> None:
    watch = ClientWatch()
    with caplog.at_level(logging.WARNING, "streamtune.streams.worker.recovery"):
        for _ in range(5):
            watch.on_error(KafkaError(KafkaError._ALL_BROKERS_DOWN, "all brokers down"))
        watch.back()
        watch.back()
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 2 and said[0].startswith("Kafka went away"), said
    assert said[1].startswith("Kafka is back after"), said
    watch.check()  # an outage alone is no fault: the clients wait for the broker
