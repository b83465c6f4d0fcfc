"""The retrain's dataset: recent clean events plus their augmented rows that passed QC."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from streamtune.models.augmentation import Augmenter
from streamtune.models.datasets.columns import SOURCE_SCHEMAS
from streamtune.models.datasets.extract import NOT_IN_AUGMENTED
from streamtune.models.loop.recent import augmented_rows, dataset_row
from streamtune.schemas.events import CommandEvent, ErrorEvent
from tests.support.loop_models import clean, simulated
from tests.support.settings import make_settings


def test_augmented_rows_are_the_workers_rows_that_passed_qc_with_their_lineage(
        tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    events = clean(settings, simulated(5, 1500))
    rows = augmented_rows(settings, "commands", events)
    offered = [e for e in events if isinstance(e, CommandEvent | ErrorEvent)]
    worker = Augmenter(settings.augmentation).augment(offered)  # what the worker stores
    kept = {str(r.augmented_id): r for r in worker.rows if r.event.kind == "command"}
    assert rows and {r["event_id"] for r in rows} == set(kept)
    assert {str(r.augmented_id) for r, _ in worker.rejected}.isdisjoint(kept)  # QC dropped
    parents = {str(e.event_id) for e in events}
    for row in rows:
        origin = kept[row["event_id"]]
        assert row["synthetic"] is True and row["technique"] == origin.technique
        assert row["parent_event_id"] == str(origin.parent_event_id) in parents
        assert all(row[column] is None for column in NOT_IN_AUGMENTED["commands"])
    errors = augmented_rows(settings, "errors", events)
    assert errors and all(r["event_id"] in {str(x.augmented_id) for x in worker.rows
                                            if x.event.kind == "error"} for r in errors)
    table = pa.Table.from_pylist([dataset_row(e) for e in events
                                  if isinstance(e, CommandEvent)] + rows,
                                 schema=SOURCE_SCHEMAS["commands"])
    assert sum(table.column("synthetic").to_pylist()) == len(rows)


def test_no_augmented_rows_when_augmentation_is_off(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, augmentation={"enabled": False})
    assert augmented_rows(settings, "commands", clean(settings, simulated(5, 300))) == []
