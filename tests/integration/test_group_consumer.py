"""A group consumer whose join stalled is made again and reads on from the committed
offsets (against the real dev broker; the 20 s of a stall pass on a fake clock)."""

from __future__ import annotations

from confluent_kafka import Producer, TopicPartition

from streamtune.config import Settings, client_config
from streamtune.consumers import JOIN_STALL_S, GroupConsumer
from streamtune.schemas.topics import raw_topic
from streamtune.streams.kafka.admin import create_topics


def _read(group: GroupConsumer, count: int) -> list[bytes]:
    values: list[bytes] = []
    for _ in range(300):
        values += [m.value() or b"" for m in group.consume(count - len(values), 0.1)
                   if m.error() is None]
        if len(values) >= count:
            break
    return values


def test_a_stalled_join_is_made_again_and_an_assigned_consumer_is_kept(
        settings: Settings) -> None:
    create_topics(settings)
    topic = raw_topic("metric", settings.topics.prefix)
    producer = Producer(client_config(settings))

    def send(values: list[bytes]) -> None:
        for value in values:
            producer.produce(topic, value, partition=0)
        assert producer.flush(10) == 0

    sent = [f"record {i}".encode() for i in range(30)]
    send(sent[:20])
    conf = {**client_config(settings), "group.id": f"{settings.topics.prefix}g",
            "auto.offset.reset": "earliest", "enable.auto.commit": False}
    earlier = GroupConsumer(conf, [topic], dev_broker=True)
    assert _read(earlier, 5) == sent[:5]
    earlier.consumer.commit(offsets=[TopicPartition(topic, 0, 5)], asynchronous=False)
    assert earlier.close()

    now = [0.0]
    assigned: list[list[TopicPartition]] = []
    group = GroupConsumer(conf, [topic], dev_broker=True, clock=lambda: now[0],
                          on_assign=lambda consumer, partitions: assigned.append(partitions))
    try:
        first = group.consumer
        now[0] = JOIN_STALL_S + 1  # no assignment yet, as when the broker never answers
        assert _read(group, 15) == sent[5:20]
        assert group.rejoins == 1 and group.consumer is not first and assigned
        now[0] = 10_000.0  # assigned: however long it has been, no join is under way
        send(sent[20:])
        assert _read(group, 10) == sent[20:]
        assert group.rejoins == 1
    finally:
        assert group.close()
