"""Hostile input through a real worker: bad records of every size up to the broker's
largest, secrets in every hostile form, and 10,000 fuzzed records. The worker stays up,
every bad record is dead-lettered once with a reason, every valid one is stored once,
and no planted secret reaches a table or a topic."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import unicodedata
import uuid
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from hypothesis import HealthCheck, given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from streamtune.config import Settings, client_config
from streamtune.errors import InvalidEvent
from streamtune.schemas.bounds import MAX_EVENT_BYTES
from streamtune.schemas.dead_letter import MAX_KEPT_BYTES
from streamtune.schemas.decode import decode_event
from streamtune.schemas.events import CommandEvent
from streamtune.schemas.topics import SOURCES, raw_topic
from streamtune.simulator import Simulator, hostile_payloads
from streamtune.streams.kafka.admin import connect, create_topics
from tests.support.worker_harness import (
    Worker,
    caught_up,
    read_store,
    wait_for,
    worker_settings,
)

BROKER_MAX_VALUE = 1_048_515
"""The largest value the dev broker accepts with a one-byte key (probed: one byte more is
refused with MSG_SIZE_TOO_LARGE)."""
SIZES = (0, MAX_EVENT_BYTES - 1, MAX_EVENT_BYTES, MAX_EVENT_BYTES + 1, 150_000, 1_000_000,
         BROKER_MAX_VALUE)
FUZZ_EXAMPLES, FUZZ_PER_EXAMPLE = 100, 100

AWS = "AKIAQX7RTZ3LMNB4YW2P"
GITHUB = "ghp_Hq8Lm2Zx0Pw4Ty6Rn1Bv3Cs5Dk7Fj9Gl0Aa"
PASSWORDS = ("Fw1dePassNine", "Esc4pedPwTwo", "KeyHeldPw77", "SplitField9x", "BoundaryPw5k")
SECRETS = (AWS, GITHUB, *PASSWORDS)


def escaped(text: str) -> str:
    """Every character as a JSON ``\\uXXXX`` escape (what a hostile producer may send)."""
    return "".join(f"\\u{ord(c):04x}" for c in text)


def full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def as_read(text: str) -> str:
    """What a person reading ``text`` sees: JSON escapes resolved, NFKC applied."""
    text = re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m[1], 16)), text)
    return unicodedata.normalize("NFKC", text)


def sized(size: int) -> bytes:
    """A record of exactly ``size`` bytes that is not valid JSON, with a token at its start
    and, in records longer than a dead letter keeps, AWS key ids across the cut: where it
    falls in the record, and where it falls once the token is redacted."""
    if size == 0:
        return b""
    body = bytearray(f'{{"kind": "command", "raw_input": "token={GITHUB} '.encode())
    body += b"a" * max(size - len(body), 0)
    if size > 2 * MAX_KEPT_BYTES:
        shrink = len(GITHUB) - len("[REDACTED:token]")
        for at in (MAX_KEPT_BYTES - 8, MAX_KEPT_BYTES - 8 + shrink):
            body[at:at + len(AWS) + 2] = f" {AWS} ".encode()
    return bytes(body[:size])


def command(sim_event: CommandEvent, **update: Any) -> bytes:
    return sim_event.model_copy(update={"event_id": uuid.uuid4(), **update}).model_dump_json(
    ).encode()


def hostile_secrets(commands: list[CommandEvent]) -> list[bytes]:
    """A planted secret in every hostile form, in valid and in refused records."""
    base = json.loads(commands[0].model_dump_json())
    del base["event_id"]
    return [
        # refused records: escaped, full-width, in the reason (kind, version, a key)
        json.dumps({"kind": "command", "raw_input": f"use {AWS}", "bogus": 1}).replace(
            AWS, escaped(AWS)).encode(),
        json.dumps({"kind": "nope", "note": full_width(f"password={PASSWORDS[0]}")}).encode(),
        json.dumps({**base, "kind": AWS}).encode(),
        json.dumps({**base, "schema_version": AWS}).encode(),
        json.dumps({**base, f"password={PASSWORDS[1]}": 1}).encode(),
        json.dumps({**base, AWS: 1}).encode(),
        b"\xff\xfe not utf-8 " + f"password={PASSWORDS[1]}".encode(),
        # valid events: escaped, full-width, in keys, split across a key and its value
        command(commands[1], raw_input=f"deploy with key {AWS}").replace(
            AWS.encode(), escaped(AWS).encode()),
        command(commands[2], raw_input=full_width(f"login password={PASSWORDS[0]}")),
        command(commands[3], parameters={f"password={PASSWORDS[2]}": 1}),
        command(commands[4], context={"user": "ops", "password": PASSWORDS[3]}),
        command(commands[5], parameters={"token": GITHUB}),
    ]


def corpus(command_event: CommandEvent) -> list[tuple[bytes, str]]:
    """Every hostile case the issue lists, with its outcome: ``stored`` or a dead-letter
    category; the simulator's hostile payloads come on top."""
    base = json.loads(command_event.model_dump_json())

    def case(**update: Any) -> bytes:
        return json.dumps({**base, "event_id": str(uuid.uuid4()), **update}).encode()

    deep = b'{"kind": "command", "context": ' + b"[" * 10_000 + b"]" * 10_000 + b"}"
    first_key = case()[:1] + b'"kind": "error", ' + case()[1:]
    nul, rtl = "restart\\u0000pump", "open valve \\u202eevil\\u202c v-1"  # JSON escapes
    return [
        *[(case(success=lax), "validation") for lax in ("yes", "on", "true", 1)],
        (case(execution_time="0.5"), "validation"),
        (case(schema_version=2.0), "version"),
        (case(schema_version="2"), "version"),
        (case(event_time=1_767_225_600), "validation"),
        (b"{}", "unknown_kind"),
        (json.dumps({k: v for k, v in base.items() if k != "kind"}).encode(), "unknown_kind"),
        (b"", "json"),
        (first_key, "json"),
        (deep, "json"),  # the parser refuses it: recursion limit
        (case(execution_time=float("nan")), "validation"),
        (case(execution_time=float("inf")), "validation"),
        (case(event_time="0001-01-01T00:00:00Z"), "validation"),
        (case(event_time="9999-12-31T23:59:59Z"), "validation"),
        (b"\xc3\x28 not utf-8", "json"),
        (case(context={"null": None, "": "empty key"}), "stored"),
        (case(raw_input="'; DROP TABLE commands; --"), "stored"),
        (case(raw_input="x", normalized_input=None).replace(b'"x"', f'"{nul}"'.encode()),
         "stored"),
        (case(raw_input="x").replace(b'"x"', f'"{rtl}"'.encode()), "stored"),
        *hostile_payloads(9, 60),
    ]


