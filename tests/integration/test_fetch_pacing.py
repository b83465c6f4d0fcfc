"""aiokafka against the dev broker: fetch rounds are paced instead of spinning."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer  # type: ignore[import-untyped]
from aiokafka.consumer.fetcher import Fetcher  # type: ignore[import-untyped]

from streamtune.config import Settings
from streamtune.streams.kafka.admin import create_topics
from streamtune.streams.kafka.fetch_pacing import pace_fetches


def test_an_idle_consumer_fetches_at_most_once_per_interval(settings: Settings) -> None:
    create_topics(settings)
    pace_fetches(0.05)
    paced = Fetcher._proc_fetch_request
    rounds = 0

    async def counting(self: object, *args: object, **kwargs: object) -> bool:
        nonlocal rounds
        rounds += 1
        return bool(await paced(self, *args, **kwargs))

    async def idle_for(seconds: float) -> None:
        consumer = AIOKafkaConsumer(f"{settings.topics.prefix}window-deltas",
                                    bootstrap_servers=settings.kafka.servers,
                                    auto_offset_reset="latest", fetch_max_wait_ms=1500)
        await consumer.start()
        try:
            await asyncio.sleep(0.5)  # joined and fetching
            nonlocal rounds
            rounds = 0
            await asyncio.sleep(seconds)
        finally:
            await consumer.stop()

    Fetcher._proc_fetch_request = counting
    try:
        asyncio.run(idle_for(2.0))
    finally:
        Fetcher._proc_fetch_request = paced
    # Unpaced, noida-db answered every fetch at once: hundreds of rounds a second.
    assert 0 < rounds <= 2.0 / 0.05 + 5
