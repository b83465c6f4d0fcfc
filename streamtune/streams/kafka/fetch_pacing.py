"""Pace aiokafka's fetch loop against the embedded dev broker, which answers fetches at once.

A Kafka broker holds an empty fetch for ``fetch.max.wait.ms`` (faust asks for
1.5 s); noida-db answers immediately, so aiokafka (faust's consumer) re-sends
without pause. Measured on an idle worker: 148 % CPU in the worker and 51 % in
the broker with no event flowing, on a 2-core machine. Only for the embedded
broker, :func:`pace_fetches` makes each fetch round take at least
``min_interval_s``: at most that much added latency for the window agent.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka.consumer.fetcher import Fetcher  # type: ignore[import-untyped]

_original: Callable[..., Awaitable[bool]] | None = None


def pace_fetches(min_interval_s: float = 0.05) -> None:
    """Make every aiokafka fetch round last at least ``min_interval_s`` (idempotent)."""
    global _original
    if _original is not None:
        return
    original = _original = Fetcher._proc_fetch_request

    async def paced(self: Any, *args: Any, **kwargs: Any) -> bool:
        started = time.monotonic()
        result = await original(self, *args, **kwargs)
        rest = min_interval_s - (time.monotonic() - started)
        if rest > 0:
            try:
                await asyncio.sleep(rest)
            except asyncio.CancelledError:  # closing or unassigned: as aiokafka's own fetch does
                return False
        return bool(result)

    Fetcher._proc_fetch_request = paced
