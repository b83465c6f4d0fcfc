"""How long and how busy the demo is: the full show, or a short one for tests."""

from __future__ import annotations

from dataclasses import dataclass, field

LOOP_ENV = {
    "STREAMTUNE_SCORING__MODELS": '["intent_classifier"]',
    "STREAMTUNE_TRAINING__INTENT_CLASSIFIER__TOTAL_EPOCHS": "4",
    # the teacher's encoding (~100 texts/s on 2 cores) would not fit the loop's grace
    "STREAMTUNE_TRAINING__INTENT_CLASSIFIER__TEACHER": "false",
    "STREAMTUNE_LOOP__DEBOUNCE_S": "5",
    "STREAMTUNE_LOOP__MIN_TRAIN_EVENTS": "1000",
    "STREAMTUNE_LOOP__CANARY_MIN_EVENTS": "200",
    "STREAMTUNE_LOOP__STAGE_MIN_EVENTS": "150",
    "STREAMTUNE_DETECTION__PATTERN_WARMUP_EVENTS": "1500",
    "STREAMTUNE_DETECTION__PATTERN_MIN_COUNT": "15",
}
"""The demo's short loop (one model, short training, small canary); the environment wins."""


@dataclass(frozen=True)
class DemoProfile:
    """What the demo streams and how long it waits for the loop."""

    events: int
    """Events before the demo may stop; traffic goes on while the loop is busy."""
    rate: int = 800
    """Events per second the simulator offers (a worker scores ~1.5-2k/s here)."""
    gate_share: float = 0.3
    """The first champion trains on this share of ``events``; traffic waits until it serves."""
    drift_share: float = 0.5
    """The drift (a new command type, more failures) starts at this share of ``events``."""
    loop_grace_s: float = 150.0
    """After the drift starts, how long traffic keeps flowing for the loop to promote."""
    env: dict[str, str] = field(default_factory=lambda: dict(LOOP_ENV))
    """Settings for the worker and trainer (the caller's environment wins)."""

    @property
    def gate_at(self) -> int:
        return int(self.events * self.gate_share)

    @property
    def drift_at(self) -> int:
        return int(self.events * self.drift_share)


PROFILES = {
    "full": DemoProfile(events=12_000),
    "short": DemoProfile(events=4_000, rate=400, loop_grace_s=40.0, env={
        **LOOP_ENV, "STREAMTUNE_LOOP__MIN_TRAIN_EVENTS": "500",
        "STREAMTUNE_DETECTION__PATTERN_WARMUP_EVENTS": "800"}),
}
"""``full`` is ``make demo``; ``short`` is the end-to-end test's (about 100 s here)."""
