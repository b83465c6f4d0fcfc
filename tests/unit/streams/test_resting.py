"""When the ingest loop may rest against the dev broker (``Rests.may_rest``), decided from
the poll's count and the records known to wait, with no broker and no clock."""

from __future__ import annotations

from confluent_kafka import Consumer

from streamtune.streams.worker.resting import Rests

BATCH = 1000


def _rests(lag: list[int]) -> Rests:
    """A rest policy whose known lag is ``lag[0]`` at each question."""
    return Rests(BATCH, lambda: lag[0], rest_s=0.2)


def test_no_rest_after_a_full_batch_whatever_waits() -> None:
    lag = [0]
    rests = _rests(lag)
    assert not rests.may_rest(BATCH)
    lag[0] = 10 * BATCH
    assert not rests.may_rest(BATCH)


def test_a_partial_batch_rests_only_while_less_than_half_a_batch_waits() -> None:
    lag = [BATCH // 2 - 1]
    rests = _rests(lag)
    assert rests.may_rest(10)
    lag[0] = BATCH // 2
    assert not rests.may_rest(10)


def test_an_empty_poll_with_records_waiting_rests_only_the_second_time() -> None:
    """The first empty poll after a rest can precede a large fetch still on its way;
    resting then (pausing drops fetched records) kept a worker from a burst for seconds."""
    lag = [5 * BATCH]
    rests = _rests(lag)
    assert not rests.may_rest(0)
    assert rests.may_rest(0)  # a lag that stays is stale: rest rather than spin


def test_records_read_arm_the_empty_poll_rule_again() -> None:
    lag = [5 * BATCH]
    rests = _rests(lag)
    assert not rests.may_rest(0)
    consumer = Consumer({"bootstrap.servers": "127.0.0.1:9", "group.id": "resting-test"})
    try:  # a real client with nothing assigned: a rest it allowed would pause nothing
        assert not rests.after_poll(consumer, 10, paused=False)
    finally:
        consumer.close()
    assert not rests.may_rest(0)


def test_an_empty_poll_with_nothing_waiting_rests() -> None:
    rests = _rests([0])
    assert rests.may_rest(0)


def test_the_first_rest_is_the_batch_wait_and_the_longest_at_least_half_a_second() -> None:
    """A rest stands in for a real broker's long poll: a batch waits as long for records
    (``batch_max_wait_ms``) against either broker."""
    assert Rests(BATCH, lambda: 0, rest_s=0.2).rests_s == (0.2, 0.5)
    assert Rests(BATCH, lambda: 0, rest_s=2.0).rests_s == (2.0, 2.0)
