"""The registry: versioned model folders under ``<data_dir>/models``, aliases, outbox.

Layout::

    <data_dir>/models/
      outbox.jsonl                    changes for the store's owner to import
      <name>/aliases.json             champion, challenger, earlier champions, history
      <name>/v<N>/model.onnx          + meta.json, MODEL_CARD.md and any other files

Examples
--------
>>> registry = Registry(settings)  # doctest: +SKIP
>>> v = registry.register(  # doctest: +SKIP
...     "intent_classifier", {"model.onnx": path}, dataset={"name": "d", "id": "1"},
...     hyperparameters={"lr": 1e-3}, metrics={"f1": 0.9}, architecture={"kind": "mlp"})
>>> registry.promote("intent_classifier", v.version, reason="beats v1 on f1")  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from streamtune.config import Settings
from streamtune.errors import ModelNotFound, RegistryError
from streamtune.models.registry import outbox
from streamtune.models.registry.aliases import ALIASES, Alias, AliasState
from streamtune.models.registry.card import render_card
from streamtune.models.registry.version import (
    CARD_FILE,
    META_FILE,
    ONNX_FILE,
    ModelVersion,
)
from streamtune.sinks import journal
from streamtune.sinks.disk import locked, sha256_of, write_atomic, write_json_atomic

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_VERSION = re.compile(r"^v([1-9][0-9]*)$")
_FILE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def _check_name(name: str) -> None:
    if not _NAME.match(name):
        raise RegistryError(f"bad model name {name!r}: use lower-case letters, digits and _")


def _now_ms() -> datetime:
    """Now in UTC, to the millisecond (what ClickHouse keeps)."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def _json_ready(what: str, value: Any) -> None:
    try:
        json.dumps(value)
    except (TypeError, ValueError) as exc:
        raise RegistryError(f"{what} must be JSON-serialisable: {exc}") from None


