"""The durable delivery queue: one SQLite row per (alert_id, endpoint URL).

Rows are written before the Kafka offset of their alert is committed, so an
alert survives a restart; the UNIQUE constraint makes a re-read alert a no-op,
so each alert is delivered once per endpoint. States: ``pending`` (due at
``next_attempt_at``), ``delivered``, ``dead``. Times are Unix seconds.

Examples
--------
>>> q = DeliveryQueue(Path(":memory:"))
>>> q.enqueue([NewDelivery("id-1", "http://h/x", "{}", b"{}")], now=0.0)
1
>>> q.enqueue([NewDelivery("id-1", "http://h/x", "{}", b"{}")], now=1.0)
0
>>> [d.alert_id for d in q.due(now=1.0, urls=["http://h/x"], limit=10)]
['id-1']
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    id INTEGER PRIMARY KEY,
    alert_id TEXT NOT NULL,
    url TEXT NOT NULL,
    alert TEXT NOT NULL,
    body BLOB NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'dead')),
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    first_attempt_at REAL,
    next_attempt_at REAL NOT NULL,
    finished_at REAL,
    last_status INTEGER,
    last_error TEXT NOT NULL DEFAULT '',
    dlq_sent INTEGER NOT NULL DEFAULT 0,
    UNIQUE (alert_id, url)
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (state, next_attempt_at);
"""
_SELECT = ("SELECT id, alert_id, url, alert, body, state, attempts, first_attempt_at,"
           " finished_at, last_error FROM deliveries ")


@dataclass(frozen=True, slots=True)
class NewDelivery:
    """An alert to deliver to one endpoint: its id, the URL, the Alert JSON and the body."""

    alert_id: str
    url: str
    alert: str
    body: bytes


@dataclass(frozen=True, slots=True)
class Delivery:
    """A queued delivery as stored."""

    id: int
    alert_id: str
    url: str
    alert: str
    body: bytes
    state: str
    attempts: int
    first_attempt_at: float | None
    finished_at: float | None
    last_error: str


class DeliveryQueue:
    """The SQLite file at ``path`` (``:memory:`` for a throwaway queue)."""

    def __init__(self, path: Path) -> None:
        if str(path) != ":memory:":
            path.parent.mkdir(parents=True, exist_ok=True)
        # one thread uses it at a time, but not always the thread that opened it
        self._db = sqlite3.connect(str(path), timeout=30.0, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        with self._db:
            self._db.executescript(_SCHEMA)

    def enqueue(self, deliveries: Iterable[NewDelivery], *, now: float) -> int:
        """Add deliveries not queued before, in one transaction; return how many were new."""
        with self._db:
            before = self._db.total_changes
            self._db.executemany(
                "INSERT OR IGNORE INTO deliveries (alert_id, url, alert, body, created_at,"
                " next_attempt_at) VALUES (?, ?, ?, ?, ?, ?)",
                [(d.alert_id, d.url, d.alert, d.body, now, now) for d in deliveries])
            return self._db.total_changes - before

    def due(self, *, now: float, urls: Collection[str], limit: int,
            exclude: Collection[int] = ()) -> list[Delivery]:
        """Pending deliveries to ``urls`` due by ``now``, oldest first, except ``exclude``."""
        if not urls or limit <= 0:
            return []
        marks = ",".join("?" * len(urls))
        rows = self._db.execute(
            _SELECT + f"WHERE state = 'pending' AND next_attempt_at <= ? AND url IN ({marks})"
            " ORDER BY next_attempt_at, id LIMIT ?",
            (now, *urls, limit + len(exclude))).fetchall()
        skip = set(exclude)
        return [Delivery(*row) for row in rows if row[0] not in skip][:limit]

    def get(self, alert_id: str, url: str) -> Delivery | None:
        """The delivery of ``alert_id`` to ``url``, if queued."""
        row = self._db.execute(
            _SELECT + "WHERE alert_id = ? AND url = ?",
            (alert_id, url)).fetchone()
        return Delivery(*row) if row else None

    def record(self, delivery_id: int, *, state: str, started_at: float, finished_at: float,
               next_attempt_at: float, status: int | None, error: str) -> None:
        """Store the outcome of one attempt begun at ``started_at``."""
        with self._db:
            self._db.execute(
                "UPDATE deliveries SET state = ?, attempts = attempts + 1,"
                " first_attempt_at = COALESCE(first_attempt_at, ?), next_attempt_at = ?,"
                " finished_at = ?, last_status = ?, last_error = ? WHERE id = ?",
                (state, started_at, next_attempt_at,
                 None if state == "pending" else finished_at, status, error, delivery_id))

    def dead_not_sent(self, limit: int = 500) -> list[Delivery]:
        """Dead deliveries whose DLQ record Kafka has not confirmed yet."""
        rows = self._db.execute(
            _SELECT + "WHERE state = 'dead' AND dlq_sent = 0 ORDER BY id LIMIT ?",
            (limit,)).fetchall()
        return [Delivery(*row) for row in rows]

    def mark_dlq_sent(self, ids: Iterable[int]) -> None:
        """Remember that the DLQ records of ``ids`` are in Kafka."""
        with self._db:
            self._db.executemany("UPDATE deliveries SET dlq_sent = 1 WHERE id = ?",
                                 [(i,) for i in ids])

    def counts(self, urls: Collection[str] | None = None) -> dict[str, int]:
        """Rows per state (only those to ``urls`` when given)."""
        if urls is None:
            rows = self._db.execute("SELECT state, COUNT(*) FROM deliveries GROUP BY state")
        else:
            marks = ",".join("?" * len(urls))
            rows = self._db.execute(
                f"SELECT state, COUNT(*) FROM deliveries WHERE url IN ({marks})"  # noqa: S608
                " GROUP BY state", tuple(urls))
        return {"pending": 0, "delivered": 0, "dead": 0, **dict(rows.fetchall())}

    def close(self) -> None:
        self._db.close()
