"""Immutable, content-addressed dataset snapshots on disk, and their mutable tracking.

Layout: ``<data_dir>/datasets/<name>/<snapshot_id>/`` holds ``train.parquet``,
``validation.parquet``, ``test.parquet``, ``manifest.json`` and ``CARD.md``;
``<name>/LATEST`` names the newest build. ``snapshot_id`` is the first 16 hex
digits of :func:`content_hash`, so the same rows with the same preprocessing
give the same id and any changed row gives a new one. A snapshot is written to
a temporary folder and renamed into place; an existing id is reused, never
overwritten. Usage by models and their metrics live beside the manifest in
``tracking.json`` (:func:`record_usage`), outside the hash.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any, Literal, cast

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from streamtune.config import Settings
from streamtune.errors import DatasetError
from streamtune.models.datasets.columns import JSON_COLUMNS, NAMES, DatasetName
from streamtune.models.datasets.splits import SPLITS

MANIFEST = "manifest.json"
TRACKING = "tracking.json"
CARD = "CARD.md"
LATEST = "LATEST"


def datasets_dir(settings: Settings) -> Path:
    """Folder holding every dataset's snapshots."""
    return settings.data_dir / "datasets"


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot hash {type(value).__name__}")


def content_hash(splits: Mapping[str, pa.Table], params: Mapping[str, Any]) -> str:
    """sha256 over the schema, ``params`` and every row of every split, in a stable order.

    Rows are hashed as canonical JSON (sorted keys), split by split in
    :data:`SPLITS` order, each split sorted by ``event_id``; the rows carry
    their split, so moving a row between splits changes the hash.
    """
    digest = hashlib.sha256()
    first = next(iter(splits.values()))
    header = {"columns": [[f.name, str(f.type)] for f in first.schema], "params": params}
    digest.update(json.dumps(header, sort_keys=True, default=_plain).encode())
    for split in SPLITS:
        table = splits[split]
        order = pc.sort_indices(table, sort_keys=[("event_id", "ascending")])
        for row in table.take(order).to_pylist():
            line = json.dumps(row, sort_keys=True, default=_plain, separators=(",", ":"))
            digest.update(line.encode() + b"\n")
    return digest.hexdigest()


def decode_row(row: dict[str, Any]) -> dict[str, Any]:
    """A row with its JSON-string columns decoded into objects."""
    return {k: json.loads(v) if k in JSON_COLUMNS and isinstance(v, str) else v
            for k, v in row.items()}


@dataclass(frozen=True)
class Snapshot:
    """One immutable dataset version on disk."""

    name: DatasetName
    id: str
    path: Path

    @cached_property
    def _manifest(self) -> dict[str, Any]:
        return cast(dict[str, Any], json.loads((self.path / MANIFEST).read_text()))

    @property
    def manifest(self) -> dict[str, Any]:
        """The manifest, with current usage statistics and performance impact merged in."""
        manifest = json.loads(json.dumps(self._manifest))
        manifest["tracking"].update(self.tracking())
        return cast(dict[str, Any], manifest)

    @property
    def created_at(self) -> str:
        return cast(str, self._manifest["created_at"])

    @property
    def card_path(self) -> Path:
        return self.path / CARD

    def tracking(self) -> dict[str, list[dict[str, Any]]]:
        """Which models trained on this snapshot, and their metrics (read fresh)."""
        path = self.path / TRACKING
        if not path.exists():
            return {"usage_statistics": [], "performance_impact": []}
        return cast(dict[str, list[dict[str, Any]]], json.loads(path.read_text()))

    def table(self, split: str,
              *, by: Literal["template", "session"] = "template") -> pa.Table:
        """Rows of ``split``; ``by="session"`` selects by ``session_split`` (commands only)."""
        if split not in SPLITS:
            raise DatasetError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
        if by == "template":
            return pq.read_table(self.path / f"{split}.parquet")
        if self.name != "commands":
            raise DatasetError("only the commands dataset has a session split")
        whole = pa.concat_tables([pq.read_table(self.path / f"{s}.parquet") for s in SPLITS])
        return whole.filter(pc.equal(whole.column("session_split"), split))

    def rows(self, split: str,
             *, by: Literal["template", "session"] = "template") -> list[dict[str, Any]]:
        """Rows of ``split`` as dicts, JSON columns decoded."""
        return [decode_row(row) for row in self.table(split, by=by).to_pylist()]


