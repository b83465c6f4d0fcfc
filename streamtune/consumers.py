"""Group consumers whose join the dev broker left unanswered are made again.

noida-db now and then leaves a group preparing a rebalance that every member has
joined, and librdkafka waits for the JoinGroup answer for ``max.poll.interval.ms``
(5 minutes); a join normally takes well under a second. Against the dev broker a
consumer still without an assignment :data:`JOIN_STALL_S` after it subscribed, or
after its partitions were revoked, has stalled: :class:`GroupConsumer` then closes it
and subscribes a new one with the same options. Nothing is assigned while a join is
under way, so no batch is in hand when that happens.

noida-db also answers a fetch at once instead of holding it for ``fetch.wait.max.ms``,
so a consumer that is not behind re-fetches without pause (an idle trainer took 46 %
of a core, and the broker 37 % more, answering it). Against the dev broker a
:class:`GroupConsumer` therefore polls briefly (:data:`FETCH_WINDOW_S`) and, after a
poll that found less than half of what it asked for, rests: it stops fetching for the
poll's timeout (after records) or :data:`REST_S` (doubling while polls find nothing),
as a real broker's long poll would make it wait, then wakes librdkafka's fetcher; not
after a poll that found nothing while fetched records are known to wait (pausing would
drop them). With a real broker a :class:`GroupConsumer` is a plain subscribed consumer.

The ingest loop replaces its clients itself on any broker fault
(``streams/worker/recovery.py``); it uses :class:`JoinWatch` for the stalled join.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from confluent_kafka import Consumer, KafkaException, Message, TopicPartition

from streamtune.config import Settings
from streamtune.processes import close_consumer

log = logging.getLogger(__name__)
JOIN_STALL_S = 20.0
"""Dev broker only: how long a join may go unanswered before it is given up and made again."""
FETCH_WINDOW_S = 0.05
"""Dev broker only: how long a poll waits for records (fetched within milliseconds)."""
REST_S = (0.1, 0.5)
"""Dev broker only: the first rest after a poll that found nothing, and the longest (polls
that keep finding nothing double it; one that found a few records rests for the poll's
timeout, up to the longest)."""
SETTLE_S = (0.5, 3.0)
"""Dev broker only: no rest this soon after an assignment (the first figure), nor until each
assigned partition was fetched once, for at most the second: before that librdkafka may not
know where to start, and pausing a partition meanwhile could keep it from ever being
fetched. A worker used to wait the whole 3 s, its fetcher busy for ~1.4 CPU-s."""


def read_ahead(settings: Settings) -> dict[str, int]:
    """How a consumer of batches fetches (librdkafka options): a fetch waits at most 100 ms
    for records, and each partition is read so far ahead.

    librdkafka keeps fetching a partition until ``queued.min.messages`` of it wait
    locally (100,000 by default). Against the dev broker, which answers a fetch at
    once, a partition whose records are all fetched but not yet read is then
    re-fetched without pause: with 1 MB fetches and 10,000 records read ahead per
    partition, a worker working off a backlog spent 38 % of a core in librdkafka and
    47 % in the broker (2,339 and 3,491 events/s). Reading 200 records (128 KB) ahead
    per partition: 12-26 % and 23-40 %, 3,232-6,154 events/s over 12 runs in the
    same session. With a real broker (which holds a fetch) two batches are read
    ahead per partition. Either way a partition over its read-ahead is checked
    again after 20 ms, not 1 s. (A stage reads ahead less: :func:`stage_read_ahead`.)
    """
    ahead = ({"queued.min.messages": 200, "max.partition.fetch.bytes": 128 * 1024}
             if settings.kafka.embedded
             else {"queued.min.messages": 2 * settings.pipeline.batch_max_events})
    return {**ahead, "fetch.wait.max.ms": 100, "fetch.queue.backoff.ms": 20}


STAGE_FETCH_REST_MS = 10
"""Dev broker only: how long a stage's partition rests after a fetch that brought a record."""


