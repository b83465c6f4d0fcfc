"""When a consumer's group join counts as stalled (``JoinWatch``), on a fake clock; how
far the stages read ahead (``stage_read_ahead``)."""

from __future__ import annotations

from streamtune.config import Settings
from streamtune.consumers import (
    FETCH_WINDOW_S,
    JOIN_STALL_S,
    JoinWatch,
    read_ahead,
    stage_read_ahead,
)


def test_a_join_stalls_only_past_the_limit_and_an_assignment_ends_it() -> None:
    now = [0.0]
    watch = JoinWatch(JOIN_STALL_S, clock=lambda: now[0])
    now[0] = JOIN_STALL_S - 1
    assert watch.stalled() is None  # a join may take a while
    now[0] = JOIN_STALL_S + 1
    assert watch.stalled() == JOIN_STALL_S + 1
    watch.assigned()
    now[0] = 1000.0
    assert watch.stalled() is None  # assigned: no join under way, however long it has been
    watch.joining()  # a revocation: the consumer joins again, and the wait starts anew
    now[0] = 1000.0 + JOIN_STALL_S - 1
    assert watch.stalled() is None
    now[0] = 1000.0 + JOIN_STALL_S + 5
    assert watch.stalled() == JOIN_STALL_S + 5


def test_without_a_limit_no_join_stalls() -> None:
    """A real broker: librdkafka's own timeouts apply."""
    now = [0.0]
    watch = JoinWatch(None, clock=lambda: now[0])
    now[0] = 10_000.0
    assert watch.stalled() is None


def test_against_the_dev_broker_a_stage_partition_rests_less_than_a_poll_waits() -> None:
    """A stage's partition rests after each fetch that brought a record; a poll must
    outlast that rest, or the records fetched after it wait out the consumer's next rest."""
    settings = Settings.model_validate({"kafka": {"bootstrap_servers": ""}})
    assert settings.kafka.embedded
    options = stage_read_ahead(settings)
    assert options["queued.min.messages"] == 1
    assert 0 < options["fetch.queue.backoff.ms"] / 1000 < FETCH_WINDOW_S
    assert read_ahead(settings)["queued.min.messages"] > 1  # the ingest loop reads further


def test_with_a_kafka_broker_a_stage_reads_ahead_as_the_ingest_loop() -> None:
    settings = Settings.model_validate({"kafka": {"bootstrap_servers": "kafka-1:9092"}})
    assert stage_read_ahead(settings) == read_ahead(settings)
    assert read_ahead(settings)["queued.min.messages"] == 2 * settings.pipeline.batch_max_events
