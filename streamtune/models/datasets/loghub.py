"""Loghub's labelled ``<System>_2k.log_structured.csv`` files as error-dataset rows.

Public logs with known templates, so error-type and error-category models can
be trained and checked on data the simulator did not write. One log line is
one row, by these rules:

================== ==================================================================
column             rule
================== ==================================================================
error_message      the line's ``Content``
error_type         ``<System>_<EventId>`` (Loghub's template id; prefixed, because
                   ids repeat across systems)
error_category     ``<system>.<level>``, both lower case (``hdfs.warn``,
                   ``bgl.fatal``); ``<system>.<component>`` when a file has no level
severity_level     from the level: trace/debug/info/notice -> low, warn/warning ->
                   medium, error -> high, fatal/severe/critical/emerg -> critical,
                   anything else -> medium
root_cause         the line's ``Component`` when the file has one, else ``''``
session_id         the first HDFS block id in the content (``blk_-123``), else the
                   ``Node``, else the ``Process``, else ``<system>-<LineId // 100>``
event_time         parsed from the header's date/time fields (``Timestamp`` epoch
                   seconds first); lines that do not parse get 2000-01-01 plus
                   ``LineId`` seconds (line order)
event_id           ``uuid5(<system>/<LineId>)``, so a reload gives the same ids
other columns      ``failed_command`` and ``correction`` ``{}``, no recovery steps,
                   ``success_indicator`` false, ``source`` ``loghub:<System>``
================== ==================================================================
"""

from __future__ import annotations

import csv
import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa

from streamtune.errors import DatasetError
from streamtune.models.datasets.columns import SOURCE_SCHEMAS, conform

DEFAULT_ROOT = Path("../shared/data/loghub")
_NAMESPACE = uuid.UUID("6f1d4a52-6c0e-4b8e-9a59-6d1e0f3c2a77")
_BLOCK = re.compile(r"blk_-?\d+")
_SEVERITY = {
    "trace": "low", "debug": "low", "info": "low", "notice": "low",
    "warn": "medium", "warning": "medium", "error": "high",
    "fatal": "critical", "severe": "critical", "critical": "critical", "emerg": "critical",
}
_TIME_FORMATS = (
    ("Date Time", "%y%m%d %H%M%S"),            # HDFS: 081109 203615
    ("Date Time", "%Y-%m-%d %H:%M:%S,%f"),     # Hadoop: 2015-10-18 18:01:47,978
    ("Time", "%Y-%m-%d-%H.%M.%S.%f"),          # BGL: 2005-06-03-15.42.50.675872
    ("Time", "%a %b %d %H:%M:%S %Y"),          # Apache: Sun Dec 04 04:47:44 2005
)
_LINE_ORDER_START = datetime(2000, 1, 1, tzinfo=UTC)


def _event_time(line: dict[str, str]) -> datetime:
    if line.get("Timestamp", "").isdigit():
        return datetime.fromtimestamp(int(line["Timestamp"]), tz=UTC)
    for fields, fmt in _TIME_FORMATS:
        try:
            text = " ".join(line[f] for f in fields.split())
            return datetime.strptime(text, fmt).replace(tzinfo=UTC)
        except (KeyError, ValueError):
            continue
    return _LINE_ORDER_START + timedelta(seconds=int(line["LineId"]))


def _session(system: str, line: dict[str, str]) -> str:
    block = _BLOCK.search(line["Content"])
    if block:
        return block.group()
    return line.get("Node") or line.get("Process") or f"{system}-{int(line['LineId']) // 100}"


def load_loghub(system: str, root: Path = DEFAULT_ROOT) -> pa.Table:
    """Error-dataset rows of ``<root>/<system>_2k.log_structured.csv``."""
    path = root / f"{system}_2k.log_structured.csv"
    if not path.exists():
        raise DatasetError(f"no Loghub file {path}")
    rows: list[dict[str, Any]] = []
    with path.open(encoding="utf-8", newline="") as fh:
        for line in csv.DictReader(fh):
            level = line.get("Level", "").strip().lower()
            rows.append({
                "event_id": str(uuid.uuid5(_NAMESPACE, f"{system}/{line['LineId']}")),
                "session_id": _session(system, line),
                "event_time": _event_time(line),
                "source": f"loghub:{system}",
                "failed_command": "{}",
                "error_type": f"{system}_{line['EventId']}",
                "error_message": line["Content"],
                "correction": "{}",
                "recovery_steps": [],
                "success_indicator": False,
                "error_category": f"{system.lower()}."
                                  f"{level or line.get('Component', '').lower()}",
                "severity_level": _SEVERITY.get(level, "medium"),
                "recovery_complexity": None,
                "root_cause": line.get("Component", ""),
            })
    return conform("errors", pa.Table.from_pylist(rows, schema=_without_lineage()))


def _without_lineage() -> pa.Schema:
    schema = SOURCE_SCHEMAS["errors"]
    return pa.schema([f for f in schema if f.name not in {"synthetic", "technique",
                                                          "parent_event_id"}])


def loghub_lineage(system: str, root: Path = DEFAULT_ROOT) -> dict[str, Any]:
    """``data_lineage`` for a snapshot of :func:`load_loghub` rows (card text included)."""
    return {
        "source_files": [str(root / f"{system}_2k.log_structured.csv")],
        "description": f"Loghub {system} 2k sample: public, labelled log lines as error rows "
                       "(`streamtune/models/datasets/loghub.py` has the mapping).",
        "annotation_guidelines": "`error_type` is Loghub's template id; `error_category` is "
                                 "`<system>.<level>`; `severity_level` follows the level; "
                                 "`root_cause` is the logging component.",
    }