class Registry:
    """Model versions, their files and aliases under ``settings.data_dir / "models"``."""

    def __init__(self, settings: Settings) -> None:
        self.root = settings.data_dir.resolve() / "models"
        self.outbox_path = self.root / outbox.OUTBOX_FILE

    # -- versions -----------------------------------------------------------------

    def register(
        self,
        name: str,
        files: Mapping[str, Path],
        *,
        dataset: dict[str, str],
        hyperparameters: dict[str, Any],
        metrics: dict[str, float],
        architecture: dict[str, Any],
        parent: str | None = None,
        usage: str = "",
    ) -> ModelVersion:
        """Copy ``files`` (``model.onnx`` required) into the next version folder.

        The folder is built aside and renamed into place, so a version either
        exists whole (with ``meta.json`` and ``MODEL_CARD.md``) or not at all;
        concurrent registrations get distinct versions (``os.mkdir`` reserves one).
        """
        _check_name(name)
        self._check_files(files)
        for what, value in (("dataset", dataset), ("hyperparameters", hyperparameters),
                            ("architecture", architecture)):
            _json_ready(what, value)
        try:
            scores = {str(k): float(v) for k, v in metrics.items()}
        except (TypeError, ValueError):
            raise RegistryError(f"metrics must be numbers: {metrics!r}") from None
        if parent is not None:
            parent = self.get(name, parent).version  # an alias names the version it points at
        model_dir = self.root / name
        model_dir.mkdir(parents=True, exist_ok=True)
        staging = model_dir / f".staging-{uuid.uuid4().hex}"
        staging.mkdir()
        reserved: Path | None = None
        try:
            for file_name, source in files.items():
                shutil.copyfile(source, staging / file_name)
            reserved = self._reserve(model_dir)
            model = ModelVersion(
                name=name, version=reserved.name, path=reserved,
                sha256=sha256_of(staging / ONNX_FILE),
                created_at=_now_ms(), dataset=dict(dataset),
                hyperparameters=dict(hyperparameters), metrics=scores,
                architecture=dict(architecture), parent=parent,
            )
            write_json_atomic(staging / META_FILE, model.meta())
            write_atomic(staging / CARD_FILE, render_card(model, files=list(files), usage=usage))
            os.rename(staging, reserved)  # onto the empty reserved folder
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            if reserved is not None and reserved.is_dir() and not any(reserved.iterdir()):
                reserved.rmdir()
            raise
        record = outbox.new_record("registered", name, model.version)
        journal.append(self.outbox_path, {**record, "model": {**model.meta(),
                                                              "path": str(model.path)}})
        return model

    def versions(self, name: str | None = None) -> list[ModelVersion]:
        """Complete versions of ``name`` (or of every model), oldest first per name."""
        if name is not None:
            _check_name(name)
        names = [name] if name is not None else sorted(
            p.name for p in self._dirs(self.root) if _NAME.match(p.name))
        found = []
        for model_name in names:
            numbered = sorted((int(m[1]), p) for p in self._dirs(self.root / model_name)
                              if (m := _VERSION.match(p.name)) and (p / META_FILE).is_file())
            found += [ModelVersion.load(path) for _, path in numbered]
        return found

    def get(self, name: str, version: str) -> ModelVersion:
        """Version ``version`` (or the one an alias names) of ``name``."""
        _check_name(name)
        for alias in ALIASES:
            if version == alias:
                model = self.alias(name, alias)
                if model is None:
                    raise ModelNotFound(f"{name} has no {alias}")
                return model
        path = self.root / name / version
        if not _VERSION.match(version) or not (path / META_FILE).is_file():
            known = ", ".join(v.version for v in self.versions(name)) or "none registered"
            raise ModelNotFound(f"no model {name} {version} (versions: {known})")
        return ModelVersion.load(path)

    # -- aliases ------------------------------------------------------------------

    def alias(self, name: str, alias: Alias) -> ModelVersion | None:
        """The version ``alias`` points at, or None."""
        _check_name(name)
        if alias not in ALIASES:
            raise RegistryError(f"unknown alias {alias!r}: use champion or challenger")
        version = getattr(AliasState.load(self.root / name), alias)
        return None if version is None else ModelVersion.load(self.root / name / version)

    def set_challenger(self, name: str, version: str) -> None:
        """Point ``challenger`` at ``version`` (not the champion)."""
        with self._aliases(name) as state:
            model = self.get(name, version)
            if model.version == state.champion:
                raise RegistryError(f"{name} {model.version} is the champion already")
            self._record(state, "challenger", name, model.version, state.challenger, "")
            state.challenger = model.version

    def clear_challenger(self, name: str, *, reason: str = "") -> str | None:
        """Drop the challenger alias (a rejected or rolled-back candidate); return it."""
        with self._aliases(name) as state:
            dropped = state.challenger
            if dropped is not None:
                self._record(state, "challenger_cleared", name, dropped, None, reason)
                state.challenger = None
        return dropped

    def promote(self, name: str, version: str, *, reason: str = "") -> ModelVersion:
        """Make ``version`` the champion; the one it replaces can be rolled back to."""
        with self._aliases(name) as state:
            model = self.get(name, version)
            if model.version == state.champion:
                raise RegistryError(f"{name} {model.version} is the champion already")
            self._record(state, "promoted", name, model.version, state.champion, reason)
            if state.champion is not None:
                state.earlier.append(state.champion)
            state.champion = model.version
            if state.challenger == model.version:
                state.challenger = None
        return model

    def rollback(self, name: str, *, reason: str = "") -> ModelVersion:
        """Make the previous champion the champion again."""
        with self._aliases(name) as state:
            if not state.earlier:
                raise RegistryError(f"{name} has no earlier champion to roll back to")
            version = state.earlier.pop()
            self._record(state, "rolled_back", name, version, state.champion, reason)
            state.champion = version
        return self.get(name, version)

    def history(self, name: str) -> list[dict[str, Any]]:
        """Alias changes of ``name``, newest last: time, event, version, previous, reason."""
        _check_name(name)
        return AliasState.load(self.root / name).history

    # -- internals ----------------------------------------------------------------

    @contextmanager
    def _aliases(self, name: str) -> Iterator[AliasState]:
        """Change the alias state under the model's lock; save it, then send new history."""
        if not self.versions(name):
            raise ModelNotFound(f"no model named {name} (none registered)")
        model_dir = self.root / name
        with locked(model_dir / ".lock"):
            state = AliasState.load(model_dir)
            seen = len(state.history)
            yield state
            state.save(model_dir)
            for entry in state.history[seen:]:
                journal.append(self.outbox_path, {**entry, "name": name})

    @staticmethod
    def _record(state: AliasState, event: str, name: str, version: str,
                previous: str | None, reason: str) -> None:
        record = outbox.new_record(event, name, version, previous=previous, reason=reason)
        state.history.append({k: v for k, v in record.items() if k != "name"})

    @staticmethod
    def _check_files(files: Mapping[str, Path]) -> None:
        if ONNX_FILE not in files:
            raise RegistryError(f"a model version needs {ONNX_FILE}; got {sorted(files)}")
        for file_name, source in files.items():
            if not _FILE.match(file_name) or file_name in (META_FILE, CARD_FILE):
                raise RegistryError(f"bad file name {file_name!r} for a model version")
            if not Path(source).is_file():
                raise RegistryError(f"{file_name}: no such file {source}")

    @staticmethod
    def _reserve(model_dir: Path) -> Path:
        """Create and return the next free ``v<N>`` folder (empty)."""
        taken = [int(m[1]) for p in Registry._dirs(model_dir) if (m := _VERSION.match(p.name))]
        number = max(taken, default=0) + 1
        while True:
            try:
                (model_dir / f"v{number}").mkdir()
                return model_dir / f"v{number}"
            except FileExistsError:
                number += 1

    @staticmethod
    def _dirs(folder: Path) -> list[Path]:
        return [p for p in folder.iterdir() if p.is_dir()] if folder.is_dir() else []
