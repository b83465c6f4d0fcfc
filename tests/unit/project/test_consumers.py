"""When a consumer's group join counts as stalled (``JoinWatch``), on a fake clock."""

from __future__ import annotations

from streamtune.consumers import JOIN_STALL_S, JoinWatch


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
