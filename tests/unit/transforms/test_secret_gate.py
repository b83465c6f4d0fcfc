"""The secret gate (``Redactor.screen``) never passes a value the full redactor would change.

A value the gate passes is left as it is by the hot path, so the property is:
whenever ``screen`` says "no secret", ``redact_value`` returns the value itself
and counts nothing. Checked on generated texts and JSON values built from
planted secrets of every kind, secret-naming keys spelled every way, ordinary
text and random characters, and on simulated and hostile events through
``clean_event`` with and without the screen.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streamtune.errors import InvalidEvent
from streamtune.schemas.bounds import MAX_OBJECT_KEY_CHARS
from streamtune.schemas.decode import decode_event
from streamtune.schemas.events import CommandEvent, ErrorEvent, Event, with_fields
from streamtune.simulator import Simulator, hostile_payloads
from streamtune.transforms import redaction
from streamtune.transforms.cleaning import FREE_TEXT_FIELDS, clean_event, screen_events
from streamtune.transforms.redaction import _KEY_SUFFIXES, Redactor
from tests.support.secret_texts import BENIGN, PEM, SECRETS

REDACTOR = Redactor()
START = datetime(2026, 1, 1, tzinfo=UTC)
FRAGMENTS = [
    "pass", "word", "wd", "phrase", "pwd", "token", "key", "_id", "-id", "secret", "cred",
    "ential", "dsn", "conn", "str", "ing", "auth", "orization", "bearer ", "cookie", "=", ":",
    "=>", " : ", "'", '"', "@", "://", "u:", "-p ", "-p=", "--pass", "--pwd ", " is ", " was ",
    "with ", "ghp_", "github_pat_", "xoxb-", "eyJ", "AKIA", "ASIA", "AIza", "sk-", "sk_", "rk_",
    "live_", "-----BEGIN ", "PRIVATE KEY-----", "\\", "\x7f", "\t", "\u200b", "\uff50", "é",
    "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6", "0123456789ABCDEF", ".", " ",
]
"""Pieces of secrets and of the gate's own words, for texts near its edges."""

_ASCII = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=10)
_PIECE = st.one_of(st.sampled_from(FRAGMENTS), st.sampled_from([t for t, _, _ in SECRETS]),
                   st.sampled_from(BENIGN), _ASCII, st.text(max_size=4))
_CASE = st.sampled_from([str, str.upper, str.lower, str.swapcase, str.title])
TEXTS = st.builds(lambda parts, case: case("".join(parts)), st.lists(_PIECE, max_size=6), _CASE)


@st.composite
def _secret_key(draw: st.DrawFn) -> str:
    """A key naming a secret, its words split by any separators, in any case."""
    name = draw(st.sampled_from(sorted(_KEY_SUFFIXES)))
    out = []
    for char in name.replace("_", ""):
        out.append(char.upper() if draw(st.booleans()) else char)
        out.append(draw(st.sampled_from(["", "", "", "_", "-", ".", " ", "/", "!", "'"])))
    return draw(st.sampled_from(["", "db_", "x-", "my", "AWS."])) + "".join(out)


KEYS = st.one_of(_secret_key(), TEXTS, st.sampled_from(["user", "host", "max_tokens", "monkey"]),
                 st.builds(str.__mul__, st.sampled_from("a _"), st.integers(60, 70)))
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), TEXTS,
                    st.sampled_from(["", "[REDACTED:password]", PEM]))
JSON = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=5)), max_leaves=12)


