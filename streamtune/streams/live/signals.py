"""Live signals of a batch, fed to the drift detectors and the template miner.

Per command: ``success`` and ``execution_time`` (globally and per command
type), the served intent's ``intent_correct`` and ``confidence``, and the
error-rate streams (no error); per error event its ``error_type``; per
resource metric ``cpu`` or ``memory``; per resolved next-command prediction
``predictor_correct``. Command texts (with the served intent confidence and
out-of-scope flag) and error messages go to the template miner, all in event-time order across
batches (``event_order.py``). Detector state is saved every ``state_save_s``
and on close, and loaded at start, so it survives restarts; events still held
for ordering when a worker dies are not in it (at most ``reorder_idle_s`` of
them, and their rows are stored all the same).
"""

from __future__ import annotations

import time
from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from operator import itemgetter

from streamtune.config import Settings
from streamtune.models.detection import DetectionState, state_path
from streamtune.models.detection.monitor import DriftBatch
from streamtune.schemas.alerts import Alert
from streamtune.schemas.bounds import uuid_text
from streamtune.schemas.events import CommandEvent, ErrorEvent, Event, MetricEvent
from streamtune.streams.live.event_order import EventTimeOrder
from streamtune.streams.live.scoring import Record
from streamtune.streams.live.watched import (
    Watched,
    WatchedCommand,
    WatchedError,
    WatchedMetric,
    watched_view,
)

RESOURCE_SIGNALS = {"cpu_usage": "cpu", "memory_used": "memory"}
"""Metric name -> signal watched for resource drift."""
SERVED_INTENT_HEADER = "served_intent"
"""Header of a clean command record: the served intent's share of the detectors' input,
for a detect stage (``streams/detect/``) that reads clean topics, not predictions."""


@dataclass(frozen=True, slots=True)
class ServedIntent:
    """What the served intent model said of one command: the detectors' share of it."""

    confidence: float
    correct: bool
    out_of_scope: bool

    def header(self) -> bytes:
        """This, as a clean record's :data:`SERVED_INTENT_HEADER` value."""
        return f"{self.confidence!r} {int(self.correct)} {int(self.out_of_scope)}".encode()

    @classmethod
    def from_header(cls, raw: bytes) -> ServedIntent:
        """Read :meth:`header`'s value back; ``ValueError`` when it is not one."""
        confidence, correct, out_of_scope = raw.split()
        if correct not in (b"0", b"1") or out_of_scope not in (b"0", b"1"):
            raise ValueError(f"not a served intent: {raw[:40]!r}")
        return cls(float(confidence), correct == b"1", out_of_scope == b"1")


@dataclass(frozen=True, slots=True)
class Resolved:
    """A served next-command prediction whose truth arrived."""

    correct: bool
    key: str
    at: datetime

    @classmethod
    def of(cls, record: Record) -> Resolved | None:
        """The record's, when it is a served next-command prediction whose truth arrived."""
        if record["model"] == "command_predictor" and record["served"] \
                and record["correct"] >= 0:
            return cls(record["correct"] == 1, str(record["event_id"]), record["event_time"])
        return None


@dataclass(frozen=True, slots=True)
class Served:
    """The served models' answers a batch's detectors watch, beside its clean events."""

    intents: Mapping[str, ServedIntent]
    """By event id."""
    resolved: Sequence[Resolved]

    @classmethod
    def of(cls, predictions: Sequence[Record]) -> Served:
        """From a batch's prediction records (the worker's scorer)."""
        intents = {p["event_id"]: ServedIntent(p["confidence"], p["correct"] == 1, any(
            o.get("out_of_scope") for o in p["outputs"].values()))
            for p in predictions if p["model"] == "intent_classifier" and p["served"]}
        return cls(intents, [r for p in predictions if (r := Resolved.of(p)) is not None])


NOTHING_SERVED = Served({}, ())

_Held = tuple[Event | Watched, ServedIntent | None, str]
"""An event held for event-time order, with its served intent and its id as text."""


