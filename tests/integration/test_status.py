"""`streamtune status` beside a real worker: lag per consumer group from Kafka, served
versions from model-control, the worker's figures from its metrics; and the worker's
progress lines, which count every event once."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from streamtune.config import Settings
from streamtune.models.control import Serving, publish
from streamtune.simulator import Simulator
from streamtune.streams.kafka.admin import create_topics
from streamtune.streams.kafka.producer import EventProducer
from streamtune.streams.worker.progress import LAST_BATCH
from tests.support.cli import run_cli
from tests.support.worker_harness import Worker, caught_up, wait_for, worker_settings

EVENTS = 300


def status(worker: Worker, cwd: Path) -> dict[str, Any]:
    result = run_cli("status", "--json", cwd=cwd, env=worker.env())
    assert result.returncode == 0, result.stderr
    figures: dict[str, Any] = json.loads(result.stdout)
    return figures


def group(figures: dict[str, Any], stage: str) -> dict[str, Any]:
    found: dict[str, Any] = next(g for g in figures["groups"] if g["stage"] == stage)
    return found


def reported(log: Path) -> list[int]:
    """Events counted by each of a worker's progress lines."""
    return [int(n.replace(",", "")) for n in
            re.findall(r"progress: ([\d,]+) events in [\d.]+ s", log.read_text())]


def test_status_shows_lag_before_and_after_a_worker_catches_up(settings: Settings,
                                                              tmp_path: Path) -> None:
    create_topics(settings)
    with EventProducer.from_settings(settings) as producer:
        for event in Simulator(3).events(EVENTS):
            producer.send(event)
    publish(settings, Serving("status_probe", champion="v7", candidate="v8", percent=5.0,
                              reason="canary"))
    worker = Worker(worker_settings(settings, tmp_path), log=tmp_path / "worker.log")

    before = status(worker, tmp_path)  # no worker yet: nothing consumed, no metrics
    ingest = group(before, "ingest")
    assert ingest["group"] == f"{settings.topics.prefix}streamtune-ingest"
    assert ingest["lag"] == EVENTS and not ingest["committed"]
    assert len(ingest["partitions"]) == 8 * settings.topics.partitions
    assert all(p["committed"] is None for p in ingest["partitions"])
    assert before["worker"] is None
    probe = next(m for m in before["models"] if m["model"] == "status_probe")
    assert (probe["champion"], probe["candidate"], probe["candidate_percent"],
            probe["source"]) == ("v7", "v8", 5.0, "model-control")

    worker.start()
    try:
        wait_for(lambda: caught_up(settings), timeout=120, what="the worker catching up",
                 worker=worker)
        wait_for(lambda: worker.metric(LAST_BATCH) > 0, timeout=15,
                 what="the progress sampler seeing a batch", worker=worker)
        after = status(worker, tmp_path)
        ingest = group(after, "ingest")
        assert ingest["lag"] == 0 and ingest["committed"]
        assert sum(p["end"] for p in ingest["partitions"]) == EVENTS
        assert all(p["committed"] == p["end"] for p in ingest["partitions"] if p["end"])
        trainer = group(after, "trainer")  # no trainer runs: it never committed
        assert not trainer["committed"]
        augment = group(after, "augment")  # the worker published clean events; no stage runs
        assert augment["group"] == f"{settings.topics.prefix}streamtune-augment"
        assert 0 < augment["lag"] < EVENTS and not augment["committed"]
        opinion = group(after, "second opinion")  # reads `scored`; no stage runs
        assert opinion["group"] == f"{settings.topics.prefix}streamtune-second-opinion"
        assert not opinion["committed"]
        figures = after["worker"]
        assert figures is not None and figures["metrics_port"] == worker.metrics_port
        assert figures["events_in"] == EVENTS and figures["batches"] >= 1
        assert 0 <= figures["last_batch_age_s"] < 60 and not figures["paused"]

        wait_for(lambda: sum(reported(worker.log)) >= EVENTS, timeout=30,
                 what="progress lines", worker=worker)  # the idle line: test_progress.py
        assert sum(reported(worker.log)) == EVENTS
        assert worker.terminate() == 0
    finally:
        worker.ensure_stopped()
