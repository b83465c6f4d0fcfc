"""Send events from a JSONL file or the simulator, with progress and a rate."""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from streamtune.config import Settings
from streamtune.errors import DeliveryFailed, InputFileError, InvalidEvent
from streamtune.schemas.decode import decode_event
from streamtune.schemas.events import EVENT_MODELS, SCHEMA_VERSION, Event, EventBase
from streamtune.streams.kafka.admin import connect
from streamtune.streams.kafka.producer import EventProducer

T = TypeVar("T")

FIRST_REASONS = 5
"""Rejected lines a file's summary names."""
KEPT_REASONS = 100
"""Rejected lines a :class:`FileReport` keeps the reason of (the rest are only counted)."""
FINAL_WAIT_S = 60.0
"""How long the end of a send waits for Kafka to acknowledge what is still unacknowledged."""
INTERRUPTED_WAIT_S = 2.0
"""The same wait after a Ctrl-C."""

ALIASES: dict[str | None, dict[str, str]] = {
    None: {"time": "event_time", "timestamp": "event_time", "ts": "event_time",
           "type": "kind", "session": "session_id", "id": "event_id"},
    "command": {"command": "raw_input", "input": "raw_input", "text": "raw_input"},
    "error": {"message": "error_message"},
    "trace": {"duration": "duration_ms"},
    "error_state": {"status": "state"},
}
"""Field names producers reach for, per event kind (``None``: every kind) -> the model's name.

Only names that are not fields of the kind themselves (an ``error_state`` has a
``message``); camelCase spellings of a field (``sessionId``) are found without a table.
"""

_ENVELOPE = frozenset(EventBase.model_fields) | {"kind"}


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def alias_hints(payload: Any) -> list[tuple[str, str]]:
    """``(name used, field meant)`` for each key of a refused payload that looks like a
    misnamed field of its kind (only the envelope's fields when the kind is unknown).

    A version 1 payload's numeric ``timestamp`` is its valid time field: no hint.

    Examples
    --------
    >>> alias_hints({"type": "command", "ts": 1.5, "command": "start pump 3"})
    [('type', 'kind'), ('ts', 'event_time'), ('command', 'raw_input')]
    """
    if not isinstance(payload, dict):
        return []
    kind = payload.get("kind", payload.get("type"))  # a misnamed kind still picks the model
    model = EVENT_MODELS.get(kind) if isinstance(kind, str) else None
    fields = frozenset(model.model_fields) if model is not None else _ENVELOPE
    table = {**ALIASES[None], **ALIASES.get(kind if model is not None else None, {})}
    v1_time = payload.get("schema_version") == SCHEMA_VERSION - 1 and isinstance(
        payload.get("timestamp"), int | float) and not isinstance(payload.get("timestamp"), bool)
    hints = []
    for key in payload:
        if not isinstance(key, str) or key in fields or (key == "timestamp" and v1_time):
            continue
        meant = table.get(key) or _snake(key)
        if meant in fields and meant not in payload:
            hints.append((key, meant))
    return hints


def with_hints(reason: str, line: bytes) -> str:
    """``reason``, followed by the renames :func:`alias_hints` finds in ``line``."""
    try:
        payload = json.loads(line)
    except ValueError:
        return reason
    hints = alias_hints(payload)
    if not hints:
        return reason
    return reason + " (did you mean " + ", ".join(
        f'"{meant}" instead of "{used}"' for used, meant in hints) + "?)"


@dataclass
class FileReport:
    """Outcome of sending a JSONL file: lines accepted (and sent) and rejected."""

    path: Path
    accepted: int = 0
    rejected: int = 0
    reasons: list[tuple[int, str]] = field(default_factory=list)
    """``(line number, reason)`` of the first :data:`KEPT_REASONS` rejected lines."""

    def reject(self, line_no: int, reason: str) -> None:
        """Count a rejected line, keeping its reason while there are few."""
        self.rejected += 1
        if len(self.reasons) < KEPT_REASONS:
            self.reasons.append((line_no, reason))

    def summary(self, *, first: int = FIRST_REASONS) -> list[str]:
        """The counts, then ``FILE:LINE: reason`` for the first ``first`` rejected lines."""
        lines = [f"{self.path}: {self.accepted:,} lines accepted, {self.rejected:,} rejected"]
        lines += [f"{self.path}:{line_no}: {reason}" for line_no, reason in self.reasons[:first]]
        if self.rejected > first:
            lines.append(f"... and {self.rejected - first:,} more rejected lines")
        return lines


def decode_line(line: bytes) -> Event | InvalidEvent:
    """One JSONL line as an event, or the reason it is invalid with :func:`with_hints`'s
    renames."""
    line = line.strip()
    try:
        return decode_event(line)
    except InvalidEvent as exc:
        return InvalidEvent(with_hints(exc.reason, line), category=exc.category)


