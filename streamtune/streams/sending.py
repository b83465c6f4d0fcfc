"""Send events from a JSONL file or the simulator, with progress and a rate."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from streamtune.config import Settings
from streamtune.errors import InputFileError, InvalidEvent
from streamtune.schemas.decode import decode_event
from streamtune.schemas.events import Event
from streamtune.streams.admin import connect
from streamtune.streams.producer import EventProducer

T = TypeVar("T")


@dataclass
class FileReport:
    """Outcome of sending a JSONL file."""

    sent: int = 0
    invalid: list[tuple[int, str]] = field(default_factory=list)


def read_jsonl(path: Path) -> Iterator[tuple[int, Event | InvalidEvent]]:
    """Yield ``(line_number, event or the reason it is invalid)``; blank lines are skipped."""
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise InputFileError(f"cannot read {path}: {exc.strerror}") from None
    with handle:
        for line_no, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                yield line_no, decode_event(line.strip())
            except InvalidEvent as exc:
                yield line_no, exc


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:>10,.0f} events/s"), TimeElapsedColumn(),
        TimeRemainingColumn(), console=console, transient=False,
    )


def send_file(settings: Settings, path: Path, *, console: Console) -> FileReport:
    """Send every valid line of a JSONL file; report the invalid ones with line numbers."""
    if not path.is_file():
        raise InputFileError(f"no such file: {path}")
    connect(settings)
    report = FileReport()
    with EventProducer.from_settings(settings) as producer:
        for line_no, item in read_jsonl(path):
            if isinstance(item, InvalidEvent):
                report.invalid.append((line_no, item.reason))
            else:
                producer.send(item)
                report.sent += 1
    return report


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
                   rate: float = 0.0) -> int:
    """Send ``count`` simulated events with a progress bar, at ``rate`` events/s
    (0 = as fast as possible); return how many were delivered."""
    from streamtune.simulator import Simulator

    connect(settings)
    with EventProducer.from_settings(settings) as producer, _progress(console) as bar:
        task = bar.add_task("producing", total=count, rate=0.0)
        started = time.perf_counter()
        every = max(1, min(1000, int(rate))) if rate else 1000
        for i, event in enumerate(paced(Simulator(seed).events(count), rate), start=1):
            producer.send(event)
            if i % every == 0 or i == count:
                bar.update(task, completed=i, rate=i / (time.perf_counter() - started))
    return producer.delivered
