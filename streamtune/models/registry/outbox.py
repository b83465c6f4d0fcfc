"""The outbox: registry changes as JSON lines, for the store's owner to import.

Every change appends one line ``{"record_id", "time", "event", "name",
"version", "previous", "reason"}`` (``registered`` lines also carry the
version's metadata under ``model``), written and read with
:mod:`streamtune.sinks.journal`.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

OUTBOX_FILE = "outbox.jsonl"


def new_record(event: str, name: str, version: str, *, previous: str | None = None,
               reason: str = "") -> dict[str, Any]:
    """A record with a fresh unique id and the current UTC time."""
    return {"record_id": uuid.uuid4().hex, "time": datetime.now(UTC).isoformat(),
            "event": event, "name": name, "version": version, "previous": previous,
            "reason": reason}
