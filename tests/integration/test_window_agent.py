"""The window agent's gap reader returns exactly a range of a real window-deltas
partition, in order, whatever consumer group state there is."""

from __future__ import annotations

from confluent_kafka import Producer

from streamtune.config import Settings, client_config
from streamtune.streams.kafka.admin import create_topics
from streamtune.streams.worker.app import DeltaLogReader
from streamtune.streams.worker.ingest import deltas_topic


def test_reader_returns_exactly_the_asked_offsets(settings: Settings) -> None:
    create_topics(settings)
    producer = Producer(client_config(settings))
    for i in range(10):
        producer.produce(deltas_topic(settings), f"record {i}".encode(), partition=1)
    assert producer.flush(15) == 0

    reader = DeltaLogReader(settings, timeout_s=20)
    assert reader.read(1, 3, 8) == [(o, f"record {o}".encode()) for o in range(3, 8)]
    assert reader.read(1, 8, 100) == [(8, b"record 8"), (9, b"record 9")]  # stops at the end
    assert reader.read(1, 0, 1) == [(0, b"record 0")]
    assert reader.read(0, 0, 5) == []  # an empty partition
