"""Run real `streamtune worker` (and `streamtune augment`) processes and read what they
stored.

chdb lets one process hold one data path, and the test process already holds
the session's; so each worker gets a store path of its own, and results are
read back by a short subprocess once the worker has stopped.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, ConsumerGroupState, Message, TopicPartition
from confluent_kafka.admin import AdminClient
from pydantic import SecretStr

from streamtune.config import Settings, client_config
from streamtune.prometheus import scrape, windows_caught_up
from streamtune.schemas.events import Event
from streamtune.schemas.topics import SOURCES, raw_topic
from streamtune.streams.augment.stage import augment_group, augment_topics
from streamtune.streams.detect.stage import detect_group, detect_topics
from streamtune.streams.kafka.admin import end_offsets, group_caught_up
from streamtune.streams.kafka.producer import EventProducer
from streamtune.streams.worker.ingest import deltas_topic
from tests.support.settings import free_port, make_settings

_READER = """
import json, sys
import clickhouse_connect
client = clickhouse_connect.get_client(dsn=sys.argv[1])
out = {}
for name, sql in json.loads(sys.argv[2]).items():
    if sql.lstrip().upper().startswith("SYSTEM "):
        client.command(sql)
        out[name] = []
        continue
    result = client.query(sql)
    out[name] = [list(map(lambda v: v if isinstance(v, (int, float, str, bool, type(None), list,
        dict)) else str(v), row)) for row in result.result_rows]
print(json.dumps(out, default=str))
"""


class Worker:
    """One `streamtune worker` subprocess with its own store path and metrics port."""

    command = "worker"

    def __init__(self, settings: Settings, *, log: Path) -> None:
        self.settings = settings
        self.metrics_port = free_port()
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def env(self) -> dict[str, str]:
        s = self.settings
        base = {k: v for k, v in os.environ.items() if not k.startswith("STREAMTUNE_")}
        return {
            **base,
            "STREAMTUNE_DATA_DIR": str(s.data_dir),
            "STREAMTUNE_WORKER_ID": s.worker_id,
            "STREAMTUNE_KAFKA__DEV_BROKER_PORT": str(s.kafka.dev_broker_port),
            "STREAMTUNE_TOPICS__PREFIX": s.topics.prefix,
            "STREAMTUNE_TOPICS__PARTITIONS": str(s.topics.partitions),
            "STREAMTUNE_STORE__URL": s.store_url,
            "STREAMTUNE_STORE__DATABASE": s.store.database,
            "STREAMTUNE_METRICS_PORT": str(self.metrics_port),
            "STREAMTUNE_PIPELINE__WINDOW_IDLE_CLOSE_S": str(s.pipeline.window_idle_close_s),
            "STREAMTUNE_PIPELINE__BATCH_MAX_EVENTS": str(s.pipeline.batch_max_events),
            "STREAMTUNE_PIPELINE__OUTBOX_IMPORT_S": str(s.pipeline.outbox_import_s),
            **{f"STREAMTUNE_{group.upper()}": getattr(s, group).model_dump_json()
               for group in ("scoring", "detection", "loop", "training", "augmentation")},
            "STREAMTUNE_WEBHOOKS": json.dumps(_revealed(s.webhooks.model_dump())),
        }

    def start(self) -> Worker:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "streamtune", self.command], env=self.env(),
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        return self

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def metric(self, name: str) -> float:
        """Sum of a metric's samples (0 when the endpoint is not up yet)."""
        return scrape(self.metrics_port).get(name, 0.0)

    def terminate(self, timeout: float = 60) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def kill(self) -> None:
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def ensure_stopped(self) -> None:
        if self.alive():
            assert self.process is not None
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


class AugmentStage(Worker):
    """One `streamtune augment` subprocess: with the worker's settings (its data dir, so
    its rows reach the worker's chdb store through the store outbox) and its own metrics
    port; ``worker_id`` names its static group membership."""

    command = "augment"


class DetectStage(Worker):
    """One `streamtune detect` subprocess, with the worker's settings (its data dir: the
    store outbox its alert rows reach the worker's store by) and its own metrics port."""

    command = "detect"


def detect_caught_up(settings: Settings) -> bool:
    """True when the detect group has committed every record of the topics it reads."""
    return group_caught_up(settings, detect_group(settings), detect_topics(settings))


class SecondOpinionProcess(Worker):
    """One `streamtune second-opinion` subprocess, with the worker's settings (its data dir:
    the registry's versions, and the store outbox its rows reach the worker's store by)."""

    command = "second-opinion"


def _revealed(value: Any) -> Any:
    """Plain data with secrets in clear (for a child process's environment)."""
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, dict):
        return {k: _revealed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_revealed(v) for v in value]
    return value


