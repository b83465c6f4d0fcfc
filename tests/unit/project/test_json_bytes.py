"""json_bytes.dumps: orjson's bytes, without the buffer orjson leaves behind each result."""

from __future__ import annotations

import tracemalloc
from datetime import UTC, datetime

import orjson
import pytest

from streamtune import json_bytes


@pytest.mark.parametrize("value", [{"a": 1}, [1, "é", None],
                                   {"t": datetime(2026, 1, 1, tzinfo=UTC)}, {"long": "x" * 20_000}])
def test_it_writes_what_orjson_writes(value: object) -> None:
    assert json_bytes.dumps(value, option=orjson.OPT_UTC_Z) == orjson.dumps(
        value, option=orjson.OPT_UTC_Z)


def test_many_small_results_hold_about_their_own_size() -> None:
    tracemalloc.start()
    try:
        kept = [json_bytes.dumps({"i": i}) for i in range(2_000)]
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(kept) == 2_000
    assert held < 2_000 * 200  # orjson's own results hold 4 KB each: 8 MB


def test_it_raises_what_orjson_raises() -> None:
    with pytest.raises(TypeError):
        json_bytes.dumps({"big": 2**70})
