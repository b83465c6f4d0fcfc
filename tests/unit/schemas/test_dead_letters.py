"""Dead letters of any record: bounded, described whole, redacted as a reader sees them,
and a minimal one when the full one cannot be built."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections import Counter

import pytest

from streamtune.config import Settings
from streamtune.schemas.dead_letter import MAX_KEPT_BYTES, DeadLetter
from streamtune.schemas.events import CommandEvent
from streamtune.simulator import Simulator
from streamtune.streams.worker.batch import BatchProcessor, RawRecord
from streamtune.transforms.redaction import Redactor, reader_view

AWS = "AKIAQX7RTZ3LMNB4YW2P"


def escaped(text: str) -> str:
    return "".join(f"\\u{ord(c):04x}" for c in text)


def full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


@pytest.mark.parametrize("size", [0, 10, MAX_KEPT_BYTES, MAX_KEPT_BYTES + 1, 1_048_576])
def test_a_record_of_any_size_becomes_a_bounded_dead_letter(size: int) -> None:
    raw = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    letter = DeadLetter.wrap(raw, reason="event: too big", category="size",
                             topic="raw.commands", partition=1, offset=9)
    kept = letter.raw_bytes()
    assert (letter.raw_length, letter.raw_sha256) == (size, hashlib.sha256(raw).hexdigest())
    assert kept == raw[:MAX_KEPT_BYTES]
    assert letter.truncated == (size > MAX_KEPT_BYTES)
    assert len(letter.model_dump_json()) < 2 * MAX_KEPT_BYTES  # fits any Kafka topic


def test_the_kept_prefix_is_cut_after_redaction_so_no_secret_is_cut_short() -> None:
    for at in range(MAX_KEPT_BYTES - len(AWS), MAX_KEPT_BYTES + 1, 3):
        raw = b"a" * at + f" {AWS} ".encode() + b"b" * 1000
        letter = DeadLetter.wrap(raw, reason="r", category="size", topic="raw.commands",
                                 redact=lambda data: Redactor().redact_record(data)[0])
        assert b"AKIA" not in letter.raw_bytes(), at


@pytest.mark.parametrize("raw", [
    json.dumps({"kind": "command", "raw_input": f"use {AWS}"}).replace(AWS, escaped(AWS)),
    json.dumps({"kind": "x", "note": full_width(f"password=Fw1dePass{AWS}")}),
    json.dumps({"kind": "x", "note": full_width("password=Fw1dePassNine")}, ensure_ascii=False),
    f'{{"kind": "x", "{escaped("password")}": "Fw1dePassNine"}}',
    f'{{"kind": "x", "a": "\\\\", "b": "{escaped(AWS)}"}}',
])
def test_redaction_sees_json_escapes_and_full_width_forms(raw: str) -> None:
    redacted, counts = Redactor().redact_record(raw.encode())
    shown = reader_view(redacted.decode())
    assert sum(counts.values()) >= 1
    assert "AKIA" not in shown and "Fw1dePass" not in shown and "[REDACTED:" in shown


def test_an_escaped_backslash_is_not_read_as_an_escape() -> None:
    assert reader_view('"\\\\u0041"') == '"\\u0041"'
    assert reader_view('"\\ud83d\\ude00 \\ud800"') == '"\U0001F600 \ufffd"'


def test_a_secret_in_a_key_of_a_valid_event_is_redacted() -> None:
    value, counts = Redactor().redact_value({"password=KeyHeldPw77": 1, "ok": "x"})
    assert "KeyHeldPw77" not in json.dumps(value) and counts["password"] >= 1
    assert value["ok"] == "x"


def _processor() -> BatchProcessor:
    return BatchProcessor(Settings())


def _record(value: bytes, offset: int) -> RawRecord:
    return RawRecord("raw.commands", 0, offset, value)


def test_reasons_never_echo_a_secret() -> None:
    event = json.loads(next(e for e in Simulator(3).events(50)
                            if isinstance(e, CommandEvent)).model_dump_json())
    hostile = [{**event, "kind": AWS}, {**event, "schema_version": AWS}, {**event, AWS: 1},
               {**event, f"password={AWS}": 1}, {**event, "kind": full_width(AWS)}]
    result = _processor().process(
        [_record(json.dumps(h).encode(), i) for i, h in enumerate(hostile)], augment=False)
    assert len(result.dead_letters) == len(hostile)
    for letter in result.dead_letters:
        assert letter.reason and "AKIA" not in reader_view(letter.reason), letter.reason
        assert "AKIA" not in reader_view(letter.raw_bytes().decode())


def test_an_id_reused_for_other_content_is_a_conflict_and_a_replay_is_dropped() -> None:
    command = next(e for e in Simulator(4).events(50) if isinstance(e, CommandEvent))
    first = command.model_dump_json().encode()
    other = command.model_copy(update={"raw_input": "something else"}).model_dump_json().encode()
    result = _processor().process([_record(first, 0), _record(first, 1), _record(other, 2)],
                                  augment=False)
    assert [position[2] for _, position in result.events] == [0]
    assert result.duplicates == 1
    (letter,) = result.dead_letters
    assert (letter.category, letter.offset) == ("conflict", 2)
    assert "event_id" in letter.reason and "reused" in letter.reason


class _BrokenRedactor(Redactor):
    """A redactor with a bug: it fails on every record (the one thing no real part does)."""

    def redact_record(self, raw: bytes) -> tuple[bytes, Counter[str]]:
        raise RuntimeError(f"cannot redact {raw[:10]!r}")


def test_a_dead_letter_that_cannot_be_built_becomes_a_minimal_one() -> None:
    processor = _processor()
    processor.redactor = _BrokenRedactor()
    good = next(e for e in Simulator(5).events(50) if isinstance(e, CommandEvent))
    records = [_record(b"{broken", 0),
               _record(good.model_copy(update={"event_id": uuid.uuid4()}).model_dump_json(
                   ).encode(), 1)]
    result = processor.process(records, augment=False)
    (letter,) = result.dead_letters
    assert (letter.offset, letter.category, letter.raw_b64) == (0, "processing", "")
    assert "could not be built" in letter.reason and "RuntimeError" in letter.reason
    assert "broken" not in letter.reason  # the exception's text may hold record bytes
    assert [position[2] for _, position in result.events] == [1]