def send_events(settings: Settings, events: Iterable[Event]) -> None:
    """Produce ``events`` to their raw topics and flush."""
    with EventProducer.from_settings(settings) as producer:
        for event in events:
            producer.send(event)


def worker_settings(base: Settings, tmp_path: Path, *, worker_id: str = "w1",
                    groups: dict[str, Any] | None = None, **pipeline: Any) -> Settings:
    """Settings for a worker: the test's broker and prefix, a chdb path of its own;
    ``groups`` sets other setting groups (``{"detection": {...}}``)."""
    return make_settings(
        tmp_path,
        worker_id=worker_id,
        kafka={"dev_broker_port": base.kafka.dev_broker_port},
        topics={"prefix": base.topics.prefix, "partitions": base.topics.partitions},
        store={"url": f"chdb://{tmp_path / 'worker-chdb'}", "database": "streamtune"},
        pipeline={"window_idle_close_s": 2.0, "outbox_import_s": 1.0, **pipeline},
        **(groups or {}),
    )


def wait_for(condition: Callable[[], bool], *, timeout: float, what: str,
             worker: Worker | Sequence[Worker] | None = None, interval: float = 0.5) -> None:
    """Until ``condition()``, checked every ``interval`` seconds (at first more often),
    for at most ``timeout`` seconds; fail early when a ``worker`` dies, and show the
    workers' last log lines when it fails."""
    watched = [] if worker is None else [worker] if isinstance(worker, Worker) else worker
    deadline = time.monotonic() + timeout
    pause = min(0.05, interval)
    while time.monotonic() < deadline:
        if condition():
            return
        for dead in (w for w in watched if not w.alive()):
            raise AssertionError(f"worker died while waiting for {what}:\n{dead.tail()}")
        time.sleep(pause)
        pause = min(pause * 2, interval)
    tails = "".join(f"\n--- {w.log.name}\n{w.tail()}" for w in watched)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}{tails}")


def caught_up(settings: Settings) -> bool:
    """True when the ingest group has committed every raw record."""
    return group_caught_up(settings, f"{settings.topics.prefix}streamtune-ingest",
                           [raw_topic(kind, settings.topics.prefix) for kind in SOURCES])


def members_with_partitions(settings: Settings, group: str) -> int:
    """Members of ``group`` that hold a partition, once the group is stable (else 0)."""
    admin = AdminClient(client_config(settings))
    found = admin.describe_consumer_groups([group])[group].result(timeout=10)
    if found.state != ConsumerGroupState.STABLE:
        return 0
    return sum(1 for member in found.members if member.assignment.topic_partitions)


def augment_caught_up(settings: Settings) -> bool:
    """True when the augment group has committed every clean command and error record."""
    return group_caught_up(settings, augment_group(settings), augment_topics(settings))


def read_topic(settings: Settings, topic: str, *, timeout: float = 30.0) -> list[Message]:
    """Every record of ``topic`` up to its end offsets now, with headers."""
    consumer = Consumer({**client_config(settings), "group.id": "test-readback",
                         "enable.auto.commit": False})
    try:
        ends = {p: end for p, end in end_offsets(settings, topic).items() if end}
        consumer.assign([TopicPartition(topic, p, 0) for p in ends])
        read: list[Message] = []
        deadline = time.monotonic() + timeout
        while ends and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None or message.error():
                continue
            read.append(message)
            if (message.offset() or 0) + 1 >= ends.get(message.partition() or 0, 0):
                ends.pop(message.partition() or 0, None)
        assert not ends, f"{topic}: partitions {sorted(ends)} not read to their end"
        return read
    finally:
        consumer.close()


def read_store(settings: Settings, queries: dict[str, str]) -> dict[str, list[list[Any]]]:
    """Run queries against a stopped worker's chdb store, in a subprocess."""
    return read_store_url(settings.store_url, queries)


def read_store_url(url: str, queries: dict[str, str]) -> dict[str, list[list[Any]]]:
    """Run statements in order in one subprocess on the store at ``url`` (chdb lets a
    process hold one data path); ``SYSTEM ...`` statements return no rows."""
    result = subprocess.run(
        [sys.executable, "-c", _READER, url, json.dumps(queries)],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def wait_windows_closed(worker: Worker, settings: Settings) -> None:
    """Once the ingest is caught up: wait until the window agent applied every delta it
    published, then past the idle-close time until no window is open."""
    ends = end_offsets(settings, deltas_topic(settings))
    wait_for(lambda: windows_caught_up(worker.metrics_port, ends), timeout=120,
             what="the window agent applying every delta", worker=worker)
    wait_for(lambda: worker.metric("streamtune_windows_emitted_total") > 0
             and worker.metric("streamtune_windows_open") == 0,
             timeout=settings.pipeline.window_idle_close_s + 60,
             what="every window closed", worker=worker)
