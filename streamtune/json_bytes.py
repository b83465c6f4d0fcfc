"""orjson's ``dumps``, returning bytes of their own size.

orjson writes into a buffer of at least 4 KB and hands that buffer back: a
20-byte result holds 4 KB until it is freed (a 5 KB one, 64 KB). A batch that
keeps thousands of them (the secret screen's JSON, the clean topics' records)
would hold that many 4 KB blocks; :func:`dumps` copies each result out.

>>> len(dumps({"a": 1}))
7
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson


def dumps(value: Any, *, default: Callable[[Any], Any] | None = None,
          option: int | None = None) -> bytes:
    """``orjson.dumps(value, default=default, option=option)``, copied to its own size.

    Raises
    ------
    orjson.JSONEncodeError
        As ``orjson.dumps`` (a ``TypeError``).
    """
    return bytes(memoryview(orjson.dumps(value, default=default, option=option)))
