"""The hot path's JSON writers write what the reference writers write.

``event_json`` (the clean topics' records, by orjson) must give the very bytes
of ``model_dump_json``; ``json_text`` (free-form columns) the text of
``json.dumps(..., ensure_ascii=False, separators=(",", ":"))``, floats aside,
which may be spelled differently but must read back as the same number.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from streamtune.errors import InvalidEvent
from streamtune.schemas.decode import decode_event
from streamtune.schemas.events import CommandEvent, EntityTag, with_fields
from streamtune.simulator import Simulator, hostile_payloads
from streamtune.sinks.rows import event_json, json_text
from streamtune.transforms.annotation import annotate

START = datetime(2026, 1, 1, tzinfo=UTC)
_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=12))
JSON = st.recursive(_SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)),
    max_leaves=12)


def _reference(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _has_float(value: Any) -> bool:
    if isinstance(value, float):
        return True
    if isinstance(value, dict):
        return any(map(_has_float, value.values()))
    return isinstance(value, list) and any(map(_has_float, value))


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b or math.isnan(a) and math.isnan(b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(map(_same, a, b))
    return type(a) is type(b) and a == b


@settings(max_examples=1000, deadline=None)
@given(JSON)
def test_json_text_writes_what_json_dumps_writes(value: Any) -> None:
    text, reference = json_text(value), _reference(value)
    if not _has_float(value):
        assert text == reference
    assert _same(json.loads(text), json.loads(reference))


def test_json_text_keeps_nan_beside_null_and_big_integers() -> None:
    for value in ({"a": None, "b": float("nan")}, [None, {"x": float("-inf")}],
                  {"n": 2**70, "m": None}, {"p": None, "q": "null"}):
        assert json_text(value) == _reference(value)
    tags = [EntityTag(label="device", start=0, end=6, text="pump-3")]
    assert json_text(tags) == '[{"label":"device","start":0,"end":6,"text":"pump-3"}]'


def test_event_json_is_model_dump_json() -> None:
    events = [annotate(e) for e in Simulator(4, start=START).events(3000)]
    for raw, _ in hostile_payloads(4, 600, start=START):
        try:
            events.append(decode_event(raw))
        except InvalidEvent:
            continue
    edge = CommandEvent(
        raw_input="a\x00\x7f\u2028é😀", command_type="a", success=True, execution_time=1e-7,
        session_id="s", source="x", event_time=datetime(2026, 1, 1, 1, 2, 3, 456, tzinfo=UTC),
        parameters={"nan": float("nan"), "big": 1e16, "tiny": 5e-324, "s": '"\\/\b\n'},
        context={"x": [1.5, None, True, {"y": 1e300}]})
    events += [edge, with_fields(edge, {"parameters": {"huge": 2**70}})]
    for event in events:
        assert event_json(event) == event.model_dump_json().encode()
