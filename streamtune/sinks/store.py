"""The ClickHouse store: chdb in-process (``chdb:///path``) or a server over HTTP.

One code path for both, through clickhouse-connect. In embedded mode exactly
one process may open a chdb path; a second one gets a clear
:class:`~streamtune.errors.StoreUnavailable`. Calls are serialised by a lock,
so threads of one process (the ingest loop, the window agent) can share it.

Examples
--------
>>> store = ClickHouseStore("chdb:///tmp/streamtune-doctest")  # doctest: +SKIP
>>> store.query_rows("SELECT 1 + {n:UInt8}", {"n": 1})  # doctest: +SKIP
[(2,)]
"""

from __future__ import annotations

import fcntl
import logging
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import clickhouse_connect
import pyarrow as pa
from clickhouse_connect.driver import options as _client_options
from clickhouse_connect.driver.exceptions import ClickHouseError
from pydantic import SecretStr

from streamtune.config import Settings
from streamtune.errors import StoreLocked, StoreUnavailable

if "pd" not in vars(_client_options):
    # clickhouse-connect imports pandas at the first row insert only to ask whether the
    # rows are a DataFrame (~0.4 CPU-s and ~30 MB a process); streamtune never passes one
    _client_options.pd = None


class _PandasHidden:
    """An import finder under which ``import pandas`` fails."""

    @staticmethod
    def find_spec(name: str, *_: Any) -> None:
        if name == "pandas":
            raise ImportError("pandas hidden from pyarrow's first look")


def _arrow_without_pandas() -> None:
    """pyarrow imports pandas at its first ``pa.array`` of a Python list, only to ask whether
    the list is a pandas object (~50 MB RSS a process: pandas and the Arrow compute registry
    it loads); streamtune's rows never are. When pandas is not loaded yet, that first look
    runs here with pandas hidden, and pyarrow keeps the answer; code that asks pyarrow for
    pandas itself (``to_pandas``) still gets it."""
    if "pandas" in sys.modules:
        return
    sys.meta_path.insert(0, _PandasHidden)
    try:
        pa.array([0])
    finally:
        sys.meta_path.remove(_PandasHidden)


_arrow_without_pandas()
log = logging.getLogger(__name__)
EMBEDDED_INSERT_SETTINGS = {"max_threads": 1, "max_insert_threads": 1}
"""Arrow inserts into embedded chdb run on one thread: a worker's inserts are small and
frequent, and the thread pool's hand-offs cost more than they save (process CPU per event
inserted: batches of 200 events 267-291 -> 240-258 µs, of 5,000 16-17 -> 12-16 µs). A
ClickHouse server keeps its own defaults."""
EMBEDDED_MALLOC_CONF = "dirty_decay_ms:0"
"""Embedded chdb's allocator (jemalloc, which reads ``JE_MALLOC_CONF`` when chdb loads)
gives freed pages back at once rather than after 5 s: a query or merge that used 400 MB
left 455 MB resident, and 36 MB with this. Over 400,000 events processed and inserted in
one process, anonymous RSS 299-324 -> 272-274 MB, process CPU within the noise
(``docs/performance.md``). A ``JE_MALLOC_CONF`` of the user's own is kept."""


def _open_client(url: str, *, username: str, password: SecretStr | None) -> Any:
    parts = urlsplit(url)
    if parts.scheme == "chdb":
        path = Path(parts.path)
        path.mkdir(parents=True, exist_ok=True)
        return _open_chdb(path)
    return clickhouse_connect.get_client(
        host=parts.hostname or "localhost",
        port=parts.port or (8443 if parts.scheme == "https" else 8123),
        username=parts.username or username,
        password=(password.get_secret_value() if password else parts.password) or "",
        secure=parts.scheme == "https",
        connect_timeout=5,
    )


def _open_chdb(path: Path) -> Any:
    """Open a chdb path; chdb reports a held lock on fd 2, not in its exception, so catch it.

    The first open in a process loads chdb, with :data:`EMBEDDED_MALLOC_CONF`."""
    os.environ.setdefault("JE_MALLOC_CONF", EMBEDDED_MALLOC_CONF)
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as caught:
        os.dup2(caught.fileno(), 2)
        try:
            client = clickhouse_connect.get_client(dsn=f"chdb://{path}")
        except Exception as exc:
            caught.seek(0)
            raise RuntimeError(f"{exc} {caught.read().decode(errors='replace')}") from exc
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        caught.seek(0)
        sys.stderr.write(caught.read().decode(errors="replace"))  # what chdb said on success
    return client


