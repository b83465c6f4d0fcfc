"""Versioned datasets from ClickHouse: the only thing training reads.

Two datasets, ``commands`` and ``errors`` (columns in :mod:`.columns`), each
built into an immutable, content-addressed snapshot of Parquet splits with a
manifest and a dataset card (:mod:`.snapshot`). Splits are train/validation/
test by template, deterministic and free of leakage (:mod:`.prepare`,
:mod:`.splits`, :mod:`.templates`); :func:`same_split` says whether two
snapshots agree on them. A labelled text file becomes a commands snapshot too
(:mod:`.importing`). Training reads snapshots, never the live
store: a chdb path belongs to one process, the worker.

Examples
--------
>>> from streamtune.config import Settings
>>> from streamtune.sinks.store import ClickHouseStore
>>> settings = Settings()  # doctest: +SKIP
>>> with ClickHouseStore.from_settings(settings) as store:  # doctest: +SKIP
...     snap = build_snapshot(store, settings, "commands")
>>> snap.table("train").num_rows  # doctest: +SKIP
7712
>>> record_usage(snap, "intent", "3", {"accuracy": 0.97})  # doctest: +SKIP
"""

from streamtune.models.datasets.build import (
    build_snapshot,
    preprocessing_params,
    snapshot_from_table,
)
from streamtune.models.datasets.columns import (
    JSON_COLUMNS,
    LABEL_COLUMN,
    NAMES,
    SOURCE_SCHEMAS,
    DatasetName,
    snapshot_schema,
)
from streamtune.models.datasets.consistency import same_split, trained_split_matches
from streamtune.models.datasets.diff import diff_snapshots
from streamtune.models.datasets.importing import Cleaned, Cleaner, Imported, import_commands
from streamtune.models.datasets.labelled import ImportColumns
from streamtune.models.datasets.loghub import load_loghub, loghub_lineage
from streamtune.models.datasets.snapshot import (
    Snapshot,
    content_hash,
    export_jsonl,
    list_snapshots,
    open_snapshot,
    record_usage,
)
from streamtune.models.datasets.splits import SPLITS, assign_groups
from streamtune.models.datasets.templates import (
    command_template,
    error_template,
    error_templates,
)

__all__ = [
    "JSON_COLUMNS",
    "LABEL_COLUMN",
    "NAMES",
    "SOURCE_SCHEMAS",
    "SPLITS",
    "Cleaned",
    "Cleaner",
    "DatasetName",
    "ImportColumns",
    "Imported",
    "Snapshot",
    "assign_groups",
    "build_snapshot",
    "command_template",
    "content_hash",
    "diff_snapshots",
    "error_template",
    "error_templates",
    "export_jsonl",
    "import_commands",
    "list_snapshots",
    "load_loghub",
    "loghub_lineage",
    "open_snapshot",
    "preprocessing_params",
    "record_usage",
    "same_split",
    "snapshot_from_table",
    "snapshot_schema",
    "trained_split_matches",
]
