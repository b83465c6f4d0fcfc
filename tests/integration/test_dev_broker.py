"""The dev broker starts, answers, reports its status and stops without leftovers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from streamtune.errors import BrokerUnavailable
from streamtune.streams.kafka.dev_broker import DevBroker, kafka_answers
from tests.support.settings import free_port


def test_start_status_stop_leaves_no_process(tmp_path: Path) -> None:
    broker = DevBroker(tmp_path, port=free_port())
    assert not broker.status().running
    status = broker.start()
    try:
        assert status.running and status.pid is not None
        assert kafka_answers(broker.address)
        assert broker.start().pid == status.pid  # idempotent: no second broker
    finally:
        assert broker.stop()
    assert not broker.status().running and not broker.pid_file.exists()
    assert not kafka_answers(broker.address, timeout=1.0)
    with pytest.raises(ProcessLookupError):
        os.killpg(status.pid, 0)
    assert not broker.stop()


def test_a_taken_port_is_a_clear_error(tmp_path: Path, broker: DevBroker) -> None:
    with pytest.raises(BrokerUnavailable, match="already taken"):
        DevBroker(tmp_path, port=broker.port).start()


# A Ctrl-C at the moment `streamtune broker start` forks the broker: an at-fork hook sends
# SIGINT to the CLI's own process once, as a terminal's Ctrl-C arriving then would.
CTRL_C_AT_FORK = """
import os, signal, sys
from streamtune.cli import main

signal.signal(signal.SIGINT, signal.default_int_handler)
sent = []

def ctrl_c_once() -> None:
    if not sent:
        sent.append(True)
        os.kill(os.getpid(), signal.SIGINT)

os.register_at_fork(before=ctrl_c_once)
sys.argv = ["streamtune", "broker", "start"]
main()
"""


def test_a_ctrl_c_while_the_broker_starts_leaves_no_broker(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "STREAMTUNE_DATA_DIR": str(tmp_path),
           "STREAMTUNE_KAFKA__DEV_BROKER_PORT": str(port),
           "STREAMTUNE_KAFKA__BOOTSTRAP_SERVERS": ""}
    done = subprocess.run([sys.executable, "-c", CTRL_C_AT_FORK], env=env, capture_output=True,
                          text=True, timeout=120, check=False)
    broker = DevBroker(tmp_path / "broker", port=port)  # where the CLI keeps it
    try:
        assert done.returncode == 130, done.stdout + done.stderr
        assert "dev broker running" not in done.stdout
        assert not broker.status().running and not broker.pid_file.exists()
        assert not kafka_answers(broker.address, timeout=1.0)
    finally:
        broker.stop()
