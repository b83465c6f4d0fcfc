"""The hot path compiled by mypyc, used only while it matches its sources.

``make install`` compiles :data:`MODULES` (the ingest worker's per-event Python:
decoding, cleaning, redaction, annotation, de-duplication, windows, rows) into C
extensions under ``build/native/`` with mypyc, which ships with mypy; the code is
the same Python, type-checked by mypy. :func:`enable`, called when the package is
imported, puts a finder in front of the import system that loads those extensions
in place of the modules, but only when the build's record of their sources still
matches the files (same Python, same bytes): an edited module, a new checkout, or
no build at all, and every module is imported as plain Python. Set
``STREAMTUNE_NATIVE=0`` to import plain Python anyway.

A compiled module keeps its source file as ``__file__`` (tracebacks and doctests
refer to the source). ``benchmarks/native.py`` measures what it buys.
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.machinery
import json
import os
import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build" / "native"
RECORD = BUILD / "record.json"
MODULES = (
    "streamtune.json_bytes", "streamtune.schemas.bounds", "streamtune.schemas.text",
    "streamtune.schemas.decode", "streamtune.transforms.redaction",
    "streamtune.transforms.cleaning", "streamtune.transforms.dedup",
    "streamtune.transforms.annotation", "streamtune.streams.worker.batch",
    "streamtune.streams.worker.windows", "streamtune.sinks.rows",
)
"""The hot path's own modules. None defines a pydantic model (mypyc does not compile
classes with such metaclasses)."""


def source_of(module: str, root: Path = ROOT) -> Path:
    return root.joinpath(*module.split(".")).with_suffix(".py")


def fingerprint(root: Path = ROOT) -> dict[str, str]:
    """What a build is valid for: the Python version and each module's source digest."""
    found = {"python": sys.version}
    for module in MODULES:
        found[module] = hashlib.sha256(source_of(module, root).read_bytes()).hexdigest()
    return found


class _Loader(importlib.machinery.ExtensionFileLoader):
    """Loads a compiled module; every compiled module loaded so far (the ones it imported
    itself, inside mypyc's shared library, too) gets its source file as ``__file__``."""

    def __init__(self, name: str, path: str, root: Path) -> None:
        super().__init__(name, path)
        self.root = root

    def exec_module(self, module: ModuleType) -> None:
        super().exec_module(module)
        for name in MODULES:
            loaded = sys.modules.get(name)
            if loaded is not None and not str(getattr(loaded, "__file__", "")).endswith(".py"):
                loaded.__file__ = str(source_of(name, self.root))


class _CompiledFinder(importlib.abc.MetaPathFinder):
    """Finds the compiled extension of each module the build holds (and mypyc's shared
    library), nothing else."""

    def __init__(self, extensions: dict[str, Path], root: Path) -> None:
        self.extensions = extensions
        self.root = root

    def find_spec(self, fullname: str, path: Sequence[str] | None = None,
                  target: ModuleType | None = None) -> ModuleSpec | None:
        extension = self.extensions.get(fullname)
        if extension is None:
            return None
        return importlib.machinery.ModuleSpec(
            fullname, _Loader(fullname, str(extension), self.root), origin=str(extension))


def compiled_extensions(build: Path = BUILD, root: Path = ROOT) -> dict[str, Path] | None:
    """Module name -> compiled extension, when the build at ``build`` matches the sources
    under ``root``; None when there is no such build or it is out of date."""
    try:
        record = json.loads((build / RECORD.name).read_text())
    except (OSError, ValueError):
        return None
    if record.get("fingerprint") != fingerprint(root):
        return None
    extensions = {name: build / relative for name, relative in record["extensions"].items()}
    return extensions if all(path.is_file() for path in extensions.values()) else None


def enable() -> bool:
    """Import the compiled modules from now on, if the build matches; return whether so."""
    if os.environ.get("STREAMTUNE_NATIVE", "1") == "0" or compiled():
        return False
    extensions = compiled_extensions()
    if extensions is None:
        return False
    sys.meta_path.insert(0, _CompiledFinder(extensions, ROOT))
    return True


def compiled() -> bool:
    """Whether this process imports the compiled modules."""
    return any(isinstance(finder, _CompiledFinder) for finder in sys.meta_path)
