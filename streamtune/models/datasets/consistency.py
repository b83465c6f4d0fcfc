"""Whether two snapshots split the rows they share the same way.

A model warm-started from one trained on snapshot ``a`` has seen ``a``'s
training rows; if snapshot ``b`` puts any of them (or their template, or, for
the session model, their session) in validation or test, its scores on ``b``
flatter it. :func:`same_split` says whether that cannot happen: every row
(``event_id``), template and session the two share has the same split in both.
Snapshots with nothing in common split the same way; an imported file split
two different ways does not.
"""

from __future__ import annotations

from collections.abc import Mapping

import pyarrow as pa

from streamtune.config import Settings
from streamtune.errors import DatasetError
from streamtune.models.datasets.snapshot import Snapshot, open_snapshot
from streamtune.models.datasets.splits import SPLITS

_UNITS = (("event_id", "split"), ("template", "split"), ("event_id", "session_split"),
          ("session_id", "session_split"))
"""(unit, split column) pairs compared; a pair whose column a dataset lacks is skipped."""

Assignment = dict[tuple[str, str], dict[str, frozenset[str]]]


def _assignment(snapshot: Snapshot) -> Assignment:
    """Per (unit, split column): each unit's set of splits (null splits left out)."""
    table = pa.concat_tables([snapshot.table(split) for split in SPLITS])
    out: Assignment = {}
    for unit, column in _UNITS:
        if column not in table.column_names:
            continue
        groups: dict[str, set[str]] = {}
        for key, split in zip(table.column(unit).to_pylist(), table.column(column).to_pylist(),
                              strict=True):
            if split is not None:
                groups.setdefault(key, set()).add(split)
        out[unit, column] = {key: frozenset(splits) for key, splits in groups.items()}
    return out


def same_split(a: Snapshot, b: Snapshot) -> bool:
    """True when every row, template and session ``a`` and ``b`` share has the same split(s)."""
    if a.name != b.name:
        return False
    if a.id == b.id:
        return True
    left, right = _assignment(a), _assignment(b)
    for key, groups in left.items():
        other = right.get(key, {})
        if any(other.get(unit, splits) != splits for unit, splits in groups.items()):
            return False
    return True


def trained_split_matches(settings: Settings, trained_on: Mapping[str, str],
                          snapshot_id: str | None) -> bool:
    """Whether snapshot ``snapshot_id`` (None: the latest) splits as ``trained_on`` did.

    ``trained_on`` is a registered version's ``dataset`` (``name``, ``id``); a
    snapshot that no longer exists counts as split differently.
    """
    try:
        before = open_snapshot(settings, trained_on["name"], trained_on["id"])
    except (DatasetError, KeyError):
        return False
    return same_split(before, open_snapshot(settings, before.name, snapshot_id))
