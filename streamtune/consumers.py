"""Group consumers whose join the dev broker left unanswered are made again.

noida-db now and then leaves a group preparing a rebalance that every member has
joined, and librdkafka waits for the JoinGroup answer for ``max.poll.interval.ms``
(5 minutes); a join normally takes well under a second. Against the dev broker a
consumer still without an assignment :data:`JOIN_STALL_S` after it subscribed, or
after its partitions were revoked, has stalled: :class:`GroupConsumer` then closes it
and subscribes a new one with the same options. Nothing is assigned while a join is
under way, so no batch is in hand when that happens. With a real broker a
:class:`GroupConsumer` is a plain subscribed consumer.

The ingest loop replaces its clients itself on any broker fault
(``streams/worker/recovery.py``); it uses :class:`JoinWatch` for the stalled join.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from confluent_kafka import Consumer, Message, TopicPartition

from streamtune.processes import close_consumer

log = logging.getLogger(__name__)
JOIN_STALL_S = 20.0
"""Dev broker only: how long a join may go unanswered before it is given up and made again."""

Rebalanced = Callable[[Consumer, list[TopicPartition]], None]


class JoinWatch:
    """How long a consumer has been joining its group, and whether that is a stall."""

    def __init__(self, stall_s: float | None, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.stall_s = stall_s
        self._clock = clock
        self._joining_since: float | None = clock()

    def joining(self) -> None:
        """The consumer (re)joins its group: after subscribing, or after a revocation."""
        self._joining_since = self._clock()

    def assigned(self) -> None:
        """The group answered the join with an assignment (maybe empty)."""
        self._joining_since = None

    def stalled(self) -> float | None:
        """Seconds the join has waited when that is over :attr:`stall_s`, else None."""
        if self.stall_s is None or self._joining_since is None:
            return None
        waited = self._clock() - self._joining_since
        return waited if waited > self.stall_s else None


class GroupConsumer:
    """A consumer subscribed to ``topics``, made again when its join stalls (dev broker).

    Poll it through :meth:`consume`; :attr:`consumer` is the one in use (commit, seek,
    pause and the like go to it).
    """

    def __init__(self, conf: dict[str, Any], topics: list[str], *, dev_broker: bool,
                 on_assign: Rebalanced | None = None, on_revoke: Rebalanced | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._conf = conf
        self._topics = topics
        self._on_assign = on_assign
        self._on_revoke = on_revoke
        self.watch = JoinWatch(JOIN_STALL_S if dev_broker else None, clock=clock)
        self.rejoins = 0
        self.consumer = self._subscribed()

    def _subscribed(self) -> Consumer:
        consumer = Consumer(self._conf)
        self.watch.joining()
        consumer.subscribe(self._topics, on_assign=self._assigned, on_revoke=self._revoked)
        return consumer

    def _assigned(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        if consumer is not self.consumer:  # a replaced one, closing
            return
        self.watch.assigned()
        if self._on_assign is not None:
            self._on_assign(consumer, partitions)

    def _revoked(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        if consumer is not self.consumer:
            return
        self.watch.joining()
        if self._on_revoke is not None:
            self._on_revoke(consumer, partitions)

    def consume(self, count: int, timeout_s: float) -> list[Message]:
        """Up to ``count`` messages within ``timeout_s``, from a new consumer if the join
        of the one in use stalled."""
        waited = self.watch.stalled()
        if waited is not None:
            log.warning("the group %s has not answered the consumer's join in %.0f s: "
                        "joining again with a new consumer", self._conf["group.id"], waited)
            close_consumer(self.consumer, seconds=5.0)
            self.consumer = self._subscribed()
            self.rejoins += 1
        return list(self.consumer.consume(count, timeout_s))

    def close(self) -> bool:
        """Close the consumer in use without hanging a stop (``close_consumer``)."""
        return close_consumer(self.consumer)
