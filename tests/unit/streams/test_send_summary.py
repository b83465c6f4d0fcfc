"""What a send says at its end, and how a flood of client-library lines is held back."""

from __future__ import annotations

import logging

import pytest

from streamtune.streams.kafka.producer import RateLimitFilter
from streamtune.streams.kafka.sending import SendSummary


def test_a_complete_send_is_one_line() -> None:
    summary = SendSummary(sent=3000, acknowledged=3000, failed=0, elapsed=10.0)
    assert summary.complete
    assert summary.lines() == ["3,000 events sent, 3,000 delivered (acknowledged), 0 failed, "
                               "0 unacknowledged, in 10.00 s (300/s)"]


def test_an_incomplete_send_names_outages_resends_and_the_first_reasons() -> None:
    reasons = tuple((f"reason {i}", 10 - i) for i in range(7))
    summary = SendSummary(sent=100, acknowledged=40, failed=49, elapsed=2.0, resent=12,
                          outages=1, reasons=reasons)
    assert not summary.complete
    lines = summary.lines(first=2)
    assert "49 failed, 11 unacknowledged" in lines[0]
    assert lines[1] == "Kafka was unreachable 1 time(s); the events waited"
    assert lines[2].startswith("12 events were resent")
    assert lines[3:] == ["failed: 10 x reason 0", "failed: 9 x reason 1",
                         "... and 5 more reasons"]


def test_acknowledged_events_kafka_lost_make_a_send_incomplete() -> None:
    summary = SendSummary(sent=300, acknowledged=300, failed=0, elapsed=1.0, resent=40,
                          lost=25)
    assert not summary.complete
    assert summary.lines()[2] == ("Kafka lost up to 25 acknowledged events too old to resend "
                                  "(its log came back shorter than it had acknowledged)")


def test_a_flood_is_one_line_per_period_that_counts_what_it_held_back(
        monkeypatch: pytest.MonkeyPatch) -> None:
    now = [100.0]
    monkeypatch.setattr("streamtune.streams.kafka.producer.time.monotonic", lambda: now[0])
    limiter = RateLimitFilter(every=30.0, prefix=20)

    def passes(message: str) -> str | None:
        record = logging.LogRecord("streamtune.rdkafka", logging.ERROR, __file__, 1, message,
                                   None, None)
        return record.getMessage() if limiter.filter(record) else None

    assert passes("FAIL [thrd:broker/1]: connect refused") is not None
    assert [passes("FAIL [thrd:broker/1]: connect refused") for _ in range(50)] == [None] * 50
    assert passes("PURGE [thrd:main]: other kind") is not None  # another kind passes
    now[0] += 30.0
    assert passes("FAIL [thrd:broker/1]: connect refused") == \
        "FAIL [thrd:broker/1]: connect refused (50 similar lines held back)"


def test_a_client_library_is_one_line_per_level_and_period_whatever_it_says(
        monkeypatch: pytest.MonkeyPatch) -> None:
    now = [100.0]
    monkeypatch.setattr("streamtune.streams.kafka.producer.time.monotonic", lambda: now[0])
    limiter = RateLimitFilter(every=30.0, only=("aiokafka",))

    def passes(name: str, message: str, level: int = logging.ERROR) -> bool:
        return limiter.filter(logging.LogRecord(name, level, __file__, 1, message, None, None))

    assert passes("aiokafka", "Unable connect to node with id 1")
    assert not passes("aiokafka.consumer.fetcher", "Failed fetch messages from 1")
    assert not passes("aiokafka.conn", "Heartbeat send request failed")
    assert passes("aiokafka.conn", "coordinator dead", logging.WARNING)  # another level
    assert passes("streamtune.streams.worker.ingest", "a line of ours")  # not limited
    assert passes("aiokafkax", "another library whose name only starts alike")
    now[0] += 30.0
    record = logging.LogRecord("aiokafka", logging.ERROR, __file__, 1, "back", None, None)
    assert limiter.filter(record) and record.getMessage() == "back (2 similar lines held back)"
