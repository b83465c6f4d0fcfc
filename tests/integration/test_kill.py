"""SIGKILL a worker mid-stream and restart it: still exactly N rows, windows exact.

The window check used to fail in about half of the runs: faust's consumer drops
window-deltas records it fetches while table recovery has the stream partitions
paused, and its seek to the committed offsets does not bring them back (see
``streamtune.streams.worker.app.WindowAgent``). The agent now tracks its own position in
the table and reads skipped records back, so both checks are strict.
"""

from __future__ import annotations

import uuid
from collections import Counter
from pathlib import Path

import pytest

from streamtune.config import Settings
from streamtune.schemas import EVENT_MODELS
from streamtune.schemas.topics import SOURCES
from streamtune.simulator import Simulator
from streamtune.streams.kafka.admin import create_topics
from streamtune.streams.kafka.dev_broker import DevBroker
from tests.support.settings import isolated_settings
from tests.support.windows import WINDOW_QUERIES, check_windows
from tests.support.worker_harness import (
    Worker,
    caught_up,
    read_store,
    send_events,
    wait_for,
    wait_windows_closed,
    worker_settings,
)


def kill_and_restart(settings: Settings, tmp_path: Path) -> tuple[list, dict]:
    """Produce, SIGKILL a worker a quarter in, produce more, restart it, read back rows
    and windows."""
    create_topics(settings)
    events = list(Simulator(23).events(6000))
    later = list(Simulator(24).events(1000))  # however fast the first worker was
    send_events(settings, events)
    wsettings = worker_settings(settings, tmp_path, batch_max_events=500)
    first = Worker(wsettings, log=tmp_path / "worker-1.log").start()
    try:
        wait_for(lambda: first.metric("streamtune_events_in_total") >= 1500, timeout=180,
                 what="a quarter of the stream", worker=first, interval=0.05)
        first.kill()
    finally:
        first.ensure_stopped()
    send_events(settings, later)
    assert not caught_up(wsettings)

    second = Worker(wsettings, log=tmp_path / "worker-2.log").start()
    try:
        wait_for(lambda: caught_up(wsettings), timeout=240, what="the rest of the stream",
                 worker=second)
        wait_windows_closed(second, wsettings)
        assert second.terminate() == 0
    finally:
        second.ensure_stopped()

    tables = [SOURCES[kind] for kind in EVENT_MODELS]
    return events + later, read_store(wsettings, {
        **{t: f"SELECT count(), uniqExact(event_id) FROM streamtune.{t} FINAL" for t in tables},
        **WINDOW_QUERIES,
    })


@pytest.fixture(scope="module")
def killed(broker: DevBroker, chdb_path: Path,
           tmp_path_factory: pytest.TempPathFactory) -> tuple[list, dict]:
    """One kill-and-restart run, asserted by both tests below."""
    tmp_path = tmp_path_factory.mktemp("kill")
    settings = isolated_settings(broker.port, chdb_path, tmp_path, uuid.uuid4().hex[:10])
    return kill_and_restart(settings, tmp_path)


@pytest.mark.timeout(500)
def test_sigkill_mid_stream_loses_and_duplicates_no_row(killed: tuple[list, dict]) -> None:
    events, store = killed
    expected = Counter(e.kind for e in events)
    for kind in EVENT_MODELS:
        assert store[SOURCES[kind]] == [[expected[kind], expected[kind]]], kind


@pytest.mark.timeout(500)
def test_sigkill_mid_stream_keeps_windows_exact(killed: tuple[list, dict]) -> None:
    _, store = killed
    check_windows(store)
