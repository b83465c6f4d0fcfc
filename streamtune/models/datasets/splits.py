"""Deterministic, leakage-free train/validation/test splits over groups of rows.

A split unit (a template, a session) is a group: all its rows go to one split.
Groups are ordered by ``sha256(seed, key)`` — no random state — and laid end
to end; a group goes to the split whose share of the row count holds the
group's midpoint, so the splits come as close to the ratios as group sizes
allow. The same groups with the same sizes always give the same assignment.

Examples
--------
>>> sizes = {f"t{i}": 1 for i in range(100)}
>>> assigned = assign_groups(sizes, seed=0, ratios=(0.7, 0.15, 0.15))
>>> [sum(1 for s in assigned.values() if s == name) for name in SPLITS]
[70, 15, 15]
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

SPLITS = ("train", "validation", "test")


def group_order(key: str, seed: int, salt: str = "") -> bytes:
    """The sort key of a group: a hash of the seed, a salt naming the unit, and the key."""
    return hashlib.sha256(f"{seed}\x00{salt}\x00{key}".encode()).digest()


def assign_groups(
    sizes: Mapping[str, int], *, seed: int, ratios: tuple[float, float, float], salt: str = ""
) -> dict[str, str]:
    """Split name for each group key, given each group's row count.

    ``salt`` separates independent splits over the same keys (``"session"``).
    """
    total = sum(sizes.values())
    train_end = ratios[0] * total
    validation_end = (ratios[0] + ratios[1]) * total
    assigned: dict[str, str] = {}
    filled = 0
    for key in sorted(sizes, key=lambda k: group_order(k, seed, salt)):
        middle = filled + sizes[key] / 2
        filled += sizes[key]
        if middle < train_end:
            assigned[key] = "train"
        elif middle < validation_end:
            assigned[key] = "validation"
        else:
            assigned[key] = "test"
    return assigned