@st.composite
def fuzzed(draw: st.DrawFn, templates: list[dict[str, Any]]) -> bytes:
    """A record near a valid event: a field dropped, retyped or added, or plain noise."""
    how = draw(st.sampled_from(["valid", "drop", "retype", "extra", "bytes", "json"]))
    if how == "bytes":
        return draw(st.binary(max_size=300))
    if how == "json":
        value = draw(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                                  lambda inner: st.lists(inner, max_size=4)
                                  | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                                  max_leaves=10))
        return json.dumps(value).encode()
    event = dict(draw(st.sampled_from(templates)))
    if how == "drop":
        event.pop(draw(st.sampled_from(sorted(event))))
    elif how == "retype":
        event[draw(st.sampled_from(sorted(event)))] = draw(
            st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30)
            | st.lists(st.integers(), max_size=3))
    elif how == "extra":
        event[draw(st.text(min_size=1, max_size=12))] = draw(st.integers())
    event["event_id"] = str(uuid.uuid4())  # unique: no record is another's replay
    return json.dumps(event, allow_nan=True).encode()


def fuzz_records(templates: list[dict[str, Any]]) -> list[bytes]:
    records: list[bytes] = []

    @hyp_settings(max_examples=FUZZ_EXAMPLES, database=None, deadline=None,
                  suppress_health_check=list(HealthCheck))
    @given(st.lists(fuzzed(templates), min_size=FUZZ_PER_EXAMPLE, max_size=FUZZ_PER_EXAMPLE))
    def collect(batch: list[bytes]) -> None:
        records.extend(batch)

    collect()
    return records


def is_valid(raw: bytes) -> bool:
    try:
        decode_event(raw)
    except InvalidEvent:
        return False
    return True


def read_topics(settings: Settings, skip: set[str]) -> dict[str, list[bytes]]:
    """Every record of every topic of this test's prefix but ``skip``, from the start."""
    names = [name for name in connect(settings).list_topics(timeout=10).topics
             if name.startswith(settings.topics.prefix)]
    consumer = Consumer({**client_config(settings), "group.id": f"reader-{uuid.uuid4()}",
                         "enable.auto.commit": False})
    out: dict[str, list[bytes]] = {}
    try:
        for name in names:
            if name in skip:
                continue
            meta = consumer.list_topics(name, timeout=10).topics[name]
            out[name] = []
            for partition in meta.partitions:
                tp = TopicPartition(name, partition, 0)
                _, high = consumer.get_watermark_offsets(tp, timeout=10)
                if high <= 0:
                    continue
                consumer.assign([tp])
                while True:
                    message = consumer.poll(5)
                    assert message is not None, f"{name}/{partition} not read to {high}"
                    if message.error() is None:
                        out[name].append(message.value() or b"")
                        if message.offset() >= high - 1:
                            break
    finally:
        consumer.close()
    return out