@dataclass(frozen=True)
class SendSummary:
    """What a send came to: events sent, acknowledged by Kafka, failed, and why."""

    sent: int
    acknowledged: int
    failed: int
    elapsed: float
    resent: int = 0
    outages: int = 0
    lost: int = 0
    """Acknowledged events Kafka lost and the producer could not resend (an upper bound)."""
    reasons: tuple[tuple[str, int], ...] = ()
    """``(reason, events)`` of the failures, most frequent first."""

    @classmethod
    def of(cls, producer: EventProducer, elapsed: float) -> SendSummary:
        return cls(producer.sent, producer.acknowledged, producer.failed, elapsed,
                   producer.resent, producer.outages, producer.lost,
                   tuple(producer.reasons.most_common()))

    @property
    def complete(self) -> bool:
        """True when Kafka acknowledged every event sent and lost none of them."""
        return self.acknowledged == self.sent and not self.lost

    def lines(self, *, first: int = FIRST_REASONS) -> list[str]:
        """The counts, what recovered, then the first ``first`` reasons of failures."""
        unacked = self.sent - self.acknowledged - self.failed
        rate = self.acknowledged / max(self.elapsed, 1e-9)
        lines = [f"{self.sent:,} events sent, {self.acknowledged:,} delivered (acknowledged), "
                 f"{self.failed:,} failed, {unacked:,} unacknowledged, in {self.elapsed:.2f} s "
                 f"({rate:,.0f}/s)"]
        if self.outages:
            lines.append(f"Kafka was unreachable {self.outages} time(s); the events waited")
        if self.resent:
            lines.append(f"{self.resent:,} events were resent after a producer failure "
                         "(event ids make resends harmless downstream)")
        if self.lost:
            lines.append(f"Kafka lost up to {self.lost:,} acknowledged events too old to resend "
                         "(its log came back shorter than it had acknowledged)")
        lines += [f"failed: {count:,} x {reason}" for reason, count in self.reasons[:first]]
        if len(self.reasons) > first:
            lines.append(f"... and {len(self.reasons) - first} more reasons")
        return lines


@contextlib.contextmanager
def producing(settings: Settings, console: Console,
              done: list[SendSummary]) -> Iterator[EventProducer]:
    """A producer that, however the block ends, waits up to :data:`FINAL_WAIT_S` (after a
    Ctrl-C :data:`INTERRUPTED_WAIT_S`) for acknowledgements, prints a :class:`SendSummary`
    and appends it to ``done``."""
    producer = EventProducer.from_settings(settings)
    started = time.perf_counter()
    wait = FINAL_WAIT_S
    try:
        yield producer
    except KeyboardInterrupt:
        wait = INTERRUPTED_WAIT_S
        raise
    finally:
        with contextlib.suppress(DeliveryFailed):  # counted in the summary
            producer.flush(wait)
        summary = SendSummary.of(producer, time.perf_counter() - started)
        for line in summary.lines():
            console.print(line, soft_wrap=True, markup=False, highlight=False)
        done.append(summary)


def _progress(console: Console) -> Progress:
    """Acknowledged of all events; drawn only on a terminal (no escape codes in files)."""
    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:>10,.0f} events/s"), TimeElapsedColumn(),
        TimeRemainingColumn(), console=console, transient=False,
        disable=not console.is_terminal,
    )


def send_file(settings: Settings, path: Path, *,
              console: Console) -> tuple[FileReport, SendSummary]:
    """Send every valid line of a JSONL file with a progress bar (bytes read); count and
    report the invalid ones with line numbers, and say what Kafka acknowledged."""
    if not path.is_file():
        raise InputFileError(f"no such file: {path}")
    connect(settings)
    report = FileReport(path)
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), DownloadColumn(),
               TextColumn("{task.fields[lines]:>10,} lines"), TimeElapsedColumn(),
               TimeRemainingColumn())
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise InputFileError(f"cannot read {path}: {exc.strerror}") from None
    summaries: list[SendSummary] = []
    with handle, producing(settings, console, summaries) as producer, \
            Progress(*columns, console=console, transient=True,
                     disable=not console.is_terminal) as bar:
        task = bar.add_task(f"sending {path.name}", total=path.stat().st_size, lines=0)
        done = line_no = 0
        for line_no, line in enumerate(handle, start=1):
            done += len(line)
            if line.strip():  # blank lines are skipped
                item = decode_line(line)
                if isinstance(item, InvalidEvent):
                    report.reject(line_no, item.reason)
                else:
                    producer.send(item)
                    report.accepted += 1
            if line_no % 1000 == 0:
                bar.update(task, completed=done, lines=line_no)
        bar.update(task, completed=done, lines=line_no)
    return report, summaries[0]


def paced(items: Iterable[T], rate: float) -> Iterator[T]:
    """Yield ``items`` at ``rate`` per second on average (0 = as fast as possible).

    Item ``i`` is released at ``start + i / rate``, so a slow consumer catches up
    instead of drifting: the long-run rate holds, not the gap between two items.
    """
    if rate < 0:
        raise ValueError(f"rate must be >= 0 events/s, not {rate:g}")
    started = time.perf_counter()
    for i, item in enumerate(items):
        if rate:
            ahead = started + i / rate - time.perf_counter()
            if ahead > 0:
                time.sleep(ahead)
        yield item


def send_synthetic(settings: Settings, count: int, *, seed: int, console: Console,
                   rate: float = 0.0) -> SendSummary:
    """Send ``count`` simulated events at ``rate`` events/s (0 = as fast as possible),
    with a progress bar of the acknowledged ones; end with a :class:`SendSummary`."""
    from streamtune.simulator import Simulator

    connect(settings)
    done: list[SendSummary] = []
    with producing(settings, console, done) as producer, _progress(console) as bar:
        task = bar.add_task("acknowledged", total=count, rate=0.0)
        started = time.perf_counter()
        every = max(1, min(1000, int(rate))) if rate else 1000
        for i, event in enumerate(paced(Simulator(seed).events(count), rate), start=1):
            producer.send(event)
            if i % every == 0 or i == count:
                bar.update(task, completed=producer.acknowledged,
                           rate=producer.acknowledged / (time.perf_counter() - started))
        deadline = time.monotonic() + FINAL_WAIT_S
        while producer.unacknowledged and time.monotonic() < deadline:
            with contextlib.suppress(DeliveryFailed):
                producer.flush(0.2)
            bar.update(task, completed=producer.acknowledged)
    return done[0]
