"""JSON-lines journals: the outboxes (the registry's and the store's) are such files.

Appends are serialised by a lock file; readers take only complete lines, so a
line being written is read next time.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from streamtune.sinks.disk import locked

log = logging.getLogger(__name__)


def append(path: Path, record: dict[str, Any]) -> None:
    """Append ``record`` as one line of the journal at ``path``."""
    line = json.dumps(record, sort_keys=True) + "\n"
    with locked(path.with_name(f".{path.name}.lock")), path.open("a", encoding="utf-8") as fh:
        fh.write(line)


def append_many(path: Path, records: list[bytes]) -> None:
    """Append records (each a JSON object, no newline) in one write, then fsync: the
    batch is on disk when this returns. A line torn by a crash is ended first (a reader
    skips it; its writer had not returned, so it writes that batch again)."""
    if not records:
        return
    data = b"\n".join(records) + b"\n"
    with locked(path.with_name(f".{path.name}.lock")), path.open("a+b") as fh:
        if fh.seek(0, os.SEEK_END):
            fh.seek(-1, os.SEEK_END)
            if fh.read(1) != b"\n":
                data = b"\n" + data
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def read_from(path: Path, offset: int) -> tuple[list[dict[str, Any]], int]:
    """Complete records after byte ``offset``, and the offset just past the last one.

    A complete line that is not a JSON object is logged and skipped.
    """
    if not path.exists():
        return [], offset
    with path.open("rb") as fh:
        fh.seek(offset)
        data = fh.read()
    end = data.rfind(b"\n") + 1
    records = []
    position = offset
    for raw in data[:end].splitlines(keepends=True):
        try:
            record = json.loads(raw)
            if not isinstance(record, dict):
                raise ValueError("not an object")
            records.append(record)
        except ValueError as exc:
            log.warning("skipping bad outbox line at byte %d of %s: %s", position, path, exc)
        position += len(raw)
    return records, offset + end
