"""A dev broker of a benchmark's own, in a temporary directory removed afterwards."""

from __future__ import annotations

import signal
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from streamtune.streams.kafka.dev_broker import DevBroker, free_port


def _exit(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


@contextmanager
def scratch_broker(prefix: str) -> Iterator[tuple[Path, DevBroker]]:
    """A started dev broker and the temporary directory holding its log (the benchmark
    may keep its own files there too); the broker is stopped and the directory removed
    afterwards, also when the benchmark is stopped by SIGTERM (``timeout``, ``kill``)."""
    previous = signal.signal(signal.SIGTERM, _exit)
    try:
        with tempfile.TemporaryDirectory(prefix=prefix) as name:
            root = Path(name)
            broker = DevBroker(root / "broker", port=free_port())
            broker.start()
            try:
                yield root, broker
            finally:
                broker.stop()
    finally:
        signal.signal(signal.SIGTERM, previous)
