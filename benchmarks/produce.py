"""Producer throughput: the EventProducer SDK vs raw confluent-kafka, same broker, same run.

Starts its own dev broker on a free port (or uses STREAMTUNE_KAFKA__BOOTSTRAP_SERVERS),
pre-generates simulated events, then sends them three ways, alternating rounds:

* raw: confluent-kafka ``Producer.produce`` of the already-encoded JSON bytes
  (same producer options: idempotent, acks=all, lz4, linger 5 ms);
* sdk(model): ``EventProducer.send(event)`` — serialisation, headers, keys, delivery tracking;
* sdk(dict): ``EventProducer.send(mapping)`` — plus validation of every event.

Run: ``.venv/bin/python benchmarks/produce.py [--events 100000] [--rounds 3]``
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import time
from collections.abc import Callable

from confluent_kafka import Producer
from scratch import scratch_broker

from streamtune.schemas.topics import raw_topic
from streamtune.simulator import Simulator
from streamtune.streams.kafka.producer import EventProducer


def _timed(send_all: Callable[[], None], count: int) -> float:
    started = time.perf_counter()
    send_all()
    return count / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    servers = os.environ.get("STREAMTUNE_KAFKA__BOOTSTRAP_SERVERS", "")
    with contextlib.ExitStack() as stack:
        if not servers:
            _, broker = stack.enter_context(scratch_broker("st-bench-"))
            servers = broker.address
        events = list(Simulator(1).events(args.events))
        encoded = [(raw_topic(e.kind, "bench."), e.session_id.encode(),
                    e.model_dump_json().encode()) for e in events]
        dicts = [json.loads(value) for _, _, value in encoded]
        size = statistics.mean(len(v) for _, _, v in encoded)
        conf = {"bootstrap.servers": servers, "enable.idempotence": True, "acks": "all",
                "linger.ms": 5, "compression.type": "lz4"}

        def raw() -> None:
            producer = Producer(conf)
            for topic, key, value in encoded:
                while True:
                    try:
                        producer.produce(topic, value=value, key=key)
                        break
                    except BufferError:
                        producer.poll(0.05)
                producer.poll(0)
            producer.flush(60)

        def sdk_model() -> None:
            with EventProducer(servers, topic_prefix="bench.") as producer:
                for event in events:
                    producer.send(event)

        def sdk_dict() -> None:
            with EventProducer(servers, topic_prefix="bench.") as producer:
                for payload in dicts:
                    producer.send(payload)

        rates: dict[str, list[float]] = {"raw confluent-kafka": [], "sdk(model)": [],
                                         "sdk(dict, validated)": []}
        for _ in range(args.rounds):
            for name, run in zip(rates, (raw, sdk_model, sdk_dict), strict=True):
                rates[name].append(_timed(run, len(events)))
        baseline = statistics.median(rates["raw confluent-kafka"])
        print(f"broker {servers}, {len(events):,} events of {size:.0f} B mean, "
              f"{args.rounds} rounds (median)")
        for name, values in rates.items():
            median = statistics.median(values)
            print(f"  {name:<22} {median:>10,.0f} events/s   {median / baseline:5.2f}x raw")


if __name__ == "__main__":
    main()
