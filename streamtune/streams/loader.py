"""A batch loader from the raw topics into the store, at least once.

It reads a batch, writes the valid events to their tables and the invalid
ones to ``dead_letters`` and the topic's DLQ, and only then commits the
batch's offsets: a crash replays at most one batch, and the store's
``event_id`` identity folds the replay away. The faust worker (streams
pipeline) does the full job; this loader is the minimal path the demo and
tests use to see events land.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from confluent_kafka import Consumer, KafkaException, Message, Producer

from streamtune.config import Settings
from streamtune.errors import BrokerUnavailable, InvalidEvent
from streamtune.schemas.dead_letter import DeadLetter
from streamtune.schemas.decode import decode_event
from streamtune.schemas.events import Event
from streamtune.schemas.topics import SOURCES, dlq_topic, raw_topic
from streamtune.sinks.rows import RowWriter
from streamtune.sinks.store import ClickHouseStore
from streamtune.streams.admin import client_config

log = logging.getLogger(__name__)


@dataclass
class LoadStats:
    """What a loader run did."""

    events: int = 0
    dead_letters: int = 0
    batches: int = 0
    rows_by_table: Counter[str] = field(default_factory=Counter)
    dead_by_category: Counter[str] = field(default_factory=Counter)


class RawLoader:
    """Consume every raw topic in batches into the store.

    Parameters
    ----------
    settings
        Where Kafka and the topics are.
    store
        The store to write to (its process owns it).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        store: ClickHouseStore,
        group_id: str = "streamtune-loader",
        batch_size: int = 5000,
    ) -> None:
        self.settings = settings
        self.writer = RowWriter(store)
        self.batch_size = batch_size
        conf = client_config(settings)
        self._consumer = Consumer({
            **conf, "group.id": group_id, "enable.auto.commit": False,
            "auto.offset.reset": "earliest", "session.timeout.ms": 10_000,
        })
        self._dlq = Producer({**conf, "enable.idempotence": True})
        self._consumer.subscribe(
            [raw_topic(kind, settings.topics.prefix) for kind in SOURCES]
        )
        self.stats = LoadStats()

    def _split(self, messages: list[Message]) -> tuple[list[tuple[Event, tuple[str, int, int]]],
                                                         list[DeadLetter]]:
        good, bad = [], []
        for msg in messages:
            position = (msg.topic() or "", msg.partition() or 0, msg.offset() or 0)
            raw = msg.value() or b""
            try:
                good.append((decode_event(raw), position))
            except InvalidEvent as exc:
                bad.append(DeadLetter.wrap(
                    raw, reason=exc.reason, category=exc.category,  # type: ignore[arg-type]
                    topic=position[0], partition=position[1], offset=position[2],
                ))
                log.debug("dead letter %s/%d/%d: %s", *position, exc.reason)
        return good, bad

    def step(self, timeout: float = 0.5) -> int:
        """Load one batch; return how many records it held."""
        batch = self._consumer.consume(self.batch_size, timeout)
        messages = [m for m in batch if m.error() is None]
        if not messages:
            return 0
        good, bad = self._split(messages)
        written = self.writer.write_events(good)
        if bad:
            self.writer.write_dead_letters(bad)
            for letter in bad:
                self._dlq.produce(dlq_topic(letter.topic), letter.model_dump_json().encode(),
                                  key=f"{letter.topic}/{letter.partition}".encode())
            if self._dlq.flush(10.0):
                raise BrokerUnavailable("dead letters could not be written to the DLQ topics")
        try:
            self._consumer.commit(asynchronous=False)
        except KafkaException as exc:
            log.warning("offset commit failed, the batch may be replayed: %s", exc)
        self.stats.events += len(good)
        self.stats.dead_letters += len(bad)
        self.stats.batches += 1
        self.stats.rows_by_table.update(written)
        self.stats.dead_by_category.update(d.category for d in bad)
        return len(messages)

    def run(self, *, idle_stop_s: float | None = None,
            should_stop: Callable[[], bool] = lambda: False,
            on_batch: Callable[[LoadStats], None] | None = None) -> LoadStats:
        """Load until ``should_stop()`` or until nothing arrived for ``idle_stop_s``."""
        last_data = time.monotonic()
        while not should_stop():
            if self.step():
                last_data = time.monotonic()
                if on_batch:
                    on_batch(self.stats)
            elif idle_stop_s is not None and time.monotonic() - last_data > idle_stop_s:
                break
        return self.stats

    def close(self) -> None:
        self._consumer.close()
        self._dlq.flush(5.0)
