"""``streamtune status``: how far each consumer group is, and what a worker serves.

Everything comes from Kafka and a worker's metrics endpoint, never from the
store, so it works while a worker owns the chdb path: per stage, the consumer
group's committed offsets against the end offsets of its topics (the lag); the
served model versions from the compacted ``model-control`` topic (read from the
beginning) and the registry; and, when a worker's ``/metrics`` answers on
``STREAMTUNE_METRICS_PORT``, its last batch time, counters and loaded versions.
"""

from __future__ import annotations

import json
import re
import time
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Annotated, Any

import typer
from rich.table import Table

from streamtune.cli.app import app, console, load_settings
from streamtune.config import Settings
from streamtune.schemas.topics import SOURCES, loop_topic, raw_topic
from streamtune.streams.kafka.admin import PartitionLag

SHOWN_BEHIND = 20
"""Partitions with a lag the table lists (--json lists every partition)."""


@dataclass(frozen=True, slots=True)
class Stage:
    """One consumer group of the pipeline and the topics it reads."""

    name: str
    group: str
    topics: list[str]
    role: str


def stages(settings: Settings) -> list[Stage]:
    """The pipeline's consumer groups, in the order events flow through them."""
    from streamtune.streams.augment.stage import augment_group, augment_topics
    from streamtune.streams.detect.stage import detect_group, detect_topics
    from streamtune.streams.second_opinion.stage import second_opinion_group

    prefix = settings.topics.prefix
    alerts, scored = loop_topic("alerts", prefix), loop_topic("scored", prefix)
    return [
        Stage("ingest", f"{prefix}streamtune-ingest",
              [raw_topic(kind, prefix) for kind in SOURCES], "workers: raw events -> store"),
        Stage("augment", augment_group(settings), augment_topics(settings),
              "augment stages: clean commands and errors -> augmented rows"),
        Stage("detect", detect_group(settings), detect_topics(settings),
              "detect stages (with detection.stage): clean events -> alerts"),
        Stage("windows", f"{prefix}streamtune", [loop_topic("window-deltas", prefix)],
              "workers' window agent (faust app)"),
        Stage("webhooks", f"{prefix}streamtune-alerts", [alerts],
              "workers' webhook thread (with endpoints configured)"),
        Stage("trainer", f"{prefix}streamtune-trainer", [alerts, scored], "the trainer"),
        Stage("second opinion", second_opinion_group(settings), [scored],
              "second-opinion stages: unsure intent answers -> the teacher's"),
    ]


def gather(settings: Settings) -> dict[str, Any]:
    """Everything ``streamtune status`` shows, as plain data; raises BrokerUnavailable."""
    from streamtune.streams.kafka.admin import connect, group_lags

    connect(settings)
    groups = []
    for stage in stages(settings):
        parts = group_lags(settings, stage.group, stage.topics)
        groups.append({
            "stage": stage.name, "group": stage.group, "role": stage.role,
            "topics": stage.topics, "committed": any(p.committed is not None for p in parts),
            "lag": sum(p.lag for p in parts), "partitions": [_partition(p) for p in parts],
        })
    return {"broker": settings.kafka.servers, "groups": groups, "models": served(settings),
            "worker": worker_figures(settings.metrics_port)}


def _partition(p: PartitionLag) -> dict[str, Any]:
    return {"topic": p.topic, "partition": p.partition, "committed": p.committed,
            "start": p.start, "end": p.end, "lag": p.lag}


def served(settings: Settings) -> list[dict[str, Any]]:
    """Per model: champion, candidate and its share, from the latest ``model-control``
    message (the registry's champion when the message names none, or there is none)."""
    from streamtune.models.control import ControlReader, Serving

    reader = ControlReader(settings)
    try:
        latest: dict[str, Serving] = {s.model: s for s in reader.poll(timeout_s=5.0)}
    finally:
        reader.close()
    models = []
    for name in dict.fromkeys([*settings.scoring.models, *latest]):
        message = latest.get(name)
        champion = message.champion if message is not None else None
        models.append({
            "model": name, "champion": champion or _registry_champion(settings, name),
            "candidate": message.candidate if message is not None else None,
            "candidate_percent": message.percent if message is not None else 0.0,
            "reason": message.reason if message is not None else "",
            "source": "model-control" if message is not None else "registry",
        })
    return models


def _registry_champion(settings: Settings, name: str) -> str | None:
    from streamtune.errors import StreamtuneError
    from streamtune.models.registry import Registry

    try:
        found = Registry(settings).alias(name, "champion")
    except (StreamtuneError, OSError, ValueError):
        return None
    return None if found is None else found.version


