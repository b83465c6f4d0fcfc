"""How the ingest loop notices a broker fault, and waits for the broker to come back.

A fault the loop recovers from in the process: a fatal client error (the
idempotent producer's sequence broken by a broker that lost acknowledged
records, a fenced static member), a send Kafka did not confirm, a broker
that stopped answering, or (the dev broker only) a group join it never
answered. The loop then drops its unfinished batches, replaces
its consumer and producer and resumes from the committed offsets (rows fold by
``event_id``, window deltas by their first offset, so the replay changes
nothing). While the broker is away it backs off and says so in one line, one
per back-off step at most, and one when it is back.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from confluent_kafka import KafkaError, Message
from confluent_kafka.admin import AdminClient

from streamtune.consumers import JoinWatch

log = logging.getLogger(__name__)
BACKOFF_S = (0.5, 10.0)
"""First and longest wait between two looks for the broker."""


class BrokerFault(Exception):
    """The ingest loop's clients must be replaced (see the module docstring)."""


class ClientWatch:
    """The error and delivery callbacks of the ingest loop's clients.

    It remembers a fatal error and the first send Kafka refused, for
    :meth:`check` to raise at the next batch boundary; with ``join_stall_s`` it
    also raises when the consumer waited that long for an assignment.
    """

    def __init__(self, *, join_stall_s: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._fault: str | None = None
        self.failed_sends = 0
        self.away_since: float | None = None
        self.join = JoinWatch(join_stall_s, clock=clock)

    def on_error(self, error: KafkaError) -> None:
        """librdkafka's ``error_cb``: fatal errors are faults; a broker gone is said once."""
        if error.fatal() and self._fault is None:
            self._fault = f"fatal Kafka error: {error.str()}"
        elif error.code() == KafkaError._ALL_BROKERS_DOWN and self.away_since is None:
            self.away_since = time.monotonic()
            log.warning("Kafka went away: reading and sending wait for it")

    def back(self) -> None:
        """Kafka answered: say so once if it had gone away."""
        if self.away_since is not None:
            log.warning("Kafka is back after %.1f s", time.monotonic() - self.away_since)
            self.away_since = None

    def on_delivery(self, error: KafkaError | None, message: Message) -> None:
        """Every send's report: one that failed makes its batch unconfirmed."""
        if error is None:
            return
        self.failed_sends += 1
        if self._fault is None:
            self._fault = f"a send to {message.topic()} failed: {error.str()}"

    def check(self) -> None:
        """Raise :class:`BrokerFault` when a fault was seen since the clients were made."""
        if self._fault is not None:
            raise BrokerFault(self._fault)
        waited = self.join.stalled()
        if waited is not None:
            raise BrokerFault(f"the group has not answered the consumer's join in {waited:.0f} s")


def broker_answers(conf: dict[str, Any], timeout: float = 2.0) -> bool:
    """Whether the cluster answers a metadata request within ``timeout`` seconds."""
    admin = AdminClient({**conf, "log_level": 0})
    try:
        admin.list_topics(timeout=timeout)
    except Exception:  # noqa: BLE001 - any failure means "not yet"
        return False
    return True


def wait_for_broker(conf: dict[str, Any], stop: threading.Event) -> float | None:
    """Back off until the broker answers; the seconds waited, ``None`` when stopped."""
    started, wait = time.monotonic(), BACKOFF_S[0]
    while not broker_answers(conf):
        log.warning("Kafka does not answer: next look in %.1f s", wait)
        if stop.wait(wait):
            return None
        wait = min(wait * 2, BACKOFF_S[1])
    return time.monotonic() - started