def write_snapshot(root: Path, name: DatasetName, splits: Mapping[str, pa.Table],
                   manifest: dict[str, Any], card: str) -> Snapshot:
    """Write a snapshot atomically, or return the existing one with the same id."""
    snapshot_id = manifest["snapshot_id"]
    final = root / name / snapshot_id
    if not (final / MANIFEST).exists():
        tmp = root / name / f".tmp-{snapshot_id}-{uuid.uuid4().hex[:8]}"
        tmp.mkdir(parents=True)
        try:
            for split, table in splits.items():
                pq.write_table(table, tmp / f"{split}.parquet", compression="zstd")
            (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
            (tmp / CARD).write_text(card)
            os.rename(tmp, final)
        except OSError:
            if not (final / MANIFEST).exists():
                raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    _write_atomic(root / name / LATEST, snapshot_id + "\n")
    return Snapshot(name, snapshot_id, final)


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}")
    tmp.write_text(text)
    os.replace(tmp, path)


def _check_name(name: str) -> DatasetName:
    if name not in NAMES:
        raise DatasetError(f"unknown dataset {name!r}; use one of {', '.join(NAMES)}")
    return name


def list_snapshots(settings: Settings, name: str | None = None) -> list[Snapshot]:
    """Every snapshot (of ``name``), oldest first."""
    names = [_check_name(name)] if name else list(NAMES)
    found = [Snapshot(n, p.name, p) for n in names
             for p in (datasets_dir(settings) / n).glob("*") if (p / MANIFEST).exists()]
    return sorted(found, key=lambda s: (s.name, s.created_at, s.id))


def latest_id(settings: Settings, name: DatasetName) -> str | None:
    """Id of the newest build of ``name``, or None when there is none."""
    pointer = datasets_dir(settings) / name / LATEST
    if pointer.exists():
        return pointer.read_text().strip()
    snapshots = list_snapshots(settings, name)
    return snapshots[-1].id if snapshots else None


def open_snapshot(settings: Settings, name: str, snapshot_id: str | None = None) -> Snapshot:
    """The snapshot ``snapshot_id`` (or a unique prefix of it) of ``name``; None = latest."""
    checked = _check_name(name)
    wanted = snapshot_id or latest_id(settings, checked)
    if wanted is None:
        raise DatasetError(f"no {name} snapshot yet; run `streamtune dataset build {name}`")
    matches = [s for s in list_snapshots(settings, checked) if s.id.startswith(wanted)]
    if len(matches) != 1:
        problem = "no" if not matches else "more than one"
        raise DatasetError(f"{problem} {name} snapshot matches {wanted!r}")
    return matches[0]


def record_usage(snapshot: Snapshot, model: str, version: str,
                 metrics: Mapping[str, float]) -> None:
    """Record that ``model`` ``version`` trained on ``snapshot``, with its metrics."""
    path = snapshot.path / TRACKING
    with (snapshot.path / ".tracking.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        tracking = snapshot.tracking()
        now = datetime.now(UTC).isoformat()
        tracking["usage_statistics"].append({"model": model, "version": version, "used_at": now})
        tracking["performance_impact"].append(
            {"model": model, "version": version, "metrics": {k: float(v)
                                                             for k, v in metrics.items()}})
        _write_atomic(path, json.dumps(tracking, indent=2, sort_keys=True) + "\n")


def export_jsonl(snapshot: Snapshot, split: str, path: Path) -> int:
    """Write ``split`` as JSON lines, JSON columns as objects; return the row count."""
    rows = snapshot.rows(split)
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False, default=_plain) + "\n")
    return len(rows)
