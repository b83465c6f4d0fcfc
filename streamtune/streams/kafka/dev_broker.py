"""The embedded dev broker: noida-db's Kafka on loopback, run as a background process.

``DevBroker.start`` launches ``noida-db start --only kafka`` (the binary itself, not
its Python launcher, which left a ``KeyboardInterrupt`` traceback at every stop) in its
own process group, waits until Kafka answers metadata requests, and writes a pid file.
``stop`` first drains Kafka (``noida-db stop kafka``: it stops serving, then saves its
log, so nothing is acknowledged after the save), then ends the whole group (SIGINT,
then SIGTERM, then SIGKILL). noida-db keeps the log in memory and saves it about once a
second, so a killed broker loses what it acknowledged since its last save
(docs/worker.md, "Dev broker guarantees"). Used only when no bootstrap servers are configured.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka.admin import AdminClient

from streamtune.config import Settings
from streamtune.errors import BrokerUnavailable
from streamtune.processes import ctrl_c_released

log = logging.getLogger(__name__)


DRAIN_TIMEOUT_S = 10.0
"""How long ``stop`` waits for Kafka to stop serving and save its log."""


def _noida_executable() -> str:
    """The noida-db binary: the one the ``noida_db`` package ships, else ``noida-db`` on
    the PATH."""
    spec = importlib.util.find_spec("noida_db")
    if spec is not None and spec.origin is not None:
        packaged = Path(spec.origin).with_name("noida-db")
        if packaged.is_file() and os.access(packaged, os.X_OK):
            return str(packaged)
    beside_python = Path(sys.executable).with_name("noida-db")
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("noida-db")
    if not found:
        raise BrokerUnavailable(
            "noida-db is not installed: run `make install` (it is a streamtune dependency)"
        )
    return found


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now (for dev brokers, metrics, tests)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _port_open(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def kafka_answers(servers: str, timeout: float = 2.0) -> bool:
    """True when a Kafka broker at ``servers`` answers a metadata request."""
    admin = AdminClient({"bootstrap.servers": servers, "log_level": 0})
    try:
        admin.list_topics(timeout=timeout)
    except Exception:  # confluent-kafka raises KafkaException or a bare Exception here
        return False
    return True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass(frozen=True, slots=True)
class BrokerStatus:
    """What ``status`` found."""

    running: bool
    pid: int | None
    address: str
    data_dir: Path


class DevBroker:
    """Start, stop and inspect the embedded Kafka broker.

    Parameters
    ----------
    data_dir
        Where the broker keeps its logs, its data and ``broker.pid``.
    """

    def __init__(self, data_dir: Path, *, host: str = "127.0.0.1", port: int = 19092) -> None:
        self.data_dir = data_dir
        self.host = host
        self.port = port

    @classmethod
    def from_settings(cls, settings: Settings) -> DevBroker:
        return cls(
            settings.broker_dir, host=settings.kafka.dev_broker_host,
            port=settings.kafka.dev_broker_port,
        )

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def pid_file(self) -> Path:
        return self.data_dir / "broker.pid"

    @property
    def data_path(self) -> Path:
        """noida-db's own data folder (its Kafka log, ``noida.control.json``)."""
        return self.data_dir.resolve() / "data"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "broker.log"

    def _pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        return pid if _alive(pid) else None

    def status(self) -> BrokerStatus:
        pid = self._pid()
        running = pid is not None and _port_open(self.host, self.port)
        return BrokerStatus(running, pid, self.address, self.data_dir)

    def start(self, *, timeout: float = 60.0) -> BrokerStatus:
        """Start the broker unless it already runs; return once Kafka answers."""
        current = self.status()
        if current.running:
            return current
        if _port_open(self.host, self.port):
            raise BrokerUnavailable(
                f"port {self.port} is already taken by another program; set "
                "STREAMTUNE_KAFKA__DEV_BROKER_PORT to a free port"
            )
        self.data_dir.mkdir(parents=True, exist_ok=True)
        command = [
            _noida_executable(), "start", "--only", "kafka", "--host", self.host,
            "--kafka-port", str(self.port), "--data-dir", str(self.data_path),
        ]
        with self.log_file.open("ab") as log_out:
            process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
                command, stdout=log_out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
                preexec_fn=ctrl_c_released,  # stop() ends it with SIGINT first
            )
        self.pid_file.write_text(str(process.pid))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                self.pid_file.unlink(missing_ok=True)
                raise BrokerUnavailable(
                    f"dev broker exited with code {process.returncode}; see {self.log_file}"
                )
            if _port_open(self.host, self.port) and kafka_answers(self.address, 1.0):
                log.info("dev broker up at %s (pid %d)", self.address, process.pid)
                return self.status()
            time.sleep(0.1)
        self.stop()
        raise BrokerUnavailable(f"dev broker did not answer within {timeout:.0f} s")

    def drain(self) -> bool:
        """Make Kafka stop serving and save its log (``noida-db stop kafka``); True when
        it did. What it acknowledged is then all on disk."""
        try:
            done = subprocess.run(  # noqa: S603 - fixed argv, no shell
                [_noida_executable(), "stop", "kafka", "--data-dir", str(self.data_path)],
                capture_output=True, text=True, timeout=DRAIN_TIMEOUT_S, check=False,
            )
        except subprocess.TimeoutExpired:
            log.warning("dev broker did not save its log within %.0f s", DRAIN_TIMEOUT_S)
            return False
        if done.returncode != 0:
            log.warning("dev broker did not drain (exit %d): %s", done.returncode,
                        done.stdout.strip() or done.stderr.strip())
        return done.returncode == 0

    def stop(self, *, timeout: float = 15.0) -> bool:
        """Drain Kafka, then stop the broker's process group; True if something was
        stopped."""
        pid = self._pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        self.drain()
        for sig, wait in ((signal.SIGINT, timeout * 0.6), (signal.SIGTERM, timeout * 0.4),
                          (signal.SIGKILL, 5.0)):
            try:
                os.killpg(pid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline and _group_alive(pid):
                time.sleep(0.05)
            if not _group_alive(pid):
                break
        _reap(pid)
        self.pid_file.unlink(missing_ok=True)
        return True


def _group_alive(pgid: int) -> bool:
    _reap(pgid)
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _reap(pid: int) -> None:
    """Collect the exit status when the broker is our own child (avoids a zombie)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
