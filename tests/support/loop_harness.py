"""The learning loop in a test: its settings and the trainer run in a thread."""

from __future__ import annotations

import threading
import time
from typing import Any

from streamtune.config import Settings
from streamtune.models.loop.trainer import Trainer
from streamtune.streams.kafka.producer import EventProducer

LOOP = {"debounce_s": 0, "schedule_hours": 0, "min_train_events": 300,
        "recent_events": 6000, "canary_min_events": 120, "stage_min_events": 80,
        "rollout_percents": [5, 25, 100], "hourly_eval_s": 1e6, "daily_suite_s": 1e6,
        "weekly_review_s": 1e6,
        "max_p99_latency_ratio": 20.0,  # the machine is shared: latency is judged in unit tests
        "baseline_gate": False}  # QUICK_TRAINING trains for seconds; the gate has unit tests
DETECTION = {"pattern_warmup_events": 600, "pattern_min_count": 12,
             "pattern_max_confidence": 0.8, "warmup_events": 300}


class TrainerThread:
    """The trainer process's loop, run in a thread of the test."""

    def __init__(self, settings: Settings) -> None:
        self.lines: list[tuple[str, str]] = []
        self.times: dict[str, float] = {}
        self.trainer = Trainer(settings, report=self._report)
        self.failure: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _report(self, what: str, line: str) -> None:
        self.lines.append((what, line))
        self.times.setdefault(what, time.monotonic())

    def _run(self) -> None:
        try:
            self.trainer.run()
        except BaseException as exc:  # surfaced by __exit__
            self.failure = exc
            raise

    def __enter__(self) -> TrainerThread:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.trainer.stop()
        self.thread.join(120)
        assert not self.thread.is_alive()
        assert self.failure is None, repr(self.failure)

    def said(self, what: str) -> list[str]:
        return [line for w, line in self.lines if w == what]


def produce(settings: Settings, events: list[Any]) -> None:
    with EventProducer.from_settings(settings) as producer:
        for event in events:
            producer.send(event)
