"""The producer SDK the control system uses to send events.

Events are validated before they leave the process, sent by an idempotent
producer to ``raw.<source>`` keyed by ``session_id`` (so one session's events
stay in order), and every delivery is confirmed: failures reach the
``on_delivery`` callback, or are raised as :class:`DeliveryFailed` at the
next ``flush``/``close``.

Examples
--------
>>> with EventProducer("127.0.0.1:19092") as producer:  # doctest: +SKIP
...     producer.send({"kind": "command", "raw_input": "restart pump 3", ...})
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from streamtune import __version__
from streamtune.config import Settings
from streamtune.errors import DeliveryFailed
from streamtune.schemas.decode import validate_payload
from streamtune.schemas.events import Event, EventBase
from streamtune.schemas.topics import raw_topic

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """Outcome of one send: where it landed, or why it did not."""

    event_id: str
    topic: str
    partition: int
    offset: int
    error: str | None


DeliveryCallback = Callable[[DeliveryReport], None]


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
    """

    def __init__(
        self,
        bootstrap_servers: str,
        *,
        topic_prefix: str = "",
        client_options: Mapping[str, Any] | None = None,
        on_delivery: DeliveryCallback | None = None,
    ) -> None:
        conf: dict[str, Any] = {
            "bootstrap.servers": bootstrap_servers,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 5,
            "compression.type": "lz4",
            "client.id": f"streamtune-producer/{__version__}",
            "logger": logging.getLogger("streamtune.rdkafka"),
            "on_delivery": self._delivered,
            # without a callback only failures need reporting: a cheaper path
            "delivery.report.only.error": on_delivery is None,
            **(client_options or {}),
        }
        self._producer = Producer(conf)
        self._prefix = topic_prefix
        self._on_delivery = on_delivery
        self._failures: list[DeliveryReport] = []
        self.sent = 0
        self.failed = 0

    @classmethod
    def from_settings(
        cls, settings: Settings, *, on_delivery: DeliveryCallback | None = None
    ) -> EventProducer:
        from streamtune.streams.admin import client_config

        options = {k: v for k, v in client_config(settings).items() if k != "bootstrap.servers"}
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
        headers: list[tuple[str, str | bytes | None]] = [
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
        headers: list[tuple[str, str | bytes | None]] | None = None,
    ) -> None:
        """Queue pre-encoded bytes as they are, unvalidated (tools, tests, replays)."""
        while True:
            try:
                self._producer.produce(topic, value=value, key=key, headers=headers)
                break
            except BufferError:
                self._producer.poll(0.05)
            except KafkaException as exc:
                # refused at once (too large; a topic the client already knows is missing):
                # reported like a send Kafka refuses later, not raised from here
                self.sent += 1
                self._report(DeliveryReport(_event_id(headers), topic, -1, -1,
                                            exc.args[0].str()))
                return
        self.sent += 1
        self._producer.poll(0)

    def _delivered(self, err: KafkaError | None, msg: Message) -> None:
        delivered = err is None
        self._report(DeliveryReport(
            _event_id(msg.headers()), msg.topic() or "",
            (msg.partition() or 0) if delivered else -1,
            (msg.offset() or 0) if delivered else -1, None if err is None else err.str(),
        ))

    def _report(self, report: DeliveryReport) -> None:
        if report.error is not None:
            self.failed += 1
            log.warning("delivery of event %s to %s failed: %s", report.event_id, report.topic,
                        report.error)
            if self._on_delivery is None:
                self._failures.append(report)
        if self._on_delivery is not None:
            self._on_delivery(report)

    @property
    def delivered(self) -> int:
        """Events Kafka confirmed (exact once ``flush`` returned)."""
        return self.sent - self.failed - len(self._producer)

    def flush(self, timeout: float = 30.0) -> None:
        """Wait for every queued event to be confirmed.

        Raises
        ------
        DeliveryFailed
            When events are still undelivered after ``timeout`` or Kafka
            rejected some (and no ``on_delivery`` callback takes failures).
        """
        remaining = self._producer.flush(timeout)
        if remaining:
            raise DeliveryFailed(
                f"{remaining} events still undelivered after {timeout:.0f} s "
                "(is the broker reachable?)"
            )
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


def _event_id(headers: Mapping[str, Any] | list[tuple[str, Any]] | None) -> str:
    """The ``event_id`` header of a record ('' without one)."""
    raw = dict(headers or []).get("event_id")
    return raw.decode(errors="replace") if isinstance(raw, bytes) else ""