def chdb_locked(url: str) -> bool:
    """True when a process holds the chdb path of ``url`` (its ``status`` file lock).

    Ask before this process opens the path (its own open holds the lock too);
    unlike a failed open, asking prints nothing.
    """
    parts = urlsplit(url)
    status = Path(parts.path) / "status"
    if parts.scheme != "chdb" or not status.exists():
        return False
    fd = os.open(status, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def _is_locked(exc: Exception) -> bool:
    text = str(exc)
    return "lock" in text.lower() or "already initialized" in text


def _explain(url: str, exc: Exception) -> str:
    text = str(exc)
    if _is_locked(exc):
        return (f"chdb store {url} is held by another process or store "
                "(one process per chdb path: stop the worker or use its data via Kafka)")
    if "Connection refused" in text or "Max retries exceeded" in text:
        text = "connection refused (is the server running?)"
    return f"cannot open ClickHouse store {redacted_url(url)}: {text.splitlines()[0][:200]}"


def redacted_url(url: str) -> str:
    """The URL without credentials, for messages and logs."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


class ClickHouseStore:
    """A connection to the streamtune database, embedded or remote.

    Parameters
    ----------
    url
        ``chdb:///absolute/path`` or ``http(s)://host:port``.
    database
        Database holding streamtune's tables (created by migrations).
    """

    def __init__(
        self,
        url: str,
        *,
        database: str = "streamtune",
        username: str = "default",
        password: SecretStr | None = None,
    ) -> None:
        self.url = url
        self.database = database
        self.embedded = url.startswith("chdb:")
        """Whether the store is chdb in this process (its work counts as the process's)."""
        self._lock = threading.RLock()
        self._insert_settings = EMBEDDED_INSERT_SETTINGS if self.embedded else {}
        self.on_engine_cpu: Callable[[float], None] | None = None
        """Called with the CPU seconds each insert's thread spent inside embedded chdb:
        ClickHouse's own work (parsing, sorting, writing parts), which a ClickHouse server
        does itself (never called with a server)."""
        try:
            self._client = _open_client(url, username=username, password=password)
            self._client.command("SELECT 1")
        except Exception as exc:  # clickhouse-connect raises several unrelated types here
            error = StoreLocked if _is_locked(exc) else StoreUnavailable
            raise error(_explain(url, exc)) from None
        log.debug("opened store %s database %s", redacted_url(url), database)

    @classmethod
    def from_settings(cls, settings: Settings) -> ClickHouseStore:
        """Open the store the settings point at."""
        return cls(
            settings.store_url,
            database=settings.store.database,
            username=settings.store.username,
            password=settings.store.password,
        )

    def table(self, name: str) -> str:
        """Fully qualified table name."""
        return f"{self.database}.{name}"

    def command(self, sql: str, parameters: Mapping[str, Any] | None = None) -> Any:
        """Run a statement; values go in ``parameters`` (``{name:Type}`` placeholders)."""
        try:
            with self._lock:
                return self._client.command(sql, parameters=dict(parameters or {}))
        except ClickHouseError as exc:
            raise StoreUnavailable(f"ClickHouse statement failed: {str(exc)[:300]}") from exc

    def query_rows(
        self, sql: str, parameters: Mapping[str, Any] | None = None
    ) -> list[tuple[Any, ...]]:
        """Run a query and return its rows as tuples."""
        try:
            with self._lock:
                result = self._client.query(sql, parameters=dict(parameters or {}))
        except ClickHouseError as exc:
            raise StoreUnavailable(f"ClickHouse query failed: {str(exc)[:300]}") from exc
        return [tuple(row) for row in result.result_rows]

    def columns(self, table: str, *, writable: bool = False) -> dict[str, str]:
        """Column name -> ClickHouse type, in table order.

        With ``writable``, columns the server fills itself (``DEFAULT now64(...)``
        timestamps) are left out.
        """
        rows = self.query_rows(
            "SELECT name, type, default_expression FROM system.columns "
            "WHERE database = {db:String} AND table = {t:String} ORDER BY position",
            {"db": self.database, "t": table},
        )
        return {name: kind for name, kind, default in rows
                if not (writable and default.startswith("now"))}

    def insert(self, table: str, rows: Sequence[Sequence[Any]] | pa.Table,
               columns: Sequence[str]) -> None:
        """Insert rows (values in ``columns`` order) into ``table``.

        ``rows`` may also be a ``pyarrow.Table`` with those columns: one Arrow
        insert, the fast path (columns are matched by name).
        """
        if isinstance(rows, pa.Table):
            if not rows.num_rows:
                return
            selected = rows.select(list(columns))
            self._timed_insert(table, lambda: self._client.insert_arrow(
                self.table(table), selected, settings=self._insert_settings))
            return
        if not rows:
            return
        self._timed_insert(table, lambda: self._client.insert(
            self.table(table), list(rows), column_names=list(columns)))

    def _timed_insert(self, table: str, run: Callable[[], Any]) -> None:
        """Run an insert under the lock; with embedded chdb, report its thread's CPU to
        :attr:`on_engine_cpu`."""
        try:
            with self._lock:
                started = time.thread_time()
                try:
                    run()
                finally:
                    if self.embedded and self.on_engine_cpu is not None:
                        self.on_engine_cpu(time.thread_time() - started)
        except ClickHouseError as exc:
            raise StoreUnavailable(f"insert into {table} failed: {str(exc)[:300]}") from exc

    def count(self, table: str, *, final: bool = True) -> int:
        """Rows in ``table``; with ``final`` replayed duplicates are not counted."""
        suffix = " FINAL" if final else ""
        return int(self.query_rows(f"SELECT count() FROM {self.table(table)}{suffix}")[0][0])  # noqa: S608

    def close(self) -> None:
        """Release the connection (and, for chdb, the data path)."""
        with self._lock:
            self._client.close()

    def __enter__(self) -> ClickHouseStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
