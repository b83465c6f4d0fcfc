"""Bring your own data: a labelled text file as a ``commands`` snapshot.

A JSONL, CSV or Parquet file with a text and a label column (and optionally a
split and an event-time column) becomes a snapshot in the format
``dataset build commands`` writes, so ``train`` and ``evaluate`` read it
unchanged. One record is one row, by these rules:

================ =================================================================
column           rule
================ =================================================================
raw_input        the text, secrets redacted by the caller's ``clean`` (the CLI uses
                 the worker's redactor), as the worker's cleaning step does
normalized_input the redacted text normalised (``clean`` again)
command_type     the label as an identifier: ASCII-folded, lower case, runs of other
                 characters ``_``, ``label_`` before a leading digit, at most 64
                 characters (``label_<hash>`` when nothing is left); the manifest's
                 ``label_map`` keeps each original label
split            the split column's value (``val``, ``valid``, ``dev`` mean
                 validation), honoured exactly; without one, by template as
                 ``dataset build`` splits (seeded by ``DATASETS__SPLIT_SEED``)
event_time       the time column (ISO 8601, UTC when it names no zone, or epoch
                 seconds), else 2000-01-01 UTC
event_id         ``uuid5(redacted text, label, occurrence)``: the same records in
                 any order give the same rows, and the same snapshot id
session_id       the event_id (a record is its own session); ``session_split`` is
                 the file's split when it gives one, else the usual split by session
other columns    ``parameters`` and ``context`` ``{}``, no annotations, ``source``
                 ``import:<file name>``
================ =================================================================

Reading and checking the file is :mod:`.labelled`'s. Every label needs
training rows: a label with none (all its rows in validation or test) is an
error that names it.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import KW_ONLY, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
from rich.progress import Progress

from streamtune.config import Settings
from streamtune.errors import DatasetError
from streamtune.models.datasets.build import preprocessing_params, snapshot_from_prepared
from streamtune.models.datasets.columns import SOURCE_SCHEMAS, snapshot_schema
from streamtune.models.datasets.labelled import ImportColumns, read_labelled
from streamtune.models.datasets.prepare import Prepared, prepare
from streamtune.models.datasets.snapshot import Snapshot
from streamtune.models.datasets.splits import SPLITS
from streamtune.models.datasets.templates import command_template

LABEL_RULE = ("ASCII-folded, lower case, other characters '_', 'label_' before a leading "
              "digit, at most 64 characters")
_NAMESPACE = uuid.UUID("0b7e8f36-3d55-4c1e-8f0a-4f5b2f0c9d21")
_NOT_ID = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class Cleaned:
    """One text as the pipeline stores it: redacted, and normalised after redaction."""

    raw: str
    _: KW_ONLY
    normalized: str
    redactions: Mapping[str, int]


Cleaner = Callable[[str], Cleaned]


@dataclass(frozen=True)
class Imported:
    """What an import made: the snapshot, the label mapping, the secrets redacted."""

    snapshot: Snapshot
    _: KW_ONLY
    label_map: dict[str, str]
    redactions: dict[str, int]


def command_type_of(label: str) -> str:
    """The command type a label becomes (see the module's rules)."""
    folded = unicodedata.normalize("NFKD", label).encode("ascii", "ignore").decode()
    name = _NOT_ID.sub("_", folded.lower()).strip("_")
    if not name:
        return "label_" + hashlib.sha256(label.encode()).hexdigest()[:8]
    return (name if name[0].isalpha() else f"label_{name}")[:64]


def label_map(labels: Iterable[str]) -> dict[str, str]:
    """Command type -> original label; two labels that become one type are an error."""
    out: dict[str, str] = {}
    for label in sorted(set(labels)):
        name = command_type_of(label)
        if name in out:
            raise DatasetError(f"labels {out[name]!r} and {label!r} both become command type "
                               f"{name!r}; rename one")
        out[name] = label
    return out


def _source_rows(path: Path, cleaned: list[Cleaned], labels: list[str],
                 times: list[datetime], types: Mapping[str, str]) -> list[dict[str, Any]]:
    """Source-schema rows (without split columns), one per record."""
    seen: Counter[tuple[str, str]] = Counter()
    rows = []
    for clean, label, time in zip(cleaned, labels, times, strict=True):
        seen[clean.raw, label] += 1
        key = f"{clean.raw}\x00{label}\x00{seen[clean.raw, label]}"
        event_id = str(uuid.uuid5(_NAMESPACE, key))
        rows.append({
            "event_id": event_id, "session_id": event_id, "event_time": time,
            "source": f"import:{path.name}", "raw_input": clean.raw,
            "normalized_input": clean.normalized, "command_type": types[label],
            "parameters": "{}", "context": "{}", "success": None, "execution_time": None,
            "intent_labels": None, "parameter_boundaries": None, "entity_tags": None,
            "complexity_score": None, "synthetic": False, "technique": "",
            "parent_event_id": None,
        })
    return rows


def _as_given(rows: list[dict[str, Any]], splits: list[str], column: str) -> Prepared:
    """Rows split as the file says: the template is recorded, the split kept."""
    for row, split in zip(rows, splits, strict=True):
        row.update(template=command_template(row["normalized_input"], row["raw_input"]),
                   split=split, session_split=split)
    schema = snapshot_schema("commands")
    tables = {split: pa.Table.from_pylist(
        sorted((r for r in rows if r["split"] == split), key=lambda r: r["event_id"]),
        schema=schema) for split in SPLITS}
    return Prepared(tables, [{"step": "extract", "rows": len(rows)},
                             {"step": f"split as the file's {column!r} column says",
                              "rows": len(rows)}])


def _check_classes(prepared: Prepared, types: Mapping[str, str], *, given: bool) -> None:
    """Every label has training rows; else name the ones that do not, and where they are."""
    where: dict[str, list[str]] = {}
    for split in SPLITS:
        for name in set(prepared.splits[split].column("command_type").to_pylist()):
            where.setdefault(name, []).append(split)
    empty = [f"{types[n]!r} (only in {' and '.join(s)})" for n, s in sorted(where.items())
             if "train" not in s]
    if empty:
        hint = ("" if given else "; the template split put all its texts there: add texts "
                "or give a --split column")
        more = f" and {len(empty) - 10} more" if len(empty) > 10 else ""
        raise DatasetError(f"no training rows for label {', '.join(empty[:10])}{more}{hint}")


def import_commands(settings: Settings, path: Path, *, columns: ImportColumns, clean: Cleaner,
                    progress: Progress | None = None) -> Imported:
    """Read ``path``, clean its texts with ``clean``, split, and write a commands snapshot."""
    data = read_labelled(path, columns, progress)
    types = label_map(data.labels)
    cleaned = [clean(text) for text in (
        progress.track(data.texts, description="redacting, normalising") if progress
        else data.texts)]
    if progress:
        progress.add_task("splitting, writing the snapshot", total=None)
    rows = _source_rows(path, cleaned, data.labels, data.times,
                        {label: name for name, label in types.items()})
    params = preprocessing_params(settings, "commands")
    if data.splits is None:
        prepared = prepare("commands", pa.Table.from_pylist(
            rows, schema=SOURCE_SCHEMAS["commands"]), settings.datasets)
    else:
        prepared = _as_given(rows, data.splits, str(columns.split))
        params |= {"split_unit": f"the file's {columns.split!r} column, as given",
                   "split_seed": None, "split_ratios": None}
    _check_classes(prepared, types, given=data.splits is not None)
    redactions: Counter[str] = Counter()
    for item in cleaned:
        redactions.update(item.redactions)
    counted = dict(sorted(redactions.items()))
    snapshot = snapshot_from_prepared(
        settings, "commands", prepared, params={**params, "label_rule": LABEL_RULE},
        lineage=_lineage(path, columns, types, data.times), quality={"redactions": counted})
    return Imported(snapshot, label_map=types, redactions=counted)


def _lineage(path: Path, columns: ImportColumns, types: dict[str, str],
             times: list[datetime]) -> dict[str, Any]:
    lineage: dict[str, Any] = {
        "source_files": [str(path.resolve())],
        "columns": {"text": columns.text, "label": columns.label, "split": columns.split,
                    "time": columns.time},
        "label_map": types,
        "description": f"Labelled texts imported from `{path.name}` by `streamtune dataset "
                       "import` (`streamtune/models/datasets/importing.py` has the mapping)."
                       + (" Splits are the file's own; the split rule below does not apply."
                          if columns.split else ""),
        "annotation_guidelines": "`command_type` is the file's label made an identifier "
                                 f"({LABEL_RULE}); `label_map` gives each one's original "
                                 "label. Texts are redacted and normalised as the worker's "
                                 "cleaning step does. No other annotations.",
    }
    if columns.time:
        lineage["event_time_range"] = [min(times).isoformat(), max(times).isoformat()]
    return lineage