def stage_read_ahead(settings: Settings) -> dict[str, int]:
    """How a stage's :class:`GroupConsumer` fetches (detect, augment): as :func:`read_ahead`,
    but against the dev broker a partition is fetched again only :data:`STAGE_FETCH_REST_MS`
    after a fetch that brought any record (a threshold of one record), not at once while
    fewer than 200 wait.

    ``benchmarks/pipeline.py --events 20000 --detect-stage``, three alternating pairs: the
    detect stage did 26,316-31,250 raw events per stage CPU-second live against
    21,277-23,529 (24,691-31,746 against 22,222-25,000 over a backlog), its librdkafka
    15-20 µs per raw event against 24-28 live. The ingest loop did not gain: with it, its worker
    did 7-9 % fewer events per CPU-second at full speed, though p99 at 5,000 events/s
    halved (``docs/performance.md``). The rest must stay shorter than a poll's
    :data:`FETCH_WINDOW_S`, or records fetched late wait out the next rest.
    """
    options = read_ahead(settings)
    if settings.kafka.embedded:
        options.update({"queued.min.messages": 1, "fetch.queue.backoff.ms": STAGE_FETCH_REST_MS})
    return options


Rebalanced = Callable[[Consumer, list[TopicPartition]], None]


def settled(consumer: Consumer, assignment: list[TopicPartition], since_s: float) -> bool:
    """Whether a consumer given ``assignment`` ``since_s`` ago may pause it
    (:data:`SETTLE_S`): each partition has an end offset known from a fetch answer."""
    if since_s < SETTLE_S[0]:
        return False
    if since_s >= SETTLE_S[1]:
        return True
    try:
        return all(consumer.get_watermark_offsets(tp, cached=True)[1] >= 0
                   for tp in assignment)
    except KafkaException:
        return False


def known_lags(consumer: Consumer) -> dict[tuple[str, int], int]:
    """Records past the consumer's position per assigned partition it has read from, as of
    its last fetches (a partition whose end offset is unknown is left out)."""
    try:
        positions = consumer.position(consumer.assignment())
    except KafkaException:
        return {}
    lags = {}
    for tp in positions:
        if tp.offset < 0:  # nothing read from it yet
            continue
        try:
            _, high = consumer.get_watermark_offsets(tp, cached=True)
        except KafkaException:
            continue
        lags[(tp.topic, tp.partition)] = max(high - tp.offset, 0)
    return lags


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

    @property
    def under_way(self) -> bool:
        """Whether the consumer is joining its group (no assignment since it subscribed or
        since its partitions were revoked)."""
        return self._joining_since is not None

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
        self.rests = 0
        """Rests taken (the dev broker only)."""
        self._paced = dev_broker
        self._clock = clock
        self._assigned_at = clock()
        self._next_rest_s = REST_S[0]
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
        self._assigned_at = self._clock()
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
        of the one in use stalled; against the dev broker, then maybe a rest (see the
        module's docstring), unless ``timeout_s`` is 0."""
        waited = self.watch.stalled()
        if waited is not None:
            log.warning("the group %s has not answered the consumer's join in %.0f s: "
                        "joining again with a new consumer", self._conf["group.id"], waited)
            close_consumer(self.consumer, seconds=5.0)
            self.consumer = self._subscribed()
            self.rejoins += 1
        if not self._paced or timeout_s <= 0 or self.watch.under_way:
            # joining, nothing is fetched: wait the whole timeout for the group's answer
            # (a close that had to serve it instead hung in librdkafka, holding the GIL)
            return list(self.consumer.consume(count, timeout_s))
        messages = list(self.consumer.consume(count, min(timeout_s, FETCH_WINDOW_S)))
        self._rest(len(messages), count, timeout_s)
        return messages

    def _rest(self, got: int, count: int, timeout_s: float) -> None:
        """After a poll that found less than half of ``count``: pause, wait (``timeout_s``
        after records, as a long poll lets a batch gather), resume and wake the fetcher
        (a resumed partition is otherwise fetched only at the broker thread's next
        wake-up, up to a second later)."""
        if got >= max(count // 2, 1):
            self._next_rest_s = REST_S[0]
            return
        assignment = self.consumer.assignment()
        if not assignment or not settled(self.consumer, assignment,
                                         self._clock() - self._assigned_at):
            return
        if not got and any(known_lags(self.consumer).values()):
            return  # fetched records on their way: pausing would drop them
        rest_s = min(timeout_s, REST_S[1]) if got else self._next_rest_s
        self._next_rest_s = REST_S[0] if got else min(rest_s * 2, REST_S[1])
        self.consumer.pause(assignment)
        time.sleep(rest_s)
        self.consumer.resume(assignment)
        self.rests += 1
        try:
            self.consumer.list_topics(assignment[0].topic, timeout=1.0)
        except KafkaException as exc:
            log.debug("wake-up metadata request failed: %s", exc)

    def close(self) -> bool:
        """Close the consumer in use without hanging a stop (``close_consumer``)."""
        return close_consumer(self.consumer)
