"""``send_synthetic(rate=...)`` paces a real stream: the events arrive, over the time asked."""

from __future__ import annotations

import io
import time

from rich.console import Console

from streamtune.config import Settings
from streamtune.streams.kafka.admin import create_topics, describe_topics
from streamtune.streams.kafka.sending import send_synthetic


def timed_send(settings: Settings, count: int, rate: float) -> tuple[int, float]:
    started = time.perf_counter()
    sent = send_synthetic(settings, count, seed=5, rate=rate,
                          console=Console(file=io.StringIO())).acknowledged
    return sent, time.perf_counter() - started


def test_synthetic_stream_keeps_its_rate(settings: Settings) -> None:
    create_topics(settings)
    sent, elapsed = timed_send(settings, 81, 100.0)  # the 81st event is due at 0.8 s
    assert sent == 81
    assert elapsed >= 0.8  # never early; the schedule itself: tests/unit/streams/test_pacing.py
    raw = [s for s in describe_topics(settings) if s.spec.role.startswith("raw events")]
    assert sum(s.messages for s in raw) == 81
