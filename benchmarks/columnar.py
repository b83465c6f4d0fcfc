"""Today's command path against a columnar prototype of it (issue #18, item 1), µs per command.

The hot path builds pydantic objects per event and copies them at each step; item 1 of
the hot-path issue asks for one columnar batch per event kind instead. Before that
rewrite, this measures what it would buy on the heaviest kind, commands, in one process:

- today: ``BatchProcessor.process`` (decode, screen, clean, de-duplicate, annotate,
  windows), the rows as Arrow tables and the clean-topic JSON, as ``steps.py`` times them;
- the prototype: msgspec Structs decoded with the contract's bounds and the post-checks
  msgspec cannot express (size, version, names stripped, RFC 3339 and UUID spellings,
  time range, free-form bounds, repeated keys), anything else handed to the contract's
  decoder; the secret gate over the batch; cleaning and annotation through today's
  caches, the Structs updated in place; Arrow columns built from them; the clean-topic JSON
  of the cleaned, annotated Structs by msgspec. Its parts are timed on their own.

A second table times decoding alone: the contract's decoder, the prototype's, and the
prototype's followed by building the contract's ``CommandEvent`` from its values (what
swapping the decoder alone would cost while the rest of the hot path takes the contract's
objects).

Each path runs over sets of commands it has not seen, least CPU time per set over
alternating rounds: the caches of cleaned and annotated texts are emptied before each run
(else the path run second on a set would find every text the first one cached). Then both
decoders read the simulator's hostile command payloads and commands with one field
changed: the payloads the prototype accepts but the contract refuses, or accepts with other
values, are the work left before it may replace the contract's decoder (printed by reason).

Run: ``.venv/bin/python benchmarks/columnar.py [--commands 20000] [--rounds 2]``
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from uuid import UUID, uuid4

import msgspec
import orjson
import pyarrow as pa
from msgspec import UNSET, Meta, UnsetType
from rich.console import Console
from rich.table import Table
from steps import START, _arrow_tables, records

from streamtune.config import Settings
from streamtune.errors import InvalidEvent
from streamtune.schemas.bounds import (
    _IS_RFC3339,
    _IS_UUID,
    EARLIEST,
    LATEST,
    MAX_EVENT_BYTES,
    MAX_OBJECT_ITEMS,
    _check_object,
    _flat_within_bounds,
)
from streamtune.schemas.decode import _WHITESPACE, _keys_within, decode_event
from streamtune.schemas.events import (
    SCHEMA_VERSION,
    CommandEvent,
    EntityTag,
    ParameterSpan,
    unvalidated,
)
from streamtune.simulator import Simulator, hostile_payloads
from streamtune.sinks.migrations import migrate
from streamtune.sinks.rows import TableLayout, event_json, json_text
from streamtune.sinks.store import ClickHouseStore
from streamtune.streams.worker.batch import BatchProcessor, RawRecord
from streamtune.streams.worker.startup import tune_worker_gc
from streamtune.transforms.annotation import _cached_command_update, _value_pattern
from streamtune.transforms.cleaning import _clean_texts, fill_parameters
from streamtune.transforms.dedup import RecentIds
from streamtune.transforms.redaction import Redactor

Ident = Annotated[str, Meta(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]*$")]
Offset = Annotated[int, Meta(ge=0, le=2000)]
Text = Annotated[str, Meta(min_length=1, max_length=2000)]


class Span(msgspec.Struct, forbid_unknown_fields=True):
    name: Ident
    start: Offset
    end: Offset
    value: Annotated[str, Meta(max_length=500)]


class Tag(msgspec.Struct, forbid_unknown_fields=True):
    label: Ident
    start: Offset
    end: Offset
    text: Annotated[str, Meta(max_length=500)]


class Command(msgspec.Struct, forbid_unknown_fields=True):
    """A command event as the prototype decodes it; absent fields are ``UNSET``."""

    kind: Literal["command"]
    event_time: str
    source: str
    session_id: str
    raw_input: Text
    command_type: Ident
    success: bool
    execution_time: Annotated[float, Meta(ge=0.0, le=86_400.0)]
    event_id: str | UnsetType = UNSET
    schema_version: int | UnsetType = UNSET
    normalized_input: Text | None | UnsetType = UNSET
    parameters: dict[str, Any] | UnsetType = UNSET
    context: dict[str, Any] | UnsetType = UNSET
    intent_labels: Annotated[list[Ident], Meta(max_length=16)] | None | UnsetType = UNSET
    parameter_boundaries: Annotated[list[Span], Meta(max_length=64)] | None | UnsetType = UNSET
    entity_tags: Annotated[list[Tag], Meta(max_length=64)] | None | UnsetType = UNSET
    complexity_score: Annotated[float, Meta(ge=0.0, le=1.0)] | None | UnsetType = UNSET


DECODER = msgspec.json.Decoder(Command)
ENCODER = msgspec.json.Encoder(enc_hook=lambda value: _plain(value))
STRING = pa.string()


def _name(value: str) -> str | None:
    value = value.strip()
    return value if 0 < len(value) <= 128 else None


def decode_command(raw: bytes) -> Command | None:
    """The command, its fields as the contract stores them; None: leave it to the contract."""
    if len(raw) > MAX_EVENT_BYTES:
        return None
    try:
        command = DECODER.decode(raw)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None
    if command.schema_version not in (UNSET, SCHEMA_VERSION) or not _IS_RFC3339(
            command.event_time) or (command.event_id is not UNSET
                                    and not _IS_UUID(command.event_id)):
        return None
    try:
        moment = datetime.fromisoformat(command.event_time).astimezone(UTC)
    except ValueError:
        return None
    source, session = _name(command.source), _name(command.session_id)
    if not EARLIEST <= moment < LATEST or source is None or session is None:
        return None
    keys = sum(getattr(command, name) is not UNSET for name in Command.__struct_fields__)
    for name in ("parameters", "context"):
        value = getattr(command, name)
        if value is UNSET:
            setattr(command, name, {})
        elif value and not _flat_within_bounds(value):
            try:
                if _check_object(value) > MAX_OBJECT_ITEMS:
                    return None
            except ValueError:
                return None  # over a bound: the contract says which
            keys += _keys_within(value)
        else:
            keys += len(value)
    keys += 4 * (len(command.parameter_boundaries or ()) + len(command.entity_tags or ()))
    if raw.translate(None, _WHITESPACE).count(b'":') != keys:
        return None  # a key may repeat (or a string holds '":'): the contract decides
    command.event_time, command.source, command.session_id = moment, source, session  # type: ignore[assignment]
    return command


_DEFAULTS = {name: field.get_default(call_default_factory=True)
             for name, field in CommandEvent.model_fields.items() if not field.is_required()}


def contract_event(command: Command) -> CommandEvent:
    """The contract's ``CommandEvent`` holding a decoded command's values, not validated
    again (``unvalidated``): what swapping the decoder alone, the hot path still handing
    on the contract's objects, would add to the prototype's decode."""
    given = {name: value for name, value in msgspec.structs.asdict(command).items()
             if value is not UNSET}
    if "event_id" in given:
        given["event_id"] = UUID(given["event_id"])
    for name, model in (("parameter_boundaries", ParameterSpan), ("entity_tags", EntityTag)):
        if given.get(name):
            given[name] = [unvalidated(model, msgspec.structs.asdict(item),
                                       set(item.__struct_fields__)) for item in given[name]]
    values = {name: given[name] if name in given else
              (uuid4() if name == "event_id" else _DEFAULTS[name])
              for name in CommandEvent.model_fields}
    return unvalidated(CommandEvent, values, set(given))


def decoding(batch_sets: list[list[RawRecord]], rounds: int) -> dict[str, float]:
    """µs per command (least of ``rounds`` over each set): the contract's decoder, the
    prototype's, and the prototype's followed by :func:`contract_event`."""
    def prototype_to_contract(raws: list[bytes]) -> None:
        for raw in raws:
            command = decode_command(raw)
            if command is not None:
                contract_event(command)

    ways: dict[str, Callable[[list[bytes]], Any]] = {
        "contract (decode_event)": lambda raws: [decode_event(raw) for raw in raws],
        "prototype (decode_command)": lambda raws: [decode_command(raw) for raw in raws],
        "prototype, then the contract's object": prototype_to_contract,
    }
    best = dict.fromkeys(ways, float("inf"))
    for _ in range(rounds):
        for batch_set in batch_sets:
            raws = [record.value for record in batch_set]
            for name, way in ways.items():
                started = time.process_time()
                way(raws)
                best[name] = min(best[name], (time.process_time() - started) / len(raws))
    return {name: seconds * 1e6 for name, seconds in best.items()}


def _plain(value: Any) -> dict[str, Any]:
    """A span or tag, annotation's model or the decoder's Struct, as a dict."""
    return msgspec.structs.asdict(value) if isinstance(value, msgspec.Struct) else value.__dict__


def _json(value: Any) -> str:
    return orjson.dumps(value, default=_plain).decode()


def columnar(records_: list[RawRecord], redactor: Redactor, recent: RecentIds,
             parts: Counter[str]) -> tuple[pa.Table, list[bytes]]:
    """One batch of commands as an Arrow table and its clean-topic records."""
    clock = time.process_time()

    def lap(part: str) -> None:
        nonlocal clock
        now = time.process_time()
        parts[part] += now - clock
        clock = now

    commands = []
    for record in records_:
        command = decode_command(record.value)
        if command is None:  # the contract's path: measured, kept out of the columns here
            decode_event(record.value)
            continue
        commands.append((record, command))
    lap("decode")
    values: list[Any] = []
    for _, command in commands:
        values += (command.raw_input, command.normalized_input or None, command.parameters,
                   command.context)
    serialised: dict[int, tuple[Any, bytes]] = {}
    flags = redactor.screen(values, serialised=serialised)
    lap("secret gate")

    def object_json(value: dict[str, Any]) -> str:
        """As today's rows: the screen's JSON of an object the cleaning kept."""
        found = serialised.get(id(value))
        return json_text(value, found[1] if found is not None and found[0] is value else None)

    columns: dict[str, list[Any]] = defaultdict(list)
    for i, (record, command) in enumerate(commands):
        normalized_in = command.normalized_input or None
        raw, normalized, _ = _clean_texts(redactor, command.raw_input, normalized_in,
                                          not flags[4 * i] and not flags[4 * i + 1])
        params, context = (value if not flags[4 * i + k] else
                           redactor.redact_value_into(value, Counter())
                           for k, value in ((2, command.parameters), (3, command.context)))
        if not params and normalized is not None:
            params = fill_parameters(command.command_type, normalized) or params
        missing = tuple(getattr(command, name) in (None, UNSET) for name in (
            "intent_labels", "complexity_score", "parameter_boundaries", "entity_tags"))
        update = dict(_cached_command_update(
            command.command_type, normalized, raw if normalized is None else "",
            tuple((k, type(v), v) for k, v in params.items()), missing))  # type: ignore[arg-type]
        for name, value in (("raw_input", raw), ("normalized_input", normalized or ""),
                            ("parameters", object_json(params)),
                            ("context", object_json(context)),
                            ("kafka_topic", record.topic), ("kafka_partition", record.partition),
                            ("kafka_offset", record.offset)):
            columns[name].append(value)
        command.raw_input, command.normalized_input = raw, normalized
        command.parameters, command.context = params, context
        for name in ("intent_labels", "parameter_boundaries", "entity_tags",
                     "complexity_score"):
            value = update.get(name, getattr(command, name))
            value = None if value is UNSET else value
            setattr(command, name, value)
            columns[name].append(list(value or ()) if name == "intent_labels" else
                                 value if name == "complexity_score" else _json(value or []))
    lap("clean, annotate, columns")
    ids = []
    for record, command in commands:
        if command.event_id is UNSET:  # as today: an id from the record's position
            command.event_id = str(record.identity)
        ids.append(UUID(command.event_id).bytes)
    recent.see(ids, [hash(r.value) for r, _ in commands], now=0.0)
    lap("de-duplicate")
    plain = {name: [getattr(c, name) for _, c in commands] for name in (
        "event_time", "source", "session_id", "command_type", "success", "execution_time")}
    table = pa.table({
        "event_id": pa.array(ids, pa.binary(16)),
        "event_time": pa.array(plain["event_time"], pa.timestamp("us", "UTC")),
        **{name: pa.array(plain[name], STRING) for name in ("source", "session_id",
                                                            "command_type")},
        "success": pa.array(plain["success"], pa.bool_()),
        "execution_time": pa.array(plain["execution_time"], pa.float64()),
        "intent_labels": pa.array(columns.pop("intent_labels"), pa.list_(STRING)),
        "complexity_score": pa.array(columns.pop("complexity_score"), pa.float64()),
        "kafka_partition": pa.array(columns.pop("kafka_partition"), pa.int32()),
        "kafka_offset": pa.array(columns.pop("kafka_offset"), pa.int64()),
        **{name: pa.array(values, STRING) for name, values in columns.items()},
    })
    lap("Arrow")
    published = [ENCODER.encode(c) for _, c in commands]
    lap("clean-topic JSON")
    return table, published


def _forget_texts() -> None:
    """Empty the caches of cleaned and annotated texts: each path then meets the set's
    texts as new, as a worker does (run right after the other path on the same set, the
    second found every text cached)."""
    _clean_texts.cache_clear()
    _cached_command_update.cache_clear()
    _value_pattern.cache_clear()


def disagreements(seed: int) -> Counter[str]:
    """Payloads the prototype's decoder and the contract's judge differently, by reason."""
    payloads = [raw for raw, *_ in hostile_payloads(seed, 4000, start=START)]
    changes = [("source", " s1 "), ("session_id", "   "), ("event_id", "0" * 32),
               ("event_time", "2026-01-01T00:00:00.1234567Z"), ("event_time", "2026-01-01T00:00"),
               ("execution_time", 1), ("success", 1), ("schema_version", 2.0),
               ("context", {"a": {"b": 1}}), ("context", {"a": 10**30})]
    commands = [e for e in Simulator(seed, start=START).events(100) if e.kind == "command"]
    for (name, value), event in zip(changes, commands, strict=False):
        changed = {**json.loads(event.model_dump_json()), name: value}
        payloads.append(json.dumps(changed).encode())  # json: integers beyond 64 bits too
    out: Counter[str] = Counter()
    for raw in payloads:
        fast = decode_command(raw)
        try:
            event = decode_event(raw)
        except InvalidEvent as exc:
            out["contract refuses"] += 1
            if fast is not None:
                out[f"prototype accepts, contract refuses: {exc.reason[:60]}"] += 1
            continue
        if not isinstance(event, CommandEvent):
            continue
        out["contract accepts a command"] += 1
        if fast is None:
            continue
        out["prototype accepts it too"] += 1
        given = None if fast.event_id is UNSET else UUID(fast.event_id)
        for name in ("raw_input", "normalized_input", "source", "session_id", "event_time",
                     "command_type", "success", "execution_time", "context", "parameters",
                     "intent_labels", "complexity_score"):
            if getattr(fast, name) not in (getattr(event, name), UNSET):
                out[f"accepted by both, {name} differs"] += 1
        if given is not None and given != event.event_id:
            out["accepted by both, event_id differs"] += 1
    return out


def differences(batch: list[RawRecord], processor: BatchProcessor, redactor: Redactor,
                layouts: dict[str, TableLayout]) -> Counter[str]:
    """Rows and clean-topic records where the prototype's output differs from today's,
    by column (one batch; the records the prototype leaves to the contract are counted apart)."""
    result = processor.process(batch, now=0.0, augment=False)
    stored = _arrow_tables([result], layouts)[0]["commands"]
    table, published = columnar(batch, redactor, RecentIds(horizon_s=600, max_ids=100_000),
                                Counter())
    out: Counter[str] = Counter()
    at = {offset: i for i, offset in enumerate(stored["kafka_offset"].to_pylist())}
    rows = [at[offset] for offset in table["kafka_offset"].to_pylist()]
    out["left to the contract"] = stored.num_rows - len(rows)
    stored = stored.take(rows)
    for name in table.column_names:
        for ours, theirs in zip(table[name].to_pylist(), stored[name].to_pylist(), strict=True):
            if name in ("parameters", "context", "parameter_boundaries", "entity_tags"):
                ours, theirs = json.loads(ours), json.loads(theirs)
            if ours != theirs and not (name == "event_id" and UUID(bytes=ours) == theirs):
                out[f"column {name}"] += 1
    events = {position[2]: event for event, position in result.events}
    for ours, offset in zip(published, table["kafka_offset"].to_pylist(), strict=True):
        if orjson.loads(ours) != orjson.loads(event_json(events[offset])):
            out["clean-topic record"] += 1
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    redactor = Redactor(settings.pipeline.redaction_patterns)
    size = settings.pipeline.batch_max_events
    sets = [[r for r in records(2 * args.commands, hostile_share=0.0, secret_share=0.02,
                                seed=seed) if r.topic == "raw.commands"][:args.commands]
            for seed in (3, 7, 11, 13)]
    with tempfile.TemporaryDirectory() as path:
        store = ClickHouseStore(f"chdb://{path}")
        migrate(store)
        layouts = {table: TableLayout.read(store, table) for table in ("commands",
                                                                      "dead_letters")}
        store.close()

    def today(batch: list[RawRecord], processor: BatchProcessor) -> None:
        results = [processor.process(batch, now=0.0, augment=False)]
        _arrow_tables(results, layouts)
        for event, _ in results[0].events:
            event_json(event)

    parts: Counter[str] = Counter()

    def run_today(batch_set: list[RawRecord]) -> None:
        for i in range(0, len(batch_set), size):
            today(batch_set[i:i + size], processor)

    def run_columnar(batch_set: list[RawRecord]) -> None:
        for i in range(0, len(batch_set), size):
            columnar(batch_set[i:i + size], redactor, recent, parts)

    paths: dict[str, Callable[[list[RawRecord]], None]] = {
        "today": run_today, "columnar prototype": run_columnar}
    processor = BatchProcessor(settings)
    recent = RecentIds(horizon_s=600, max_ids=1_000_000)
    tune_worker_gc()
    best = dict.fromkeys(paths, float("inf"))
    for _ in range(args.rounds):
        for batch_set in sets:
            for name, run in paths.items():
                processor.recent = recent = RecentIds(horizon_s=600, max_ids=1_000_000)
                _forget_texts()
                started = time.process_time()
                run(batch_set)
                best[name] = min(best[name], time.process_time() - started)
    runs = args.rounds * len(sets) * args.commands
    console = Console()
    table = Table(title=f"commands, µs each (best of {args.rounds * len(sets)} sets of "
                        f"{args.commands:,}; parts: mean)")
    table.add_column("path")
    table.add_column("µs", justify="right")
    for name, seconds in best.items():
        table.add_row(name, f"{seconds / args.commands * 1e6:.1f}")
    for part, seconds in parts.items():
        table.add_row(f"  prototype: {part}", f"{seconds / runs * 1e6:.1f}")
    console.print(table)
    decoders = Table(title="decoding alone, µs per command")
    decoders.add_column("decoder")
    decoders.add_column("µs", justify="right")
    for name, us in decoding(sets, args.rounds).items():
        decoders.add_row(name, f"{us:.1f}")
    console.print(decoders)
    differ = differences(sets[0][:size], BatchProcessor(settings), redactor, layouts)
    left = differ.pop("left to the contract")
    console.print(f"one batch of {size:,} commands against today's output: {left} left to the "
                  "contract; of the rest, " + (", ".join(f"{n} differ in {what}" for what, n
                                                        in differ.items())
                                               or "every row and clean-topic record the same"))
    gaps = disagreements(seed=5)
    counts = {key: gaps.pop(key, 0) for key in (
        "contract refuses", "contract accepts a command", "prototype accepts it too")}
    console.print(f"hostile and changed payloads: the contract refuses "
                  f"{counts['contract refuses']}, accepts {counts['contract accepts a command']} "
                  f"commands, of which the prototype decodes {counts['prototype accepts it too']} "
                  f"itself; the decoders disagree on {sum(gaps.values())}"
                  + "".join(f"\n  {n} {reason}" for reason, n in gaps.most_common()))

if __name__ == "__main__":
    main()
