"""Kafka administration: reachability, topic creation from the catalogue, message counts."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from streamtune.config import Settings, client_config
from streamtune.errors import BrokerUnavailable
from streamtune.schemas.topics import TopicSpec, catalogue

log = logging.getLogger(__name__)


def connect(settings: Settings, *, timeout: float = 5.0) -> AdminClient:
    """An admin client for a broker that answered, or :class:`BrokerUnavailable`."""
    admin = AdminClient(client_config(settings))
    try:
        admin.list_topics(timeout=timeout)
    except KafkaException as exc:
        hint = " (start it with `streamtune broker start`)" if settings.kafka.embedded else ""
        raise BrokerUnavailable(
            f"cannot reach Kafka at {settings.kafka.servers}{hint}: {exc.args[0].str()}"
        ) from None
    return admin


def create_topics(settings: Settings, *, timeout: float = 15.0) -> dict[str, str]:
    """Create every catalogue topic that is missing. Returns name -> created|exists."""
    admin = connect(settings)
    existing = set(admin.list_topics(timeout=timeout).topics)
    result = {spec.name: "exists" for spec in catalogue(settings) if spec.name in existing}
    missing = [
        NewTopic(s.name, s.partitions, settings.topics.replication_factor, config=s.config())
        for s in catalogue(settings)
        if s.name not in existing
    ]
    if not missing:
        return result
    for name, future in admin.create_topics(missing, operation_timeout=timeout).items():
        try:
            future.result()
            result[name] = "created"
        except KafkaException as exc:
            error = exc.args[0]
            if error.code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise BrokerUnavailable(f"cannot create topic {name}: {error.str()}") from None
            result[name] = "exists"
    return result


@dataclass(frozen=True, slots=True)
class TopicState:
    """A catalogue topic as the broker sees it."""

    spec: TopicSpec
    exists: bool
    partitions: int
    messages: int


def describe_topics(settings: Settings, *, timeout: float = 10.0) -> list[TopicState]:
    """Every catalogue topic with its partition count and messages held (end - start)."""
    metadata = connect(settings).list_topics(timeout=timeout)
    consumer = Consumer({**client_config(settings), "group.id": "streamtune-admin",
                         "enable.auto.commit": False})
    try:
        states = []
        for spec in catalogue(settings):
            topic = metadata.topics.get(spec.name)
            if topic is None:
                states.append(TopicState(spec, False, 0, 0))
                continue
            total = 0
            for part in topic.partitions:
                low, high = consumer.get_watermark_offsets(
                    TopicPartition(spec.name, part), timeout=timeout
                )
                total += max(high - low, 0)
            states.append(TopicState(spec, True, len(topic.partitions), total))
        return states
    finally:
        consumer.close()


def group_caught_up(settings: Settings, group: str, topics: list[str]) -> bool:
    """True when ``group`` has committed every record of ``topics`` (empty ones included)."""
    return all(part.end <= 0 or (part.committed is not None and part.committed >= part.end)
               for part in group_lags(settings, group, topics))


def end_offsets(settings: Settings, topic: str) -> dict[int, int]:
    """Partition -> end offset of ``topic`` ({} when it does not exist)."""
    consumer = Consumer({**client_config(settings), "group.id": "streamtune-admin",
                         "enable.auto.commit": False})
    try:
        metadata = consumer.list_topics(topic, timeout=10).topics.get(topic)
        if metadata is None or metadata.error is not None:
            return {}
        return {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                for p in metadata.partitions}
    finally:
        consumer.close()


@dataclass(frozen=True, slots=True)
class PartitionLag:
    """Where a consumer group stands in one partition."""

    topic: str
    partition: int
    committed: int | None
    """Next offset the group reads; None when it never committed here."""
    start: int
    end: int

    @property
    def lag(self) -> int:
        """Records the group has yet to read (from the start when it never committed)."""
        position = self.start if self.committed is None else max(self.committed, self.start)
        return max(self.end - position, 0)


def group_lags(settings: Settings, group: str, topics: list[str], *,
               timeout: float = 10.0) -> list[PartitionLag]:
    """Committed offset, start and end of every partition of ``topics`` (those that exist)
    for ``group``; reads the offsets only, never joins the group."""
    consumer = Consumer({**client_config(settings), "group.id": group,
                         "enable.auto.commit": False})
    try:
        metadata = consumer.list_topics(timeout=timeout)
        parts = [TopicPartition(t, p) for t in topics if t in metadata.topics
                 for p in sorted(metadata.topics[t].partitions)]
        lags = []
        for tp in consumer.committed(parts, timeout=timeout) if parts else []:
            low, high = consumer.get_watermark_offsets(TopicPartition(tp.topic, tp.partition),
                                                       timeout=timeout)
            lags.append(PartitionLag(tp.topic, tp.partition,
                                     tp.offset if tp.offset >= 0 else None, low, high))
        return lags
    finally:
        consumer.close()