@pytest.mark.timeout(420)
def test_no_record_stops_the_worker_and_no_secret_is_kept(settings: Settings,
                                                          tmp_path: Path) -> None:
    create_topics(settings)
    topic = raw_topic("command", settings.topics.prefix)
    commands = [e for e in Simulator(7).events(400) if isinstance(e, CommandEvent)]
    templates = [json.loads(e.model_dump_json()) for e in commands[:30]]

    records: list[bytes] = []
    for size in SIZES:  # each bad record is followed by a valid event on the same partition
        records += [sized(size), command(commands[10 + len(records)])]
    records += hostile_secrets(commands[40:])
    cases = corpus(commands[50])
    first_case = len(records)
    records += [raw for raw, _ in cases]
    records += fuzz_records(templates)
    assert len(records) >= 10_000 + 2 * len(SIZES)

    producer = Producer({**client_config(settings), "message.max.bytes": 2_000_000,
                         "linger.ms": 20})
    failures: list[Any] = []
    for raw in records:
        producer.produce(topic, raw, key=b"k", partition=0,
                         on_delivery=lambda err, _msg: failures.append(err) if err else None)
        producer.poll(0)
    assert producer.flush(60) == 0 and failures == []

    wsettings = worker_settings(settings, tmp_path)
    worker = Worker(wsettings, log=tmp_path / "worker.log").start()
    try:
        wait_for(lambda: caught_up(wsettings), timeout=300, what="every record committed",
                 worker=worker)
        assert worker.alive(), worker.tail()
        topics = read_topics(settings, skip={raw_topic(kind, settings.topics.prefix)
                                             for kind in SOURCES})
        assert worker.terminate() == 0
    finally:
        worker.ensure_stopped()

    tables = [name for (name,) in read_store(wsettings, {
        "t": "SELECT name FROM system.tables WHERE database = 'streamtune' "
             "AND NOT startsWith(name, '.') "  # a view's inner table: read through its view
             "AND engine NOT IN ('MaterializedView')"})["t"]]
    store = read_store(wsettings, {
        **{f"dump_{t}": f"SELECT * FROM streamtune.{t}" for t in tables},
        "dead": "SELECT offset, category, reason, raw_b64, raw_length, raw_sha256, truncated "
                "FROM streamtune.dead_letters FINAL WHERE partition = 0 ORDER BY offset",
        "stored": "SELECT kafka_offset, count() FROM streamtune.commands "
                  "WHERE kafka_partition = 0 GROUP BY kafka_offset",
        "texts": "SELECT kafka_offset, normalized_input, intent_labels FROM "
                 "streamtune.commands WHERE kafka_partition = 0",
    })

    # every record is either stored once or dead-lettered once, as the contract says
    dead = {row[0]: row for row in store["dead"]}
    stored = {offset: n for offset, n in store["stored"]}
    assert all(n == 1 for n in stored.values())
    for offset, raw in enumerate(records):
        if is_valid(raw):
            assert offset in stored and offset not in dead, offset
        else:
            assert offset in dead and offset not in stored, offset
            assert dead[offset][2], f"dead letter {offset} has no reason"

    # the hostile corpus: each case as the contract says, and as the issue asks
    texts = {row[0]: row[1:] for row in store["texts"]}
    for i, (_, expected) in enumerate(cases):
        offset = first_case + i
        if expected in ("stored", "valid"):
            assert offset in stored, (offset, dead.get(offset))
        else:
            assert dead[offset][1] == expected, (records[offset][:80], dead[offset][2])
    nul_at, rtl_at = first_case + len(cases) - 62, first_case + len(cases) - 61
    assert texts[nul_at][0].startswith("restart pump")
    assert "hidden_characters" in texts[rtl_at][1]

    # bad records of every size: bounded, described whole, secrets out of the kept prefix
    for i, size in enumerate(SIZES):
        offset = 2 * i
        _, category, reason, raw_b64, length, sha, truncated = dead[offset]
        kept = base64.b64decode(raw_b64)
        assert (length, sha) == (size, hashlib.sha256(records[offset]).hexdigest())
        assert category == ("size" if size > MAX_EVENT_BYTES else "json"), (size, reason)
        assert len(kept) <= MAX_KEPT_BYTES and "AKIA" not in as_read(kept.decode())
        if size <= MAX_KEPT_BYTES or not truncated:  # kept whole: it ends as the record does
            assert kept.endswith(records[offset][-100:]) and not truncated
        assert truncated == (size > 2 * MAX_KEPT_BYTES) or size == MAX_KEPT_BYTES + 1
        assert offset + 1 in stored  # the valid event behind it landed

    # no planted secret anywhere, as a reader would see it
    seen = [json.dumps(rows, default=str) for rows in store.values()]
    seen += [base64.b64decode(row[3]).decode("utf-8", "replace") for row in store["dead"]]
    for name, values in topics.items():
        seen += [value.decode("utf-8", "replace") for value in values]
        seen += [base64.b64decode(json.loads(v)["raw_b64"]).decode("utf-8", "replace")
                 for v in values if name.endswith(".dlq")]
    leaks = [(secret, part[max(0, part.find(bit) - 200):part.find(bit) + 60])
             for part in map(as_read, seen) for secret in SECRETS
             for bit in (secret[:8], secret[-8:]) if bit in part]  # a cut part counts too
    assert leaks == []
    assert any("[REDACTED:" in part for part in seen)
