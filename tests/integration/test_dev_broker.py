"""The dev broker starts, answers, reports its status and stops without leftovers."""

from __future__ import annotations

import os
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
