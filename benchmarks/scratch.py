"""A dev broker of a benchmark's own, in a temporary directory removed afterwards."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from streamtune.streams.kafka.dev_broker import DevBroker, free_port


@contextmanager
def scratch_broker(prefix: str) -> Iterator[tuple[Path, DevBroker]]:
    """A started dev broker and the temporary directory holding its log (the benchmark
    may keep its own files there too); the broker is stopped and the directory removed
    afterwards."""
    with tempfile.TemporaryDirectory(prefix=prefix) as name:
        root = Path(name)
        broker = DevBroker(root / "broker", port=free_port())
        broker.start()
        try:
            yield root, broker
        finally:
            broker.stop()