class Watch:
    """The worker's detectors and miner, with their saved state."""

    def __init__(self, settings: Settings, *, source: str, autosave: bool = True) -> None:
        self.path = state_path(settings.data_dir, source)
        self.save_every = settings.detection.state_save_s
        self.autosave = autosave
        """Save every ``save_every`` as batches are fed; else the owner saves (``save_due``)."""
        self.state = DetectionState.load(self.path, settings.detection, source=source)
        self.order: EventTimeOrder[_Held] = EventTimeOrder(
            idle_s=settings.detection.reorder_idle_s,
            max_items=settings.detection.reorder_max_events, slim=_slim)
        self._saved_at = time.monotonic()

    def observe(self, events: Sequence[Event | Watched], served: Served = NOTHING_SERVED,
                sources: Sequence[Hashable] | None = None, *,
                now: float | None = None) -> list[Alert]:
        """Feed one batch; return the alerts it raised.

        ``sources`` names each event's source partition (default: its kind).
        Events are held until every partition still delivering has got past
        them, so alerts may come with a later batch or :meth:`release`.
        """
        self.order.add(_to_hold(events, served.intents, sources), now=now)
        alerts = self._feed(self.order.release(now=now), served.resolved)
        self._maybe_save()
        return alerts

    def expect(self, sources: Sequence[Hashable], *, now: float | None = None) -> None:
        """Source partitions just assigned: their events are waited for (``idle_s`` at most)."""
        self.order.expect(sources, now=now)

    def release(self, *, now: float | None = None) -> list[Alert]:
        """Feed the held events that partitions gone idle no longer hold back."""
        alerts = self._feed(self.order.release(now=now))
        self._maybe_save()
        return alerts

    def forget(self, sources: Iterable[Hashable]) -> None:
        """Partitions revoked: stop waiting for them, and drop their held events without
        feeding them (their next owner does)."""
        self.order.forget(sources)

    def drain(self) -> list[Alert]:
        """Feed every held event (at shutdown, before the closing :meth:`save`)."""
        return self._feed(self.order.drain())

    def _feed(self, held: list[_Held], resolved: Sequence[Resolved] = ()) -> list[Alert]:
        """Feed held events (then resolved predictions) as one batch; alerts in arrival
        order."""
        drift, patterns = self.state.drift, self.state.patterns
        batch = DriftBatch()
        mined: list[tuple[tuple[int, str], Alert]] = []
        for event, intent, key in held:
            at, found = event.event_time, []
            if isinstance(event, CommandEvent | WatchedCommand):
                scope = f"command_type={event.command_type}"
                for s in ("global", scope):
                    batch.add("success", float(event.success), scope=s, key=key, at=at)
                    batch.add("execution_time", event.execution_time, scope=s, key=key, at=at)
                batch.add_outcome(None, key=key, at=at)
                if intent is not None:
                    batch.add("intent_correct", float(intent.correct), key=key, at=at)
                    batch.add("confidence", intent.confidence, key=key, at=at)
                found = patterns.observe(
                    "command", event.normalized_input or event.raw_input, key=key, at=at,
                    confidence=None if intent is None else intent.confidence,
                    label=event.command_type,
                    out_of_scope=intent is not None and intent.out_of_scope)
            elif isinstance(event, ErrorEvent | WatchedError):
                batch.add_outcome(event.error_type, key=key, at=at)
                found = patterns.observe("error", event.error_message, confidence=None,
                                         label=event.error_type, key=key, at=at)
            elif isinstance(event, MetricEvent | WatchedMetric):
                batch.add(RESOURCE_SIGNALS[event.metric], event.value,
                          scope=f"host={event.host}", key=key, at=at)
            mined += [((batch.rank(), ""), alert) for alert in found]
        for r in resolved:
            batch.add("predictor_correct", float(r.correct), key=r.key, at=r.at)
        return [alert for _, alert in sorted(drift.observe_batch(batch) + mined,
                                             key=itemgetter(0))]

    def save_due(self) -> bool:
        """Whether ``save_every`` has passed since the last save."""
        return time.monotonic() - self._saved_at > self.save_every

    def _maybe_save(self) -> None:
        if self.autosave and self.save_due():
            self.save()

    def save(self) -> None:
        self.state.save(self.path)
        self._saved_at = time.monotonic()


def _to_hold(events: Sequence[Event | Watched], intents: Mapping[str, ServedIntent],
             sources: Sequence[Hashable] | None,
             ) -> Iterator[tuple[float, Hashable, _Held]]:
    """The watched events as (event time, source, held), each with its served intent."""
    for i, event in enumerate(events):
        if _watched(event):
            key = uuid_text(event.event_id)
            yield (event.event_time.timestamp(), event.kind if sources is None else sources[i],
                   (event, intents.get(key), key))


def _slim(held: _Held) -> _Held:
    """A held event as the fields the detectors read: a worker's full event, held on past
    its batch, lets go of the rest."""
    event, intent, key = held
    if isinstance(event, WatchedCommand | WatchedError | WatchedMetric):
        return held
    view = watched_view(event, key)
    return held if view is None else (view, intent, key)


def _watched(event: Event | Watched) -> bool:
    """Whether the detectors or the miner look at this event."""
    return isinstance(event, CommandEvent | ErrorEvent | WatchedCommand | WatchedError) or (
        isinstance(event, MetricEvent | WatchedMetric) and event.metric in RESOURCE_SIGNALS)
