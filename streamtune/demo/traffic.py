"""The demo's simulated control system: live-paced traffic with a drift in the middle."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from streamtune.config import Settings
from streamtune.demo.profiles import DemoProfile
from streamtune.schemas.topics import raw_topic
from streamtune.streams.kafka.producer import EventProducer

HOSTILE_SHARE = 0.02
PLANTED_SECRET = "demo-S3cret-pw"  # noqa: S105 - planted to show redaction
MAX_LAG_S = 2.0
"""The producer waits while the worker is more than this many seconds of traffic behind:
on 2 busy cores a backlog would make the loop react to old traffic and the demo drag on."""
MAX_EVENTS_FACTOR = 50
"""A bound on the stream (``events`` times this) should ``enough`` never come."""


@dataclass
class Traffic:
    """Shared between the producer thread and the demo's loop."""

    produced: int = 0
    consumed: int = 0
    """What the worker has read (from its metrics): traffic stays within ``MAX_LAG_S`` of it."""
    gate: threading.Event = field(default_factory=threading.Event)
    """Set once a champion serves: traffic past ``gate_at`` waits for it."""
    enough: threading.Event = field(default_factory=threading.Event)
    """Set when the loop has had its chance: traffic past ``events`` stops."""


def produce(settings: Settings, profile: DemoProfile, traffic: Traffic) -> None:
    """Stream the simulator at ``profile.rate`` events/s. At ``gate_at`` wait for the
    gate (the first champion), at ``drift_at`` bring a new command type and more
    failures; past ``events`` go on until ``traffic.enough`` (the loop needs live
    traffic to judge its candidate). Planted secrets, resends and hostile payloads
    show redaction, deduplication and the DLQ."""
    from streamtune.simulator import Scenario, Simulator, hostile_payloads
    from streamtune.simulator.scenario import ErrorRateDrift, NewCommandTypeDrift

    events, gate_at = profile.events, profile.gate_at
    scenario = Scenario(new_command_type=NewCommandTypeDrift(at=profile.drift_at, share=0.2),
                        error_rate=ErrorRateDrift(at=profile.drift_at, to=0.25))
    hostile = hostile_payloads(7, int(events * HOSTILE_SHARE))
    every = max(events // max(len(hostile), 1), 1)
    topic = raw_topic("command", settings.topics.prefix)
    started = time.monotonic()
    with EventProducer.from_settings(settings) as producer:
        stream = Simulator(1, scenario=scenario).events(events * MAX_EVENTS_FACTOR)
        for i, event in enumerate(stream, start=1):
            if i > events and traffic.enough.is_set():
                break
            if i == gate_at:  # enough to train the first champion: wait until it serves
                producer.flush()
                traffic.gate.wait()
                started = time.monotonic()
            if i % 200 == 0:  # live traffic: about `rate` events/s, never far ahead
                ahead = (i - (gate_at if i >= gate_at else 0)) / profile.rate - (
                    time.monotonic() - started)
                if ahead > 0:
                    time.sleep(ahead)
                while traffic.produced - traffic.consumed > profile.rate * MAX_LAG_S and \
                        not traffic.enough.is_set():
                    time.sleep(0.1)
                    started += 0.1
            if i % 500 == 0 and event.kind == "command":
                event = event.model_copy(update={
                    "raw_input": f"{event.raw_input} --password {PLANTED_SECRET}",
                    "normalized_input": None})
            producer.send(event)
            if i % 1000 == 0:
                producer.send(event)  # a resend: stored once
            if hostile and i % every == 0:
                producer.send_bytes(topic, hostile.pop()[0])
            traffic.produced = producer.sent
