"""Rests between fetches against the embedded dev broker.

That broker answers a fetch at once instead of holding it for
``fetch.wait.max.ms``, so a consumer that is not behind re-fetches without
pause: librdkafka's fetcher took 62 % of a core on an idle worker and about a
third while it processed a trickle, with the broker busy answering. Resting
(pausing the assigned partitions for a while) lets records gather at the
broker, as a real broker's long poll does, for ``batch_max_wait_ms`` of added
latency (up to 0.5 s after a longer idle spell). A batch then holds whatever each
partition gathered, some topics' records without the others': the drift detectors
put them back in event-time order across batches (``streams/live/event_order.py``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from confluent_kafka import Consumer, KafkaException

from streamtune.consumers import settled

log = logging.getLogger(__name__)
LONGEST_REST_S = 0.5
"""Fetching pauses after a batch that was not full while less than half a batch waits,
for ``batch_max_wait_ms`` (the wait a real broker's long poll gives a batch; at low rates
each batch costs a chdb insert per table, ~5 ms each, so it is not shorter); after polls
that found nothing the rest doubles, up to this or ``batch_max_wait_ms`` if longer."""
FETCH_WINDOW_S = 0.02
"""How long the poll after a rest waits for the fetched records."""


class Rests:
    """When the ingest consumer rests, and waking it up (the dev broker only)."""

    def __init__(self, batch_max_events: int, known_lag: Callable[[], int], *,
                 rest_s: float) -> None:
        self.batch_max_events = batch_max_events
        self.known_lag = known_lag
        self.rests_s = (rest_s, max(rest_s, LONGEST_REST_S))
        """The first rest after records, and the longest after polls that found nothing."""
        self._resting_until: float | None = None
        self._rest_s = rest_s
        self._polled_empty_with_lag = False
        self._assigned_at = time.monotonic()

    def assigned(self) -> None:
        """Partitions were just assigned: no rest until they settle."""
        self._assigned_at = time.monotonic()

    def after_poll(self, consumer: Consumer, count: int, *, paused: bool) -> bool:
        """Rest after a poll that returned ``count`` records, when :meth:`may_rest`;
        return whether a rest began."""
        if count:
            self._rest_s, self._polled_empty_with_lag = self.rests_s[0], False
        return self.may_rest(count) and self._rest(consumer, paused=paused)

    def may_rest(self, count: int) -> bool:
        """Whether a poll that returned ``count`` records may be followed by a rest.

        Not after a full batch, nor after a partial one while half a batch or more
        waits. Not after the first empty poll while records are known to wait: they
        are on their way from the broker (pausing would drop them, and a worker that
        woke from a rest into a backlog rested again and again for seconds).
        """
        if count >= self.batch_max_events:
            return False
        waiting = self.known_lag()
        if count:
            return waiting < self.batch_max_events // 2
        if waiting and not self._polled_empty_with_lag:
            self._polled_empty_with_lag = True
            return False
        return True

    def _rest(self, consumer: Consumer, *, paused: bool) -> bool:
        """Stop fetching for a while (:attr:`rests_s`), until the next :meth:`wake`;
        return whether it did."""
        assignment = consumer.assignment()
        if paused or not assignment:  # backpressure owns the pause state
            return False
        if not settled(consumer, assignment, time.monotonic() - self._assigned_at):
            return False
        consumer.pause(assignment)
        self._resting_until = time.monotonic() + self._rest_s
        self._rest_s = min(self._rest_s * 2, self.rests_s[1])
        return True

    def wake(self, consumer: Consumer) -> bool:
        """End a rest, if resting: resume fetching, and make librdkafka fetch now.

        Resuming does not wake librdkafka's broker thread, which then fetches up
        to a second later; any request to the broker does, so a metadata request
        follows the resume. Returns whether it ended a rest.
        """
        if self._resting_until is None:
            return False
        time.sleep(max(0.0, self._resting_until - time.monotonic()))
        self._resting_until = None
        assignment = consumer.assignment()
        if not assignment:
            return False
        consumer.resume(assignment)
        try:
            consumer.list_topics(assignment[0].topic, timeout=1.0)
        except KafkaException as exc:
            log.debug("wake-up metadata request failed: %s", exc)
        return True

    def forget(self) -> None:
        """The consumer was replaced: whatever rest it was in is over."""
        self._resting_until = None
        self._rest_s, self._polled_empty_with_lag = self.rests_s[0], False
        self.assigned()
