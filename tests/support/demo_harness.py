"""Run ``streamtune demo`` as users do, in a subprocess with a data dir and broker port of
its own, and find any process it left behind."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.settings import free_port
from tests.support.worker_harness import read_store_url

DEMO_TIMEOUT_S = 420


@dataclass
class DemoRun:
    """A finished demo: its exit status, output and stores."""

    data_dir: Path
    returncode: int
    output: str
    database: str = "streamtune"

    @property
    def store_url(self) -> str:
        return f"chdb://{self.data_dir / 'chdb'}"

    @property
    def report(self) -> Path:
        found = re.search(r"^report: (\S+)", self.output, re.MULTILINE)
        assert found, self.output[-3000:]
        return Path(found.group(1))

    def query(self, statements: dict[str, str]) -> dict[str, list[list[Any]]]:
        """Run statements in order in one subprocess against the demo's store."""
        return read_store_url(self.store_url, statements)


def demo_env(data_dir: Path) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("STREAMTUNE_")}
    return {**base, "STREAMTUNE_DATA_DIR": str(data_dir), "PYTHONUNBUFFERED": "1",
            "STREAMTUNE_KAFKA__DEV_BROKER_PORT": str(free_port()), "COLUMNS": "200"}


def start_demo(data_dir: Path, log: Path) -> subprocess.Popen[bytes]:
    """``streamtune demo --profile short`` as its own process group (a terminal's Ctrl-C
    goes to the foreground group), with SIGINT's default action as in a terminal (a
    background job inherits it ignored)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "streamtune", "demo", "--profile", "short"],
            env=demo_env(data_dir), stdout=out, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def run_demo(data_dir: Path) -> DemoRun:
    log = data_dir.with_suffix(".log")
    process = start_demo(data_dir, log)
    try:
        returncode = process.wait(DEMO_TIMEOUT_S)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
            kill_leftovers(data_dir)
    return DemoRun(data_dir, returncode, log.read_text(errors="replace"))


def wait_for_output(log: Path, pattern: str, process: subprocess.Popen[bytes],
                    timeout: float = 120) -> None:
    """Until ``pattern`` is in the file ``log`` (which may not exist yet)."""
    def text() -> str:
        return log.read_text(errors="replace") if log.exists() else ""

    deadline = time.monotonic() + timeout
    while pattern not in text():
        assert process.poll() is None, text()[-3000:]
        assert time.monotonic() < deadline, f"no {pattern!r} in {timeout} s"
        time.sleep(0.2)


def processes_of(data_dir: Path) -> list[str]:
    """Live processes whose command line or environment names ``data_dir``: the demo's
    broker, worker and trainer (their descendants inherit the environment)."""
    needle = str(data_dir).encode()
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
            environ = (proc / "environ").read_bytes()
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and (needle in cmdline or needle in environ):
            argv = cmdline.replace(b"\0", b" ").decode(errors="replace")
            found.append(f"{proc.name}: {argv}")
    return found


def kill_leftovers(data_dir: Path) -> None:
    """Last resort after a failed test: no process may outlive it."""
    for line in processes_of(data_dir):
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(line.split(":", 1)[0]), signal.SIGKILL)


def eventually(check: Callable[[], list[str]], timeout: float = 15) -> list[str]:
    """``check()`` until it returns nothing or ``timeout`` passes; its last answer."""
    deadline = time.monotonic() + timeout
    while (left := check()) and time.monotonic() < deadline:
        time.sleep(0.5)
    return left
