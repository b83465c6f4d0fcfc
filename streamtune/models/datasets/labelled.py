"""Reading a labelled text file: JSONL, CSV or Parquet records, their values checked.

One record is one labelled text; :func:`read_labelled` returns the texts,
labels, splits and event times of every record, or raises a
:class:`~streamtune.errors.DatasetError` naming what is wrong (the file, a
column, a record).
"""

from __future__ import annotations

import csv
import json
from dataclasses import KW_ONLY, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import pyarrow as pa
import pyarrow.parquet as pq
from rich.progress import Progress

from streamtune.errors import DatasetError

SPLIT_VALUES = {"train": "train", "validation": "validation", "val": "validation",
                "valid": "validation", "dev": "validation", "test": "test"}
"""Split column values (case and surrounding space ignored) -> split."""

NO_TIME = datetime(2000, 1, 1, tzinfo=UTC)
"""The event time of records when the file has no time column."""

_READERS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".tsv": "csv",
            ".parquet": "parquet", ".pq": "parquet"}


@dataclass(frozen=True)
class ImportColumns:
    """Which of the file's columns hold the text, label, split and event time."""

    text: str = "text"
    _: KW_ONLY
    label: str = "label"
    split: str | None = None
    time: str | None = None

    def named(self) -> list[str]:
        """The columns given, in that order."""
        return [c for c in (self.text, self.label, self.split, self.time) if c is not None]


@dataclass(frozen=True)
class Labelled:
    """Every record's text, label (stripped), split (None: the file gives none) and time."""

    texts: list[str]
    _: KW_ONLY
    labels: list[str]
    splits: list[str] | None
    times: list[datetime]


def read_labelled(path: Path, columns: ImportColumns,
                  progress: Progress | None = None) -> Labelled:
    """The labelled texts of ``path``; every text and label must be non-empty."""
    records = read_records(path, columns, progress)
    numbered = list(enumerate(records, 1))
    return Labelled(
        [_text(r.get(columns.text), i, columns.text) for i, r in numbered],
        labels=[_text(r.get(columns.label), i, columns.label).strip() for i, r in numbered],
        splits=(_split([r.get(columns.split) for r in records], columns.split)
                if columns.split else None),
        times=([_time(r.get(columns.time), i, columns.time) for i, r in numbered]
               if columns.time else [NO_TIME] * len(records)))


def read_records(path: Path, columns: ImportColumns,
                 progress: Progress | None = None) -> list[dict[str, Any]]:
    """Every record of a JSONL, CSV or Parquet file (Parquet: only the named columns)."""
    kind = _READERS.get(path.suffix.lower())
    if kind is None:
        raise DatasetError(f"cannot import {path.name}: use a .jsonl, .csv or .parquet file")
    if not path.is_file():
        raise DatasetError(f"no such file {path}")
    try:
        if kind == "parquet":
            names, records = _read_parquet(path, columns)
        else:
            with (progress.open(path, "r", encoding="utf-8-sig", newline="",
                                description=f"reading {path.name}") if progress
                  else path.open(encoding="utf-8-sig", newline="")) as fh:
                names, records = (_read_jsonl(fh, path) if kind == "jsonl"
                                  else _read_csv(fh, path))
    except (OSError, UnicodeError, csv.Error, pa.ArrowException) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DatasetError(f"cannot read {path} as {kind}: {reason}") from None
    if not records:
        raise DatasetError(f"{path} holds no records")
    missing = [c for c in columns.named() if c not in names]
    if missing:
        raise DatasetError(f"{path.name} has no column {', '.join(map(repr, missing))}; its "
                           f"columns: {', '.join(names)}")
    return records


def _read_jsonl(fh: TextIO, path: Path) -> tuple[list[str], list[dict[str, Any]]]:
    records = []
    for number, line in enumerate(fh, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{path.name} line {number} is not JSON: {exc.msg}") from None
        if not isinstance(record, dict):
            raise DatasetError(f"{path.name} line {number} is not a JSON object")
        records.append(record)
    return list(dict.fromkeys(k for r in records for k in r)), records


def _read_csv(fh: TextIO, path: Path) -> tuple[list[str], list[dict[str, Any]]]:
    reader = csv.DictReader(fh, delimiter="\t" if path.suffix.lower() == ".tsv" else ",")
    records = list(reader)
    return list(reader.fieldnames or []), records


def _read_parquet(path: Path, columns: ImportColumns) -> tuple[list[str], list[dict[str, Any]]]:
    names = pq.read_schema(path).names
    wanted = [c for c in columns.named() if c in names]
    return names, pq.read_table(path, columns=wanted).to_pylist()


def _text(value: Any, row: int, column: str) -> str:
    text = "" if value is None else str(value)
    if not text.strip():
        raise DatasetError(f"record {row} has an empty {column!r}")
    return text


def _split(values: list[Any], column: str) -> list[str]:
    keys = [str(v).strip().lower() if v is not None else "" for v in values]
    unknown = sorted({repr(v) for v, k in zip(values, keys, strict=True)
                      if k not in SPLIT_VALUES})
    if unknown:
        raise DatasetError(f"unknown values in split column {column!r}: "
                           f"{', '.join(unknown[:10])}; use train, validation "
                           "(or val, valid, dev) or test")
    return [SPLIT_VALUES[k] for k in keys]


def _time(value: Any, row: int, column: str) -> datetime:
    try:
        if isinstance(value, datetime):
            parsed = value
        elif isinstance(value, int | float) and not isinstance(value, bool):
            parsed = datetime.fromtimestamp(value, tz=UTC)
        elif isinstance(value, str):
            try:
                parsed = datetime.fromtimestamp(float(value), tz=UTC)
            except ValueError:
                parsed = datetime.fromisoformat(value.strip())
        else:
            raise TypeError(type(value).__name__)
    except (TypeError, ValueError, OverflowError, OSError):
        raise DatasetError(f"record {row}: cannot read {value!r} in {column!r} as a time "
                           "(use ISO 8601 or epoch seconds)") from None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
