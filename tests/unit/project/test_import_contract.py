"""The import contract: streamtune's packages import in one direction only.

Every module under ``streamtune/`` belongs to a unit (its top-level package or
module) and every unit to a layer (``docs/architecture.md``, "Import
direction"). A module may import its own unit and units of lower layers;
units of one layer are independent of each other. Every ``import`` counts,
also one inside a function or under ``TYPE_CHECKING``. ``make lint`` runs this.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

import pytest

from tests.support.paths import REPO

PACKAGE = "streamtune"
ROOT = REPO / PACKAGE

LAYERS: tuple[tuple[str, ...], ...] = (
    ("native",),  # what the package's __init__ sets up first: the compiled hot path
    ("streamtune", "errors", "json_bytes", "native_build"),  # "streamtune": its own __init__
    ("config", "processes", "prometheus"),
    ("consumers",),
    ("schemas",),
    ("simulator", "transforms"),
    ("sinks",),
    ("models", "reports"),
    ("streams", "streams.kafka"),  # "streams": its own __init__
    ("streams.live", "streams.augment", "streams.second_opinion"),
    ("streams.worker", "streams.detect"),
    ("demo",),
    ("cli",),
    ("__main__",),
)
"""Lowest first; a unit may import units of lower layers, and itself."""

RANK = {unit: rank for rank, layer in enumerate(LAYERS) for unit in layer}

KNOWN: frozenset[tuple[str, str]] = frozenset()
"""Wrong arrows the tree still has: (importer, imported). It only shrinks."""


@dataclass(frozen=True)
class Violation:
    """One import against the layering."""

    module: str
    line: int
    imported: str
    reason: str

    def __str__(self) -> str:
        return f"{self.module}:{self.line} imports {self.imported}: {self.reason}"


def unit_of(module: str) -> str:
    """The unit of a dotted module name under the package (``streamtune`` for the root).

    ``streams`` is split by role: each of its sub-packages is a unit of its own.
    """
    parts = module.split(".")
    if len(parts) > 3 and parts[1] == "streams" or len(parts) == 3 and parts[1] == "streams" \
            and f"streams.{parts[2]}" in RANK:
        return f"streams.{parts[2]}"
    return parts[1] if len(parts) > 1 else parts[0]


def imported_modules(module: str, source: str, *, is_package: bool = False
                     ) -> list[tuple[int, str]]:
    """``(line, module)`` for every import of a ``streamtune`` module in ``source``."""
    here = module.split(".") if is_package else module.split(".")[:-1]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[:len(here) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            if target == PACKAGE:  # from streamtune import models: each name may be a unit
                found += [(node.lineno, f"{PACKAGE}.{alias.name}" if alias.name in RANK
                           else PACKAGE) for alias in node.names]
            else:
                found.append((node.lineno, target))
    return [(line, name) for line, name in found
            if name == PACKAGE or name.startswith(PACKAGE + ".")]


def check(module: str, source: str, *, is_package: bool = False) -> list[Violation]:
    """Every import in ``source`` (the text of ``module``) against :data:`LAYERS`."""
    unit = unit_of(module)
    if unit not in RANK:
        return [Violation(module, 1, "-", f"unit {unit!r} has no layer: add it to LAYERS "
                          "and to docs/architecture.md")]
    below = [u for layer in LAYERS[:RANK[unit]] for u in layer]
    found = []
    for line, imported in imported_modules(module, source, is_package=is_package):
        target = unit_of(imported)
        if target == unit:
            continue
        if target not in RANK:
            reason = f"unit {target!r} has no layer"
        elif RANK[target] > RANK[unit]:
            reason = f"{unit} -> {target} points up"
        elif RANK[target] == RANK[unit]:
            reason = f"{unit} -> {target}: units of one layer are independent"
        else:
            continue
        allowed = ", ".join(below) or "nothing"
        found.append(Violation(module, line, imported,
                               f"{reason} ({unit} may import only {allowed})"))
    return found


def tree_violations() -> list[Violation]:
    """:func:`check` over every module of the package."""
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        module = ".".join(parts[:-1] if is_package else parts)
        found += check(module, path.read_text(encoding="utf-8"), is_package=is_package)
    return found


def test_the_package_imports_in_one_direction() -> None:
    wrong = [v for v in tree_violations() if (v.module, v.imported) not in KNOWN]
    assert not wrong, "imports against the layering (docs/architecture.md):\n" + "\n".join(
        map(str, wrong))


def test_known_exceptions_are_still_needed() -> None:
    left = {(v.module, v.imported) for v in tree_violations()}
    stale = sorted(KNOWN - left)
    assert not stale, f"fixed, remove from KNOWN: {stale}"


@pytest.mark.parametrize(("module", "source", "is_package", "wanted"), [
    ("streamtune.sinks.outbox", "from streamtune.models.registry import outbox\n", False,
     "streamtune.sinks.outbox:1 imports streamtune.models.registry: sinks -> models points up"),
    ("streamtune.models.control", "import json\n\ndef f():\n    import streamtune.streams.kafka\n",
     False, "control:4 imports streamtune.streams.kafka: models -> streams.kafka"),
    ("streamtune.models.x", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
     "    from streamtune.reports import render\n", False,
     "imports streamtune.reports: models -> reports: units of one layer are independent"),
    ("streamtune.sinks.webhooks.dispatcher", "from ...streams.kafka import admin\n",
     False, "imports streamtune.streams.kafka: sinks -> streams.kafka points up"),
    ("streamtune.streams.live.stage", "from streamtune.streams.worker.ingest import x\n",
     False, "streams.live -> streams.worker points up"),
    ("streamtune.streams.kafka.admin", "from streamtune.streams.live import serving\n",
     False, "streams.kafka -> streams.live points up"),
    ("streamtune.schemas", "from .. import cli\n", True,
     "streamtune.schemas:1 imports streamtune.cli: schemas -> cli points up"),
    ("streamtune.gadgets.x", "import os\n", False, "unit 'gadgets' has no layer"),
])
def test_a_wrong_arrow_fails(module: str, source: str, is_package: bool, wanted: str) -> None:
    found = check(module, source, is_package=is_package)
    assert len(found) == 1
    assert wanted in str(found[0])


def test_arrows_down_and_within_a_unit_pass() -> None:
    source = ("from streamtune.config import Settings\n"
              "from streamtune.sinks.rows import alert_row\n"
              "from . import registry\nfrom .registry.disk import locked\nimport streamtune\n"
              "from streamtune import __version__, schemas\nimport json\n")
    assert check("streamtune.models.loop", source, is_package=True) == []
    assert check("streamtune.cli.app", "from streamtune.demo import run\n") == []
