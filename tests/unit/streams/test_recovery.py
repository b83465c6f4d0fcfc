"""The ingest loop's client watch (which client reports make a broker fault) and how
long a stopping loop keeps trying to write."""

from __future__ import annotations

import logging
import threading

import pytest
from confluent_kafka import KafkaError

from streamtune.sinks.batching import grace_after
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


def test_a_join_left_unanswered_is_a_fault_and_an_assignment_ends_the_wait() -> None:
    now = [0.0]
    watch = ClientWatch(join_stall_s=20.0, clock=lambda: now[0])
    now[0] = 19.0
    watch.check()  # a join may take a while
    watch.join.assigned()
    now[0] = 100.0
    watch.check()  # assigned: no join under way, however long it has been
    watch.join.joining()  # a rebalance: the consumer joins again
    now[0] = 115.0
    watch.check()
    now[0] = 121.0
    with pytest.raises(BrokerFault, match="has not answered the consumer's join in 21 s"):
        watch.check()


def test_flushing_goes_on_until_stopped_then_for_the_grace_only(
        monkeypatch: pytest.MonkeyPatch) -> None:
    now = [100.0]
    monkeypatch.setattr("streamtune.sinks.batching.time.monotonic", lambda: now[0])
    stop = threading.Event()
    keep_trying = grace_after(stop, 10.0)
    now[0] += 3600
    assert keep_trying()  # not stopped: the store may take as long as it needs
    stop.set()
    assert keep_trying()
    now[0] += 9.9
    assert keep_trying()
    now[0] += 0.2
    assert not keep_trying()
