"""Worker CPU per event, step by step along the ingest hot path (printed figures, no assertions).

Builds N raw records in one process: simulated events of every kind (``Simulator``),
a share of the simulator's hostile payloads (``hostile_payloads``: malformed JSON,
validation and version failures, oversized records, injection-looking text) and a
share of command and error events with planted secrets in their text and free-form
objects. Each step then runs over the records or events the previous one produced,
least CPU time of ``--rounds`` rounds, in microseconds per record (decode, the whole batch) or
per event (the rest), with the garbage collector tuned as the worker tunes it. Rows
marked "reference" time what a step did before it was made faster, for comparison:

- decode: ``decode_batch`` (bytes -> events, or failures with their reason);
- clean: ``screen_events`` then ``cleaning_update`` (redaction, NFKC normalisation,
  parameters), written into the event (``set_fields``) as the worker's batch does;
  clean, annotate and process run each round on records no step has seen, as a worker's
  steps do (they cache what they made of a text: on the same records again, a reference
  row each, every text is a cache hit from the second round on);
- redact: the redactor alone over every event's free-text and free-form JSON fields, with
  its full rules on every value (the reference) and gated by ``Redactor.screen``;
- NFKC: ``normalize_text`` of the command texts (uncached);
- dedup: ``RecentIds.see`` per batch, from empty and at its bound (a million ids held);
- annotate: ``annotation_update`` per cleaned event, written into it as the worker does;
- process: ``BatchProcessor.process`` without augmentation (all of the above, windows), in
  batches of ``batch_max_events`` records;
- rows: the batch's table rows as Arrow tables (``event_rows``: the events of each kind as
  columns read straight from them, + ``TableLayout.arrow``), free-form objects' JSON taken
  from the secret screen (one reference writes it again, the other builds a dict per row
  first, as the rows were built before);
- insert: those Arrow tables into an embedded chdb store (``--no-insert`` skips it), and
  the part of it that does not depend on the rows: the same inserts of one row each;
- clean-topic JSON: the bytes published on ``clean.<source>`` (``event_json``);
- live stage: ``LiveStage.run`` per batch with no model served (the drift detectors and
  the template miner; scoring needs a trained model: ``benchmarks/score.py`` measures it),
  past its warm-up, over events it has not seen (as in a worker: new lines are masked and
  placed), and over the same events again (the reference: every line a cache hit).

Run: ``.venv/bin/python benchmarks/steps.py [--events 20000] [--rounds 7]``
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import logging
import random
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

from rich.console import Console
from rich.table import Table

from streamtune.config import Settings
from streamtune.schemas.decode import decode_batch
from streamtune.schemas.events import CommandEvent, ErrorEvent, Event, set_fields
from streamtune.schemas.text import normalize_text
from streamtune.schemas.topics import SOURCES
from streamtune.simulator import Simulator, hostile_payloads
from streamtune.sinks.rows import arrow_tables, event_json, row_by_row
from streamtune.streams.worker.batch import BatchProcessor, BatchResult, RawRecord
from streamtune.streams.worker.startup import tune_worker_gc
from streamtune.transforms.annotation import annotate, annotation_update
from streamtune.transforms.cleaning import (
    FREE_TEXT_FIELDS,
    clean_event,
    cleaning_update,
    screen_events,
)
from streamtune.transforms.dedup import RecentIds
from streamtune.transforms.redaction import Redactor

START = datetime(2026, 1, 1, tzinfo=UTC)
LIVE = "live stage (no model served: detectors, template miner), new events"
PROCESS = "process (BatchProcessor, no augmentation)"
SECRETS = (
    "password=hunter2", "token: ghp_" + "a1B2" * 9, "Authorization: Bearer abc.def-ghi_jkl",
    "postgres://app:s3cr3t@db-01:5432/x", "AKIAIOSFODNN7EXAMPLE",
    "api_key='sk-live_abc123def456ghi789jk'",
)
"""Secrets planted in a share of the command and error events."""


def _plant(event: Event, rng: random.Random) -> Event:
    secret = rng.choice(SECRETS)
    if isinstance(event, CommandEvent):
        return event.model_copy(update={
            "raw_input": f"{event.raw_input} {secret}"[:2000], "normalized_input": None,
            "context": {**event.context, "auth": {"db_password": "hunter2", "note": secret}}})
    if isinstance(event, ErrorEvent):
        return event.model_copy(update={"error_message": f"{event.error_message} ({secret})",
                                        "correction": {**event.correction, "hint": secret}})
    return event


def records(count: int, *, hostile_share: float, secret_share: float,
            seed: int = 7) -> list[RawRecord]:
    """``count`` raw records: simulated events, hostile payloads, events with secrets."""
    rng = random.Random(seed)  # noqa: S311 - benchmark data
    hostile = iter(hostile_payloads(seed, max(int(count * hostile_share), 1), start=START))
    out: list[RawRecord] = []
    for offset, event in enumerate(Simulator(seed, start=START).events(count)):
        topic = f"raw.{SOURCES[event.kind]}"
        if rng.random() < hostile_share and (bad := next(hostile, None)) is not None:
            out.append(RawRecord("raw.commands", 0, offset, bad[0]))
            continue
        if rng.random() < secret_share:
            event = _plant(event, rng)
        out.append(RawRecord(topic, 0, offset, event.model_dump_json().encode()))
    return out


def best_us(run: Callable[[], object], per: int, rounds: int) -> float:
    """Least CPU time (the process's, all threads) of ``rounds`` calls of ``run``, in
    microseconds per item: on a shared machine, wall time counts others' work too."""
    best = float("inf")
    for _ in range(rounds):
        started = time.process_time()
        run()
        best = min(best, time.process_time() - started)
    return best / max(per, 1) * 1e6


def _redact(redactor: Redactor, events: list[Event], *, gated: bool) -> None:
    """Redact every free-text field value; ``gated``: only those the batch's screen flags."""
    values = [getattr(e, name) for e in events for name, _ in FREE_TEXT_FIELDS.get(e.kind, ())]
    flags = redactor.screen(values) if gated else [True] * len(values)
    counts: Counter[str] = Counter()
    for value, flagged in zip(values, flags, strict=True):
        if flagged:
            redactor.redact_value_into(value, counts)


def _clean(redactor: Redactor, events: list[Event], *, write: bool = False) -> None:
    """The batch's cleaning: the screen, then each event's update, written into the event
    with ``write`` (as the worker does; not on events other rows use again)."""
    cleared = screen_events(events, redactor)
    for event in events:
        update, _ = cleaning_update(event, redactor=redactor, cleared=cleared)
        if write and update:
            set_fields(event, update)


def _arrow_tables(results: list[BatchResult], layouts: dict[str, Any]) -> list[dict[str, Any]]:
    """Per batch, its event and dead-letter rows as one Arrow table per table."""
    return [arrow_tables(result.event_rows(), layouts.__getitem__) for result in results]


def _arrow_tables_by_row(results: list[BatchResult],
                         layouts: dict[str, Any]) -> list[dict[str, Any]]:
    """:func:`_arrow_tables` with a dict built per row first (the rows as built before)."""
    return [arrow_tables(row_by_row(result.event_rows()), layouts.__getitem__)
            for result in results]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--hostile-share", type=float, default=0.02)
    parser.add_argument("--secret-share", type=float, default=0.02)
    parser.add_argument("--no-insert", action="store_true", help="skip the chdb insert step")
    args = parser.parse_args()

    raws = records(args.events, hostile_share=args.hostile_share,
                   secret_share=args.secret_share)
    values = [r.value for r in raws]
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    redactor = Redactor(settings.pipeline.redaction_patterns)
    events, failures = decode_batch(values)
    cleaned = [clean_event(e, redactor=redactor)[0] for e in events]
    annotated = [annotate(e) for e in cleaned]
    texts = [e.raw_input for e in events if isinstance(e, CommandEvent)]
    n, rounds = len(events), args.rounds
    size = settings.pipeline.batch_max_events

    def dedup() -> None:
        recent = RecentIds(horizon_s=600, max_ids=100_000)
        for start in range(0, n, size):
            batch = events[start:start + size]
            recent.see([e.event_id.bytes for e in batch], [hash(e.event_id) for e in batch],
                       now=0.0)

    full = RecentIds(horizon_s=3600, max_ids=settings.pipeline.dedup_max_ids)
    for start in range(0, full.max_ids, size):  # at its bound, as in a worker that ran a while
        fill = [uuid4().bytes for _ in range(size)]
        full.see(fill, [hash(i) for i in fill], now=start / 5000)
    fresh = iter([[uuid4().bytes for _ in range(n)] for _ in range(rounds + 1)])
    clock = itertools.count(full.max_ids // 5000 + 1)

    def dedup_at_bound() -> None:
        ids, now = next(fresh), float(next(clock))
        for start in range(0, n, size):
            batch = ids[start:start + size]
            full.see(batch, [hash(i) for i in batch], now=now)

    processor = BatchProcessor(settings)
    batches = [raws[i:i + size] for i in range(0, len(raws), size)]

    def process() -> list[BatchResult]:
        processor.recent = RecentIds(horizon_s=600, max_ids=100_000)  # every event new again
        return [processor.process(batch, now=0.0, augment=False) for batch in batches]

    results = process()
    tune_worker_gc()  # as the worker does once started
    new = _on_new_records(args, processor, redactor)
    rows: dict[str, tuple[float, str]] = {
        "decode (decode_batch)": (best_us(lambda: decode_batch(values), len(values), rounds),
                                  "per record"),
        "clean (screen + cleaning_update: redact, NFKC, parameters)": (new["clean"], ""),
        "clean, the same events again": (
            best_us(lambda: _clean(redactor, events), n, rounds), "reference: texts seen"),
        "clean, cleaning_update alone (full rules on every value)": (
            best_us(lambda: [cleaning_update(e, redactor=redactor) for e in events], n, rounds),
            "reference: against the same events again"),
        "redact free-text fields, full rules on every value": (
            best_us(lambda: _redact(redactor, events, gated=False), n, rounds), "reference"),
        "redact free-text fields, gated (screen + rules)": (
            best_us(lambda: _redact(redactor, events, gated=True), n, rounds), ""),
        "NFKC normalize_text (command texts)": (
            best_us(lambda: [normalize_text(t) for t in texts], len(texts), rounds),
            "per command"),
        "dedup (RecentIds.see)": (best_us(dedup, n, rounds), ""),
        "dedup, a million ids held (the bound)": (best_us(dedup_at_bound, n, rounds),
                                                  "each batch new ids"),
        "annotate": (new["annotate"], ""),
        "annotate, the same events again": (
            best_us(lambda: [annotation_update(e) for e in cleaned], n, rounds),
            "reference: texts seen"),
        PROCESS: (new["process"], "per record"),
        "process, the same records again": (best_us(process, len(values), rounds),
                                            "reference: texts seen"),
    }
    layouts, store = _layouts(args.no_insert)
    tables = _arrow_tables(results, layouts)
    rows["rows (event_rows -> Arrow)"] = (
        best_us(lambda: _arrow_tables(results, layouts), n, rounds), "")
    unscreened = [dataclasses.replace(result, serialised={}) for result in results]
    rows["rows, JSON written again (not the screen's)"] = (
        best_us(lambda: _arrow_tables(unscreened, layouts), n, rounds), "reference")
    rows["rows, a dict per row first"] = (
        best_us(lambda: _arrow_tables_by_row(results, layouts), n, rounds), "reference")
    if store is not None:
        def insert() -> None:
            for batch in tables:
                for table, arrow in batch.items():
                    store.insert(table, arrow, layouts[table].columns)
        rows["insert (embedded chdb)"] = (best_us(insert, n, rounds), "")
        inserts = sum(len(batch) for batch in tables)
        first_rows = [{table: arrow.slice(0, 1) for table, arrow in batch.items()}
                      for batch in tables]

        def insert_first_rows() -> None:
            for batch in first_rows:
                for table, arrow in batch.items():
                    store.insert(table, arrow, layouts[table].columns)
        fixed = best_us(insert_first_rows, inserts, rounds)
        rows["insert, one row per table (its fixed cost)"] = (
            fixed * inserts / n, f"part of insert: {fixed / 1000:.1f} ms per insert, "
                                 f"{inserts / len(tables):.0f} inserts per batch")
        drop_store(store)
    rows["clean-topic JSON (event_json)"] = (
        best_us(lambda: [event_json(e) for e in annotated], n, rounds), "")
    rows["clean-topic JSON, model_dump_json"] = (
        best_us(lambda: [e.model_dump_json().encode() for e in annotated], n, rounds),
        "reference")
    live = _live_stage()
    batched = [[event for event, _ in result.events] for result in results]

    def watch(batches: list[list[Event]]) -> None:
        for batch in batches:
            live.run(batch, [("raw.x", 0)] * len(batch))

    watch(batched)  # past the detectors' and the miner's warm-up, as a running worker is
    rows[LIVE] = (_live_on_new_events(watch, processor, args.events, rounds), "")
    rows["live stage, the same events again"] = (
        best_us(lambda: watch(batched), n, rounds), "reference: lines seen before")
    live.close()
    shutil.rmtree(live.settings.data_dir, ignore_errors=True)

    path = ("decode (decode_batch)", PROCESS, "rows (event_rows -> Arrow)",
            "clean-topic JSON (event_json)")
    table = Table(title=f"{len(values):,} records ({n:,} valid events, {len(failures)} "
                        f"dead letters), best of {rounds}")
    table.add_column("step")
    table.add_column("µs/event", justify="right")
    table.add_column("note")
    for name, (micros, note) in rows.items():
        table.add_row(name, f"{micros:.1f}", note)
    ingest = rows[path[1]][0] + sum(rows[p][0] for p in path[2:])
    table.add_row("ingest path (process + rows + JSON)", f"{ingest:.1f}",
                  f"{1e6 / ingest:,.0f} events per CPU-second", style="bold")
    batch = ingest + sum(rows[p][0] for p in (LIVE, "insert (embedded chdb)") if p in rows)
    table.add_row("batch thread (ingest path + live stage + insert)", f"{batch:.1f}",
                  f"{1e6 / batch:,.0f} events per CPU-second", style="bold")
    Console().print(table)


def _on_new_records(args: argparse.Namespace, processor: BatchProcessor,
                    redactor: Redactor) -> dict[str, float]:
    """Least µs per event (per record for process) of clean, annotate and process over
    ``--rounds`` rounds, each on records no step has seen (their texts too: the steps
    cache what they made of a text): two more sets of simulated records a round, one
    cleaned and annotated, one processed."""
    best = dict.fromkeys(("clean", "annotate", "process"), float("inf"))
    size = processor.settings.pipeline.batch_max_events
    for round_ in range(args.rounds):
        made = [records(args.events, hostile_share=args.hostile_share,
                        secret_share=args.secret_share, seed=100 + 2 * round_ + i)
                for i in range(2)]
        events = decode_batch([r.value for r in made[0]])[0]
        started = time.process_time()
        _clean(redactor, events, write=True)
        best["clean"] = min(best["clean"], (time.process_time() - started) / len(events))
        started = time.process_time()
        for event in events:
            if annotations := annotation_update(event):
                set_fields(event, annotations)
        best["annotate"] = min(best["annotate"], (time.process_time() - started) / len(events))
        processor.recent = RecentIds(horizon_s=600, max_ids=100_000)
        started = time.process_time()
        for i in range(0, len(made[1]), size):
            processor.process(made[1][i:i + size], now=0.0, augment=False)
        best["process"] = min(best["process"], (time.process_time() - started) / len(made[1]))
    return {step: seconds * 1e6 for step, seconds in best.items()}


def _live_on_new_events(watch: Callable[[list[list[Event]]], None],
                        processor: BatchProcessor, count: int, rounds: int) -> float:
    """The live stage's least µs per event over ``rounds`` runs, each over events it has
    not seen (``count`` more simulated events, another seed, in ``rounds`` parts), as a
    worker's stage sees them: every new line is masked and placed."""
    processor.recent = RecentIds(horizon_s=600, max_ids=100_000)
    raws = records(count, hostile_share=0.0, secret_share=0.0, seed=8)
    size = processor.settings.pipeline.batch_max_events
    events = [[e for e, _ in processor.process(raws[i:i + size], now=0.0, augment=False).events]
              for i in range(0, len(raws), size)]
    flat = [e for batch in events for e in batch]
    part = -(-len(flat) // rounds)
    parts = iter([[flat[i:i + part]] for i in range(0, len(flat), part)])
    return best_us(lambda: watch(next(parts)), part, rounds)


def _live_stage() -> Any:
    """The worker's live stage with nothing served (scoring needs a trained model:
    ``benchmarks/score.py``), its detectors and miner fresh, its alerts not logged."""
    from prometheus_client import CollectorRegistry

    from streamtune.prometheus import PipelineMetrics
    from streamtune.streams.live.stage import LiveStage

    logging.getLogger("streamtune").setLevel(logging.ERROR)
    settings = Settings(_env_file=None,  # type: ignore[call-arg]
                        data_dir=Path(tempfile.mkdtemp(prefix="st-steps-live-")))
    return LiveStage(settings, metrics=PipelineMetrics(CollectorRegistry()))


def _layouts(no_insert: bool) -> tuple[dict[str, Any], Any]:
    """Every event table's layout (and dead_letters'), read from a chdb store migrated and
    tuned as a worker's."""
    from streamtune.sinks.migrations import migrate, tune_embedded_tables
    from streamtune.sinks.rows import TableLayout
    from streamtune.sinks.store import ClickHouseStore

    root = Path(tempfile.mkdtemp(prefix="st-steps-"))
    store = ClickHouseStore(f"chdb://{root / 'db'}")
    migrate(store)
    tune_embedded_tables(store)
    layouts = {t: TableLayout.read(store, t) for t in [*SOURCES.values(), "dead_letters"]}
    if no_insert:
        drop_store(store)
        return layouts, None
    return layouts, store


def drop_store(store: Any) -> None:
    """Close a store :func:`_layouts` opened, and remove its directory."""
    store.close()
    shutil.rmtree(Path(store.url.removeprefix("chdb://")).parent, ignore_errors=True)


if __name__ == "__main__":
    main()