_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def worker_figures(port: int) -> dict[str, Any] | None:
    """A local worker's figures from its metrics endpoint; None when none answers."""
    from streamtune.prometheus import scrape_series, totals
    from streamtune.streams.worker.progress import LAST_BATCH

    series = scrape_series(port) if port else {}
    if not series:
        return None
    total = totals(series)
    batches = int(total.get("streamtune_batch_seconds_count", 0))
    last = total.get(LAST_BATCH, 0.0)
    serving = []
    for sample, value in series.items():
        if sample.startswith("streamtune_serving_percent{"):
            labels = dict(_LABEL.findall(sample))
            serving.append({"model": labels.get("model"), "version": labels.get("version"),
                            "role": labels.get("role"), "percent": value})
    return {
        "metrics_port": port,
        "last_batch_at": last or None,
        "last_batch_age_s": round(time.time() - last, 1) if last else None,
        "batches": batches,
        "mean_batch_s": total.get("streamtune_batch_seconds_sum", 0.0) / batches
        if batches else None,
        "events_in": int(total.get("streamtune_events_in_total", 0)),
        "dead_letters": int(total.get("streamtune_dead_letters_total", 0)),
        "consumer_lag": int(total.get("streamtune_consumer_lag", 0)),
        "paused": bool(total.get("streamtune_consuming_paused", 0)),
        "serving": sorted(serving, key=lambda s: (str(s["model"]), str(s["role"]))),
    }


@app.command("status")
def status(
    as_json: Annotated[bool, typer.Option("--json", help="print JSON, for machines")] = False,
) -> None:
    """Lag of each consumer group per stage and partition, the served model versions and a
    local worker's last batch; reads Kafka (and the worker's metrics), never the store."""
    settings = load_settings()
    with nullcontext() if as_json else console.status("asking Kafka"):
        figures = gather(settings)
    if as_json:
        print(json.dumps(figures, indent=2))
        return
    render(figures)


def render(figures: dict[str, Any]) -> None:
    """Print :func:`gather`'s figures as tables."""
    groups = Table("stage", "consumer group", "partitions", "behind", "lag",
                   title=f"Kafka at {figures['broker']}", title_justify="left")
    behind = []
    for g in figures["groups"]:
        parts = g["partitions"]
        lagging = [p for p in parts if p["lag"]]
        behind += [(g["stage"], p) for p in lagging]
        lag = f"{g['lag']:,}" + ("" if g["committed"] or not parts else " (never committed)")
        groups.add_row(g["stage"], g["group"], str(len(parts)) if parts else "no topics yet",
                       str(len(lagging)), lag)
    console.print(groups)
    if behind:
        table = Table("stage", "topic", "partition", "committed", "end", "lag",
                      title="partitions behind", title_justify="left")
        for stage, p in behind[:SHOWN_BEHIND]:
            committed = "none" if p["committed"] is None else f"{p['committed']:,}"
            table.add_row(stage, p["topic"], str(p["partition"]), committed, f"{p['end']:,}",
                          f"{p['lag']:,}")
        console.print(table)
        if len(behind) > SHOWN_BEHIND:
            console.print(f"... and {len(behind) - SHOWN_BEHIND} more (--json lists them all)")
    models = Table("model", "champion", "candidate", "from", title="served models",
                   title_justify="left")
    for m in figures["models"]:
        candidate = (f"{m['candidate']} ({m['candidate_percent']:g} %)" if m["candidate"]
                     else "")
        models.add_row(m["model"], m["champion"] or "none", candidate, m["source"])
    console.print(models)
    worker = figures["worker"]
    if worker is None:
        console.print("no worker metrics on this machine (a worker serves them on "
                      "STREAMTUNE_METRICS_PORT)")
        return
    last = ("no batch yet" if worker["last_batch_age_s"] is None
            else f"last batch {worker['last_batch_age_s']:.0f} s ago")
    console.print(
        f"worker (metrics on port {worker['metrics_port']}): {last}, {worker['batches']:,} "
        f"batches, {worker['events_in']:,} events in, {worker['dead_letters']:,} dead letters, "
        f"lag {worker['consumer_lag']:,}" + (", [yellow]paused[/]" if worker["paused"] else ""))
    for s in worker["serving"]:
        console.print(f"  serving {s['model']} {s['version']} as {s['role']} "
                      f"({s['percent']:g} % of sessions)")
