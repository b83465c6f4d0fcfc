"""A real local webhook receiver for tests: records every POST and answers as told."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

from tests.support.settings import free_port


@dataclass(frozen=True)
class Received:
    """One request as the receiver saw it."""

    path: str
    headers: dict[str, str]
    body: bytes
    status: int


class Receiver:
    """``ThreadingHTTPServer`` on 127.0.0.1 in a thread; set ``status``/``headers``/``delay_s``.

    ``delay_s`` holds each answer that long, or until the receiver is closed (``hang``
    holds it until then).

    Use as a context manager; ``port`` may name a port chosen earlier (an endpoint
    that was down and comes back).
    """

    def __init__(self, *, port: int | None = None, status: int = 200) -> None:
        self.port = port or free_port()
        self.status = status
        self.headers: dict[str, str] = {}
        self.delay_s = 0.0
        self.received: list[Received] = []
        self._lock = threading.Lock()
        self._closed = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver._lock:
                    status = receiver.status
                    receiver.received.append(Received(self.path, dict(self.headers), body,
                                                      status))
                if receiver.delay_s:
                    receiver._closed.wait(receiver.delay_s)
                self.send_response(status)
                for name, value in receiver.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def hang(self) -> None:
        """Answer no request until the receiver is closed."""
        self.delay_s = 3600.0

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def delivered_ids(self) -> list[str]:
        """Alert ids of the requests answered 2xx, in order (repeats kept)."""
        with self._lock:
            return [r.headers["X-Streamtune-Alert-Id"] for r in self.received
                    if 200 <= r.status < 300]

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._closed.set()
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)
