"""The producer SDK the control system uses to send events.

Events are validated before they leave the process, sent by an idempotent
producer to ``raw.<source>`` keyed by ``session_id`` (so one session's events
stay in order), and every delivery is confirmed: failures reach the
``on_delivery`` callback, or are raised as :class:`DeliveryFailed` at the
next ``flush``/``close``.

The producer outlives its broker. While the broker is away, events wait in the
client's queue (one warning when it goes, one when it is back). A fatal error
of the idempotent producer (the broker came back with a shorter log than it had
acknowledged: ``OUT_OF_ORDER_SEQUENCE_NUMBER``) recreates the client and resends
every event not acknowledged yet, and those acknowledged in the last
``replay_window`` seconds, which such a broker may have lost: rows are
idempotent by ``event_id``, so a resend is harmless downstream.

The fatal error is not the only sign of a lost log: a partition's offsets only
grow, so an acknowledgement at or below the highest offset acknowledged there
before means Kafka came back shorter (a producer with idempotence off gets no
error at all). The events of that partition still in the replay window are then
resent. Whatever the log lost below the window cannot be resent: it is counted
in ``lost``, logged as an error, and ``flush`` raises :class:`DeliveryFailed`.

Examples
--------
>>> with EventProducer("127.0.0.1:19092") as producer:  # doctest: +SKIP
...     producer.send({"kind": "command", "raw_input": "restart pump 3", ...})
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition

from streamtune import __version__
from streamtune.config import Settings
from streamtune.errors import DeliveryFailed
from streamtune.schemas.decode import validate_payload
from streamtune.schemas.events import Event, EventBase
from streamtune.schemas.topics import raw_topic
from streamtune.streams.kafka.replay_window import ReplayWindow

log = logging.getLogger(__name__)

Headers = list[tuple[str, str | bytes | None]]

LOGGED_FAILURES = 3
"""Failed deliveries logged one by one; the rest are only counted (see ``reasons``)."""
MAX_RECOVERIES = 5
"""Fatal errors in a row, without an acknowledgement between them, before giving up."""
_PRODUCER_ONLY = frozenset({"enable.idempotence", "acks", "linger.ms", "compression.type"})
"""Options of the producer a consumer (checking where partitions end) leaves out."""


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """Outcome of one send: where it landed, or why it did not."""

    event_id: str
    topic: str
    partition: int
    offset: int
    error: str | None


DeliveryCallback = Callable[[DeliveryReport], None]


@dataclass(frozen=True, slots=True)
class _Record:
    """One send, kept until Kafka acknowledges it (and a while after)."""

    topic: str
    value: bytes
    key: bytes | None
    headers: Headers | None
    event_id: str


@dataclass(frozen=True, slots=True)
class _Acked:
    """A record Kafka acknowledged, and where it landed."""

    record: _Record
    partition: int
    offset: int

    @property
    def where(self) -> tuple[str, int]:
        return self.record.topic, self.partition


class RateLimitFilter(logging.Filter):
    """Let through the first record of each kind per ``every`` seconds; count the rest.

    A kind is the logger, level and the message's first ``prefix`` characters (the
    librdkafka facility and broker), so a flood of reconnect failures becomes one line
    per ``every`` seconds that says how many were held back.
    """

    def __init__(self, every: float = 30.0, prefix: int = 40,
                 only: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.every = every
        self.prefix = prefix
        self.only = only
        """Libraries (logger names, with their children) it limits, each one kind per
        level whatever the message; empty: every record it sees, kinds as above."""
        self._last: dict[tuple[str, int, str], float] = {}
        self._held: Counter[tuple[str, int, str]] = Counter()

    def filter(self, record: logging.LogRecord) -> bool:
        if self.only:
            library = next((name for name in self.only if record.name == name
                            or record.name.startswith(f"{name}.")), None)
            if library is None:
                return True
            kind = (library, record.levelno, "")
        else:
            kind = (record.name, record.levelno, record.getMessage()[:self.prefix])
        now = time.monotonic()
        if now - self._last.get(kind, -self.every) < self.every:
            self._held[kind] += 1
            return False
        self._last[kind] = now
        held = self._held.pop(kind, 0)
        if held:
            record.msg = f"{record.getMessage()} ({held} similar lines held back)"
            record.args = None
        return True


_RDKAFKA_LOG = logging.getLogger("streamtune.rdkafka.producer")
_RDKAFKA_LOG.addFilter(RateLimitFilter())


class EventProducer:
    """Validate and send events to their raw topics.

    Parameters
    ----------
    bootstrap_servers
        Kafka ``host:port`` list.
    topic_prefix
        Prefix of every topic name (the same as ``STREAMTUNE_TOPICS__PREFIX``).
    client_options
        Extra librdkafka producer options (security, compression, ...).
    on_delivery
        Called with a :class:`DeliveryReport` for every event; without it,
        failures are raised by ``flush``/``close``.
    replay_window
        Seconds of acknowledged events resent when Kafka comes back with a shorter log
        (the dev broker loses up to its last save, about a second, when it is killed);
        time while Kafka is unreachable does not count.
    """

    def __init__(
        self,
        bootstrap_servers: str,
        *,
        topic_prefix: str = "",
        client_options: Mapping[str, Any] | None = None,
        on_delivery: DeliveryCallback | None = None,
        replay_window: float = 5.0,
    ) -> None:
        self._conf: dict[str, Any] = {
            "bootstrap.servers": bootstrap_servers,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 5,
            "compression.type": "lz4",
            "client.id": f"streamtune-producer/{__version__}",
            "logger": _RDKAFKA_LOG,
            "error_cb": self._client_error,
            **(client_options or {}),
        }
        self._prefix = topic_prefix
        self._on_delivery = on_delivery
        self._failures: list[DeliveryReport] = []
        self._pending: dict[int, _Record] = {}
        self._recent: ReplayWindow[_Acked] = ReplayWindow(replay_window)
        self._highest: dict[tuple[str, int], int] = {}
        """Per partition written to, the highest offset Kafka acknowledged there."""
        self._replayed_from: dict[tuple[str, int], int] = {}
        """Per partition, the lowest offset among the acknowledged records the last
        recovery resent (until its first acknowledgement after that recovery)."""
        self._shortened: list[_Acked] = []
        """Acknowledged records of partitions found shorter, to resend at the next poll."""
        self._missing: dict[tuple[str, int], int] = {}
        """Per partition found shorter, how many acknowledged records it lost below those
        resent (to count and report at the next poll)."""
        self._lost_unraised = 0
        self._verify = False
        """Whether Kafka was away since the partitions' ends were last checked."""
        self._next_id = 0
        self._fatal: KafkaError | None = None
        self._fatal_streak = 0
        self._away_since: float | None = None
        self.reasons: Counter[str] = Counter()
        """Why deliveries failed, with how many each."""
        self.sent = 0
        self.failed = 0
        self.acknowledged = 0
        self.resent = 0
        self.recoveries = 0
        self.outages = 0
        self.lost = 0
        """Acknowledged events a shortened log lost below the replay window (an upper
        bound: other producers' records of those partitions count too)."""
        self._producer = Producer(self._conf)

    @classmethod
    def from_settings(
        cls, settings: Settings, *, on_delivery: DeliveryCallback | None = None
    ) -> EventProducer:
        from streamtune.config import client_config

        options = {k: v for k, v in client_config(settings).items()
                   if k not in ("bootstrap.servers", "logger")}
        return cls(
            settings.kafka.servers, topic_prefix=settings.topics.prefix,
            client_options=options, on_delivery=on_delivery,
        )

    def topic_for(self, event: EventBase) -> str:
        """Raw topic an event goes to."""
        return raw_topic(event.kind, self._prefix)  # type: ignore[attr-defined]

    def send(self, event: Event | Mapping[str, Any]) -> None:
        """Validate ``event`` (a model or a JSON-like mapping) and queue it for delivery.

        Raises
        ------
        InvalidEvent
            When a mapping does not validate; nothing is sent.
        """
        model = event if isinstance(event, EventBase) else validate_payload(dict(event))
        headers: Headers = [
            ("kind", model.kind.encode()),
            ("schema_version", str(model.schema_version).encode()),
            ("event_id", str(model.event_id).encode()),
            ("content-type", b"application/json"),
        ]
        self.send_bytes(
            self.topic_for(model), model.model_dump_json().encode(),
            key=model.session_id.encode(), headers=headers,
        )

    def send_bytes(
        self,
        topic: str,
        value: bytes,
        *,
        key: bytes | None = None,
        headers: Headers | None = None,
    ) -> None:
        """Queue pre-encoded bytes as they are, unvalidated (tools, tests, replays)."""
        self.sent += 1
        self._produce(_Record(topic, value, key, headers, _event_id(headers)))
        self._poll(0)

    def _produce(self, record: _Record) -> None:
        token = self._next_id
        self._next_id += 1
        self._pending[token] = record
        while True:
            try:
                self._producer.produce(record.topic, value=record.value, key=record.key,
                                       headers=record.headers,
                                       on_delivery=partial(self._delivered, token))
                return
            except BufferError:
                self._poll(0.05)
                if token not in self._pending:  # a recovery resent it meanwhile
                    return
            except KafkaException as exc:
                error: KafkaError = exc.args[0]
                if _is_fatal(error):
                    self._fatal = error
                    return  # kept pending: resent by the recovery
                # refused at once (too large; a topic the client already knows is missing):
                # reported like a send Kafka refuses later, not raised from here
                self._settle(token, DeliveryReport(record.event_id, record.topic, -1, -1,
                                                   error.str()))
                return

    def _poll(self, timeout: float) -> None:
        try:
            self._producer.poll(timeout)
        except KafkaException as exc:
            self._fatal = exc.args[0]
        if self._fatal is not None:
            self._recover()
        if self._shortened or self._missing:
            self._resend_shortened()

    def _client_error(self, error: KafkaError) -> None:
        if error.fatal():
            self._fatal = error
        elif error.code() == KafkaError._ALL_BROKERS_DOWN and self._away_since is None:
            self._away_since = time.monotonic()
            self._recent.away()
            self._verify = True
            self.outages += 1
            log.warning("Kafka at %s is unreachable; holding %d unacknowledged events and "
                        "retrying until it is back", self._conf["bootstrap.servers"],
                        len(self._pending))

    def _delivered(self, token: int, err: KafkaError | None, msg: Message) -> None:
        record = self._pending.get(token)
        if record is None:  # a superseded client's report
            return
        if err is not None and (_is_fatal(err) or self._fatal is not None):
            self._fatal = self._fatal or err
            return  # kept pending: resent by the recovery
        if err is None:
            self._back()
            report = DeliveryReport(record.event_id, msg.topic() or "", msg.partition() or 0,
                                    msg.offset() or 0, None)
            self._check_log((report.topic, report.partition), report.offset)
        else:
            report = DeliveryReport(record.event_id, record.topic, -1, -1, err.str())
        self._settle(token, report)

    def _back(self) -> None:
        self._fatal_streak = 0
        self._recent.back()
        if self._away_since is not None:
            log.warning("Kafka is back after %.1f s", time.monotonic() - self._away_since)
            self._away_since = None

    def _settle(self, token: int, report: DeliveryReport) -> None:
        record = self._pending.pop(token)
        if report.error is None:
            self.acknowledged += 1
            self._recent.acknowledged(_Acked(record, report.partition, report.offset))
        else:
            self._fail(report)
        if self._on_delivery is not None:
            self._on_delivery(report)

    def _fail(self, report: DeliveryReport) -> None:
        self.failed += 1
        self.reasons[report.error or ""] += 1
        if self.failed <= LOGGED_FAILURES:
            log.warning("delivery of event %s to %s failed: %s%s", report.event_id or "?",
                        report.topic, report.error,
                        "; further failures are counted, not logged"
                        if self.failed == LOGGED_FAILURES else "")
        if self._on_delivery is None:
            self._failures.append(report)

    def _recover(self) -> None:
        """Replace the client after a fatal error and resend what Kafka may not keep."""
        fatal, self._fatal = self._fatal, None
        reason = fatal.str() if fatal is not None else "fatal error"
        old, pending = self._producer, sorted(self._pending.items())
        self._pending.clear()
        old.purge()
        self._fatal_streak += 1
        self._verify = True
        if self._fatal_streak > MAX_RECOVERIES:
            for token, record in pending:
                self._pending[token] = record
                self._settle(token, DeliveryReport(record.event_id, record.topic, -1, -1,
                                                   reason))
            return
        replay = self._recent.take()
        self._replayed_from = {}
        for acked in replay:
            lowest = self._replayed_from.get(acked.where, acked.offset)
            self._replayed_from[acked.where] = min(lowest, acked.offset)
        self.recoveries += 1
        self.resent += len(pending) + len(replay)
        log.warning("the producer failed (%s); recreated it, resending %d unacknowledged "
                    "events and %d acknowledged in the last %.0f s", reason, len(pending),
                    len(replay), self._recent.seconds)
        self._producer = Producer(self._conf)
        self._produce_again(replay)
        for _, record in pending:
            self._produce(record)

    def _check_log(self, where: tuple[str, int], offset: int) -> None:
        """Note an acknowledgement at ``offset`` of partition ``where``: one at or below the
        highest acknowledged there before means its log came back shorter."""
        replayed_from = self._replayed_from.pop(where, None)
        highest = self._highest.get(where)
        if offset < 0:  # no offset reported (acks=0)
            return
        self._highest[where] = offset
        if highest is not None and offset <= highest:
            self._shortened_at(where, offset, highest, replayed_from)

    def _verify_logs(self) -> None:
        """After an outage, ask Kafka where each partition written to ends: one that ends at
        or below the highest offset acknowledged there came back shorter (this finds it even
        when nothing is written there again)."""
        self._verify = False
        conf = {k: v for k, v in self._conf.items() if k not in _PRODUCER_ONLY}
        consumer = Consumer({**conf, "group.id": "streamtune-producer-check"})
        try:
            for where, highest in list(self._highest.items()):
                end = consumer.get_watermark_offsets(TopicPartition(*where), timeout=5.0)[1]
                if end <= highest:
                    self._highest[where] = end - 1
                    self._shortened_at(where, end, highest, self._replayed_from.pop(where, None))
        except KafkaException:
            self._verify = True  # away again: checked at the next flush
        finally:
            consumer.close()

    def _shortened_at(self, where: tuple[str, int], end: int, highest: int,
                      replayed_from: int | None) -> None:
        """Partition ``where`` lost its records from offset ``end`` on (at most), up to
        ``highest``: take those still in the replay window for a resend, and count what it
        lost below them (below ``replayed_from`` too, when a recovery resent that already)."""
        kept = self._recent.take(lambda acked: acked.where == where)
        self._shortened += kept
        resent_from = [acked.offset for acked in kept]
        if replayed_from is not None:
            resent_from.append(replayed_from)
        missing = min(resent_from, default=highest + 1) - end
        if missing > 0:
            self._missing[where] = missing

    def _resend_shortened(self) -> None:
        """Resend what :meth:`_shortened_at` took, and say what was lost: outside the
        delivery callbacks, one line for all the partitions found shorter meanwhile."""
        shortened, self._shortened = self._shortened, []
        missing, self._missing = self._missing, {}
        if shortened:
            log.warning("Kafka came back with a shorter log than it acknowledged: resending "
                        "%d events acknowledged in the last %.0f s", len(shortened),
                        self._recent.seconds)
        if missing:
            lost = sum(missing.values())
            self.lost += lost
            self._lost_unraised += lost
            log.error("Kafka lost up to %d acknowledged events of %d partition(s) (%s), older "
                      "than the replay window: they cannot be resent", lost, len(missing),
                      ", ".join(f"{topic} [{partition}]" for topic, partition in missing))
        self.resent += len(shortened)
        self._produce_again(shortened)

    def _produce_again(self, acknowledged: list[_Acked]) -> None:
        """Send acknowledged records again (counted acknowledged again when they are)."""
        self.acknowledged -= len(acknowledged)
        for acked in acknowledged:
            self._produce(acked.record)

    @property
    def unacknowledged(self) -> int:
        """Events sent and neither acknowledged nor failed yet."""
        return len(self._pending)

    @property
    def delivered(self) -> int:
        """Events Kafka confirmed (exact once ``flush`` returned)."""
        return self.acknowledged

    def flush(self, timeout: float = 30.0) -> None:
        """Wait for every queued event to be confirmed (recovering from fatal errors).

        Raises
        ------
        DeliveryFailed
            When events are still undelivered after ``timeout`` or Kafka
            rejected some (and no ``on_delivery`` callback takes failures).
        """
        deadline = time.monotonic() + timeout
        self._poll(0)  # an outage while idle is told here (then the partitions are checked)
        while time.monotonic() < deadline:
            while self._pending and time.monotonic() < deadline:
                self._poll(min(0.1, max(0.0, deadline - time.monotonic())))
            if self._pending or not self._verify:
                break
            self._verify_logs()
            self._poll(0)  # resends what a shortened log lost
        if self._pending:
            raise DeliveryFailed(
                f"{len(self._pending)} events still undelivered after {timeout:.0f} s "
                "(is the broker reachable?)"
            )
        if self._lost_unraised:
            lost, self._lost_unraised = self._lost_unraised, 0
            raise DeliveryFailed(f"Kafka lost up to {lost} acknowledged events, older than the "
                                 "replay window (its log came back shorter): not resent")
        if self._failures:
            first = self._failures[0]
            count = len(self._failures)
            self._failures.clear()
            raise DeliveryFailed(f"{count} events were not delivered; first: {first.error}")

    def close(self, timeout: float = 30.0) -> None:
        """Flush and release the producer."""
        self.flush(timeout)

    def __enter__(self) -> EventProducer:
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self._producer.flush(5.0)


def _is_fatal(error: KafkaError) -> bool:
    """True for the client's fatal error, and for sends refused because of one."""
    return bool(error.fatal()) or error.code() == KafkaError._FATAL


def _event_id(headers: Mapping[str, Any] | list[tuple[str, Any]] | None) -> str:
    """The ``event_id`` header of a record ('' without one)."""
    raw = dict(headers or []).get("event_id")
    return raw.decode(errors="replace") if isinstance(raw, bytes) else ""