@pytest.fixture(autouse=True, scope="module")
def _rules_alone() -> Iterator[None]:
    """The reference is the redactor without the gate: long texts too go through the rules."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(redaction, "_GATE_ALONE_CHARS", 10**9)
        yield


def assert_gate_sound(value: Any, redactor: Redactor = REDACTOR) -> bool:
    """Check the property for one value; return whether the gate flagged it."""
    flagged, = redactor.screen([value])
    if not flagged:
        out, counts = redactor.redact_value(value)
        assert out is value and not counts, value
    return flagged


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(TEXTS)
def test_gate_passes_no_text_the_redactor_changes(text: str) -> None:
    assert_gate_sound(text)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(JSON)
def test_gate_passes_no_json_value_the_redactor_changes(value: Any) -> None:
    assert_gate_sound(value)


@settings(max_examples=500, deadline=None)
@given(key=_secret_key(), value=st.one_of(_ASCII.filter(bool), st.integers()))
def test_gate_flags_keys_spelled_apart(key: str, value: Any) -> None:
    assert_gate_sound({key: value})
    assert_gate_sound({"outer": [{key: value}]})


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(TEXTS, JSON, st.sampled_from(["\x00", "pass\x00word=1", "://u"])),
                max_size=8))
def test_a_batch_is_flagged_as_its_values_one_by_one(values: list[Any]) -> None:
    """The gate scans a batch joined in one buffer: no match may span two values, and a
    value holding the separator is flagged like any other non-plain text."""
    assert REDACTOR.screen(values) == [REDACTOR.screen([value])[0] for value in values]
    for value in values:
        if isinstance(value, str) and "\x00" in value:
            assert REDACTOR.screen([value]) == [True]


def test_no_match_spans_two_values() -> None:
    """Each half alone is clean; joined they would read as a connection string."""
    assert REDACTOR.screen(["postgres://app", ":s3cr3t@db-01"]) == [False, False]
    assert REDACTOR.screen(["postgres://app:s3cr3t@db-01"]) == [True]


@pytest.mark.parametrize(("text", "secret", "kind"), SECRETS)
def test_gate_flags_every_known_secret(text: str, secret: str, kind: str) -> None:
    assert REDACTOR.screen([text, {"note": text}, [text]]) == [True, True, True]


def test_gate_passes_ordinary_values() -> None:
    values = ["restart pump-3", "set x=10 on arm-1", {"device": "pump-3", "rpm": 1200},
              {"user_id": "user-051", "previous_command": None, "shift": "night"}, [], {}, None, 3]
    assert REDACTOR.screen(values) == [False] * len(values)


def test_keys_the_redactor_cuts_are_flagged() -> None:
    long_key = {"k" * (MAX_OBJECT_KEY_CHARS + 1): {"n": 1}}  # nested: the keys are walked
    assert REDACTOR.redact_value(long_key)[0] is not long_key  # cut to the bound
    assert REDACTOR.screen([long_key, {"k" * MAX_OBJECT_KEY_CHARS: {"n": 1}}]) == [True, False]


def test_extra_patterns_flag_everything() -> None:
    assert Redactor([r"OPS-\d{4}"]).screen(["restart pump-3", {"a": 1}]) == [True, True]


def test_values_orjson_cannot_write_are_flagged() -> None:
    big = {"n": 2**70}
    assert REDACTOR.screen([big, "lone \ud800 surrogate"]) == [True, True]
    assert REDACTOR.redact_value(big)[0] is big


def _planted(event: Event, i: int) -> Event:
    text, _, _ = SECRETS[i % len(SECRETS)]
    if isinstance(event, CommandEvent):
        return with_fields(event, {"context": {**event.context, "note": text,
                                               "auth": {"db_password": "hunter2"}}})
    if isinstance(event, ErrorEvent):
        return with_fields(event, {"error_message": f"{event.error_message} {text}",
                                   "correction": {**event.correction, "apiKey": "k3y"}})
    return event


def _events() -> tuple[list[Event], int]:
    """Simulated events, some with planted secrets, and the valid hostile payloads; and how
    many were planted."""
    events: list[Event] = list(Simulator(11, start=START).events(3000))
    planted = [_planted(e, i) for i, e in enumerate(events[:600])
               if isinstance(e, CommandEvent | ErrorEvent)]
    events += planted
    for raw, _ in hostile_payloads(11, 600, start=START):
        try:
            events.append(decode_event(raw))
        except InvalidEvent:
            continue
    return events, len(planted)


def test_screened_cleaning_equals_full_cleaning() -> None:
    events, planted = _events()
    cleared = screen_events(events, REDACTOR)
    values = [getattr(e, name) for e in events for name, _ in FREE_TEXT_FIELDS.get(e.kind, ())]
    assert len(cleared) > 0.8 * len({id(v) for v in values})  # the gate spares most values
    redacted = 0
    for event in events:
        screened, counts = clean_event(event, redactor=REDACTOR, cleared=cleared)
        full, full_counts = clean_event(event, redactor=REDACTOR)
        assert screened == full and counts == full_counts
        redacted += bool(counts)
    assert redacted >= planted  # every planted event lost its secrets


def test_hostile_payload_texts() -> None:
    for raw, _ in hostile_payloads(12, 400, start=START):
        text = raw.decode("utf-8", errors="replace")
        assert_gate_sound(text)
        assert_gate_sound({"raw": text, "nested": [text]})


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(TEXTS, min_size=1, max_size=4), st.integers(1024, 70_000))
def test_long_texts_screened_alone_are_redacted_as_by_the_rules(parts: list[str],
                                                                size: int) -> None:
    filler = '{"raw_input": "' + "restart pump-3 " * (size // 15) + '"}'
    text = filler.join(parts) if len(parts) > 1 else parts[0] + filler
    reference = REDACTOR.redact(text)  # the rules alone (fixture)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(redaction, "_GATE_ALONE_CHARS", 1024)
        assert REDACTOR.redact(text) == reference
        plain = "restart pump-3: ok " * (size // 19)
        assert REDACTOR.redact(plain)[0] is plain  # unchanged: the same object
