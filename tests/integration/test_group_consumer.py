"""A group consumer whose join stalled is made again and reads on from the committed
offsets, and one that finds little rests between fetches (against the real dev broker;
the 20 s of a stall and the settling after an assignment pass on a fake clock)."""

from __future__ import annotations

from confluent_kafka import Producer, TopicPartition

from streamtune.config import Settings, client_config
from streamtune.consumers import JOIN_STALL_S, SETTLE_S, GroupConsumer
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


def test_a_consumer_rests_after_polls_that_find_little_and_reads_what_comes_meanwhile(
        settings: Settings) -> None:
    create_topics(settings)
    topic = raw_topic("metric", settings.topics.prefix)
    producer = Producer(client_config(settings))
    conf = {**client_config(settings), "auto.offset.reset": "earliest",
            "enable.auto.commit": False}
    now = [0.0]
    paced = GroupConsumer({**conf, "group.id": f"{settings.topics.prefix}paced"}, [topic],
                          dev_broker=True, clock=lambda: now[0])
    plain = GroupConsumer({**conf, "group.id": f"{settings.topics.prefix}plain"}, [topic],
                          dev_broker=False)
    try:
        for group in (paced, plain):
            for _ in range(100):
                if group.consumer.assignment():
                    break
                assert group.consume(10, 0.1) == []
        assert paced.consumer.assignment() and plain.consumer.assignment()
        assert paced.rests == 0  # assigned just now: no rest before it settles
        now[0] = SETTLE_S[0]  # settled once its partition was fetched: it rests then
        for _ in range(50):
            if paced.consume(10, 0.1) == [] and paced.rests:
                break
        assert paced.rests == 1
        _, high = paced.consumer.get_watermark_offsets(TopicPartition(topic, 0), cached=True)
        assert high >= 0  # it had been fetched
        polls = [(len(paced.consume(10, 0.1)), paced.rests) for _ in range(3)]
        assert polls == [(0, 2), (0, 3), (0, 4)]  # nothing there: a rest after each poll
        assert [plain.consume(10, 0.1) for _ in range(3)] == [[], [], []]
        assert plain.rests == 0  # a real broker's long poll waits instead

        sent = [f"record {i}".encode() for i in range(40)]
        for value in sent:
            producer.produce(topic, value, partition=0)
        assert producer.flush(10) == 0
        got: list[bytes] = []
        for _ in range(300):
            before = paced.rests
            messages = [m.value() or b"" for m in paced.consume(4, 0.1) if m.error() is None]
            got += messages
            if messages:  # a poll finding half of what it asked for goes on, one finding less rests
                assert paced.rests - before == (len(messages) < 2), len(messages)
            if len(got) == len(sent):
                break
        assert got == sent  # read in order, none lost to a pause
    finally:
        assert paced.close() and plain.close()
