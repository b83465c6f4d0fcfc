"""The alert dispatcher: alerts topic -> SQLite delivery queue -> signed webhook POSTs.

Each round it

1. reads alerts from ``<prefix>alerts`` (consumer group ``<prefix>streamtune-alerts``,
   static member ``<worker_id>-alerts``), queues one row per (alert, endpoint
   that wants it) in ``<data_dir>/alerts/deliveries.sqlite``, and commits the
   offsets only after that SQLite commit (a record that is not an Alert goes to
   the alerts DLQ as a DeadLetter first);
2. POSTs the due rows, each in a daemon thread, so a slow endpoint holds up
   neither the others nor shutdown;
3. stores each outcome: delivered, retry at ``now + backoff`` (or Retry-After),
   or dead (permanent failure or retry budget spent); dead rows go to
   ``<prefix>alerts.dlq`` with the host and last error, never a secret or the URL.

Delivery is once per alert id and endpoint as far as the queue can tell; a
crash between a 2xx and its SQLite commit sends that alert again, which is
why every request carries ``X-Streamtune-Alert-Id`` as an idempotency key.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, wait
from dataclasses import dataclass

from confluent_kafka import KafkaException, Message, Producer, TopicPartition
from prometheus_client import CollectorRegistry
from pydantic import ValidationError

from streamtune.config import Settings, WebhookEndpoint, client_config
from streamtune.consumers import GroupConsumer
from streamtune.schemas.alerts import Alert
from streamtune.schemas.dead_letter import DeadLetter
from streamtune.schemas.topics import dlq_topic, loop_topic
from streamtune.sinks.webhooks.http import Result, backoff, host_of, post
from streamtune.sinks.webhooks.metrics import WebhookMetrics
from streamtune.sinks.webhooks.payloads import render, wants
from streamtune.sinks.webhooks.queue import Delivery, DeliveryQueue, NewDelivery
from streamtune.sinks.webhooks.sending import dlq_record, request_headers

log = logging.getLogger(__name__)
MAX_IN_FLIGHT = 16
CLOSE_GRACE_S = 1.0
DLQ_RETRY_S = 30.0


def _in_thread(call: Callable[[], Result]) -> Future[Result]:
    future: Future[Result] = Future()

    def target() -> None:
        try:
            future.set_result(call())
        except Exception as exc:  # handed to the dispatcher thread
            future.set_exception(exc)

    threading.Thread(target=target, name="webhook-post", daemon=True).start()
    return future


@dataclass(frozen=True, slots=True)
class _Attempt:
    delivery: Delivery
    started_at: float
    clock: float
    future: Future[Result]


class AlertDispatcher:
    """Deliver alerts from Kafka to the configured webhooks; see the module docstring."""

    def __init__(self, settings: Settings, *, metrics: WebhookMetrics | None = None) -> None:
        self.settings = settings
        self.config = settings.webhooks
        self.metrics = metrics or WebhookMetrics(CollectorRegistry())
        self.topic = loop_topic("alerts", settings.topics.prefix)
        self.dlq = dlq_topic(self.topic)
        self.endpoints: dict[str, WebhookEndpoint] = {e.url: e for e in self.config.endpoints}
        self.queue = DeliveryQueue(settings.data_dir / "alerts" / "deliveries.sqlite")
        self._stop = threading.Event()
        self._closed = False
        self._rng = random.Random()  # noqa: S311 - retry jitter, not cryptography
        self._in_flight: dict[int, _Attempt] = {}
        self._dlq_checked = 0.0
        self._new_dead = True  # a previous run may have left some undeclared
        conf = client_config(settings)
        self.group = GroupConsumer({
            **conf, "group.id": f"{settings.topics.prefix}streamtune-alerts",
            "group.instance.id": f"{settings.worker_id}-alerts",
            "enable.auto.commit": False, "auto.offset.reset": "earliest",
            "session.timeout.ms": 10_000, "heartbeat.interval.ms": 1000,
            "fetch.wait.max.ms": 100,
        }, [self.topic], dev_broker=settings.kafka.embedded)
        self.producer = Producer({**conf, "enable.idempotence": True, "linger.ms": 5})

    # -- one round -------------------------------------------------------------------

    def step(self, *, wait_s: float = 0.5) -> int:
        """Consume, send due deliveries, and wait up to ``wait_s`` for them to finish.

        Returns the alert records read plus the attempts finished.
        """
        done = self._consume()
        self._launch()
        done += self._collect(wait_s)
        self._declare_dead()
        self.metrics.pending.set(self.queue.counts(self.endpoints)["pending"])
        return done

    def _consume(self) -> int:
        idle_wait = 0.0 if self._in_flight else 0.1  # don't idle while sends are finishing
        messages = [m for m in self.group.consume(500, idle_wait) if m.error() is None]
        if not messages:
            return 0
        rows: list[NewDelivery] = []
        for message in messages:
            alert = self._decode(message)
            if alert is None:
                continue
            text = alert.model_dump_json()
            rows += [NewDelivery(str(alert.alert_id), e.url, text, render(alert, e.format))
                     for e in self.endpoints.values() if wants(e, alert)]
        if self.producer.flush(10.0):
            log.error("Kafka did not confirm dead letters of %s: not committing", self.topic)
            self._rewind(messages)
            return 0
        new = self.queue.enqueue(rows, now=time.time())
        log.debug("%d alert records read, %d deliveries queued", len(messages), new)
        last: dict[int, int] = {}
        for m in messages:
            last[m.partition() or 0] = max(last.get(m.partition() or 0, -1), m.offset() or 0)
        try:
            self.group.consumer.commit(offsets=[TopicPartition(self.topic, p, o + 1)
                                                for p, o in last.items()], asynchronous=False)
        except KafkaException as exc:  # re-read later; the queue ignores repeats
            log.warning("alert offset commit failed (records will be re-read): %s", exc)
        return len(messages)

    def _decode(self, message: Message) -> Alert | None:
        raw = message.value() or b""
        try:
            return Alert.model_validate_json(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "alert"
            reason = f"{where}: {first['msg']}"
        where_read = f"{message.topic()}/{message.partition()}@{message.offset()}"
        log.warning("not an alert at %s, sent to %s: %s", where_read, self.dlq, reason)
        letter = DeadLetter.wrap(raw, reason=reason, category="validation",
                                 topic=message.topic() or self.topic,
                                 partition=message.partition() or 0,
                                 offset=message.offset() or 0)
        self.producer.produce(self.dlq, letter.model_dump_json().encode(),
                              key=f"{letter.topic}/{letter.partition}".encode())
        return None

    def _rewind(self, messages: list[Message]) -> None:
        first: dict[int, int] = {}
        for m in messages:
            first.setdefault(m.partition() or 0, m.offset() or 0)
        for partition, offset in first.items():
            self.group.consumer.seek(TopicPartition(self.topic, partition, offset))

    def _launch(self) -> None:
        free = MAX_IN_FLIGHT - len(self._in_flight)
        for delivery in self.queue.due(now=time.time(), urls=self.endpoints, limit=free,
                                       exclude=self._in_flight):
            endpoint = self.endpoints[delivery.url]
            headers = request_headers(delivery.alert_id, delivery.body,
                                      endpoint.secret or self.config.signing_secret)
            timeout = endpoint.timeout_s or self.config.timeout_s

            def call(d: Delivery = delivery, h: dict[str, str] = headers,
                     t: float = timeout) -> Result:
                return post(d.url, d.body, h, timeout_s=t)

            self._in_flight[delivery.id] = _Attempt(delivery, time.time(), time.perf_counter(),
                                                    _in_thread(call))

    def _collect(self, wait_s: float) -> int:
        if not self._in_flight:
            return 0
        wait([a.future for a in self._in_flight.values()], timeout=wait_s)
        finished = [a for a in self._in_flight.values() if a.future.done()]
        for attempt in finished:
            del self._in_flight[attempt.delivery.id]
            self._record(attempt)
        return len(finished)

    def _record(self, attempt: _Attempt) -> None:
        d, host = attempt.delivery, host_of(attempt.delivery.url)
        self.metrics.seconds.labels(host).observe(time.perf_counter() - attempt.clock)
        try:
            result = attempt.future.result()
        except Exception as exc:  # a bug in one attempt must not stop delivery
            result = Result("retry", None, f"{type(exc).__name__} while sending")
        now, outcome, next_at = time.time(), result.outcome, time.time()
        first = d.first_attempt_at or attempt.started_at
        if outcome == "retry" and now - first > self.config.retry_budget_s:
            outcome = "dead"
            spent = f"retry budget {self.config.retry_budget_s:g} s spent"
            result = Result("dead", result.status,
                            f"{result.error}; {spent} after {d.attempts + 1} attempts")
        elif outcome == "retry":
            delay = (min(result.retry_after_s, self.config.retry_max_s)
                     if result.retry_after_s is not None else
                     backoff(d.attempts + 1, initial_s=self.config.retry_initial_s,
                             max_s=self.config.retry_max_s, rng=self._rng))
            next_at = now + delay
        state = "pending" if outcome == "retry" else outcome
        self.queue.record(d.id, state=state, started_at=attempt.started_at, finished_at=now,
                          next_attempt_at=next_at, status=result.status, error=result.error)
        self.metrics.deliveries.labels(host, outcome).inc()
        if outcome == "delivered":
            log.info("alert %s delivered to %s (attempt %d)", d.alert_id, host, d.attempts + 1)
        elif outcome == "retry":
            log.warning("alert %s to %s: %s; retry in %.1f s", d.alert_id, host, result.error,
                        next_at - now)
        else:
            self._new_dead = True
            log.error("alert %s to %s failed for good: %s", d.alert_id, host, result.error)

    def _declare_dead(self) -> None:
        """Put dead deliveries on the alerts DLQ; retried until Kafka confirms them."""
        if not self._new_dead and time.monotonic() - self._dlq_checked < DLQ_RETRY_S:
            return
        self._new_dead, self._dlq_checked = False, time.monotonic()
        dead = self.queue.dead_not_sent()
        for d in dead:
            self.producer.produce(self.dlq, json.dumps(dlq_record(d)).encode(),
                                  key=d.alert_id.encode())
        if dead and self.producer.flush(5.0) == 0:
            self.queue.mark_dlq_sent(d.id for d in dead)
        elif dead:
            log.error("Kafka did not confirm %d dead alerts on %s; retrying", len(dead), self.dlq)

    # -- lifecycle ---------------------------------------------------------------------

    def run(self) -> None:
        """Deliver until :meth:`stop`, then :meth:`close`."""
        try:
            while not self._stop.is_set():
                self.step(wait_s=0.1)
        finally:
            self.close()

    def stop(self) -> None:
        """Ask :meth:`run` to return (within about a second)."""
        self._stop.set()

    def close(self) -> None:
        """Finish what completes within a second; the rest stays queued for next time."""
        if self._closed:
            return
        self._closed = True
        self._collect(CLOSE_GRACE_S)
        if self._in_flight:
            log.warning("%d webhook requests unfinished at shutdown: they will be resent",
                        len(self._in_flight))
        self.producer.flush(1.0)
        self.group.close()
        self.queue.close()
