"""Dataset snapshots without a store: templates, splits, augmented rows, hashing, diff."""

from __future__ import annotations

import json
import os
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamtune.config import Settings
from streamtune.errors import DatasetError
from streamtune.models.datasets import (
    SPLITS,
    Snapshot,
    assign_groups,
    command_template,
    diff_snapshots,
    error_template,
    error_templates,
    export_jsonl,
    list_snapshots,
    open_snapshot,
    record_usage,
    snapshot_from_table,
)
from tests.support.settings import make_settings

START = datetime(2026, 3, 1, tzinfo=UTC)
TEMPLATES = [f"start pump {i}" for i in range(40)] + ["status", "show alarms"]


def command_row(i: int, **overrides: Any) -> dict[str, Any]:
    template = TEMPLATES[i % len(TEMPLATES)]
    row = {
        "event_id": f"00000000-0000-0000-0000-{i:012d}", "session_id": f"s-{i % 23}",
        "event_time": START + timedelta(seconds=i), "source": "hmi-1",
        "raw_input": template.upper(), "normalized_input": template,
        "command_type": "query_status" if template == "status" else "start_pump",
        "parameters": json.dumps({"pump": f"pump-{i % 7}"}), "context": "{}",
        "success": i % 5 != 0, "execution_time": 0.1 + i / 1000, "intent_labels": ["ops"],
        "parameter_boundaries": "[]", "entity_tags": "[]", "complexity_score": 0.2,
    }
    row.update(overrides)
    return row


def augmented_row(i: int, parent: dict[str, Any], text: str) -> dict[str, Any]:
    return command_row(i, normalized_input=text, raw_input=text, synthetic=True,
                       technique="synonym_replacement", parent_event_id=parent["event_id"],
                       session_id=parent["session_id"], intent_labels=None,
                       parameter_boundaries=None, entity_tags=None, complexity_score=None)


def table_of(rows: list[dict[str, Any]]) -> pa.Table:
    full = [{"synthetic": False, "technique": "", "parent_event_id": None, **r} for r in rows]
    return pa.Table.from_pylist(full)


@pytest.fixture
def cfg(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


ORIGINALS = [command_row(i) for i in range(600)]


def all_rows(snap: Snapshot) -> list[dict[str, Any]]:
    return [row for split in SPLITS for row in snap.rows(split)]


# --- templates -----------------------------------------------------------------------------

@given(st.integers(0, 10**9), st.integers(0, 10**6), st.ip_addresses(v=4), st.uuids())
def test_error_messages_differing_in_variables_share_a_template(
        a: int, b: int, ip: object, uid: object) -> None:
    first = f"pump-{a} did not answer from {ip}:{b} (request {uid}, block blk_-{a})"
    second = f"pump-{b} did not answer from 10.0.0.1:80 (request {uid}, block blk_{b})"
    assert error_template(first) == error_template(second)
    assert "did not answer from" in error_template(first)
    assert str(a) not in error_template(first).replace("<*>", "")


def test_error_templates_keep_the_words_that_differ() -> None:
    assert error_template("encoder failure on mixer-1") != error_template(
        "bearing failure on mixer-1")
    paths = error_templates(["read /var/log/app/x.log failed", "read /tmp/y failed"])
    assert paths == ["read <*> failed"] * 2


def test_command_template_is_the_normalized_text() -> None:
    assert command_template("start pump 3", "START  Pump 3") == "start pump 3"
    assert command_template("", "  START   Pump 3.") == "start pump 3"


# --- splits ---------------------------------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.text(min_size=1, max_size=8), st.integers(1, 40), min_size=1,
                       max_size=200), st.integers(0, 5))
def test_splits_are_deterministic_and_as_close_to_the_ratios_as_groups_allow(
        sizes: dict[str, int], seed: int) -> None:
    ratios = (0.7, 0.15, 0.15)
    assigned = assign_groups(sizes, seed=seed, ratios=ratios)
    reordered = dict(reversed(list(sizes.items())))
    assert assign_groups(reordered, seed=seed, ratios=ratios) == assigned
    assert set(assigned) == set(sizes) and set(assigned.values()) <= set(SPLITS)
    rows = Counter()
    for key, split in assigned.items():
        rows[split] += sizes[key]
    total, biggest = sum(sizes.values()), max(sizes.values())
    assert abs(rows["train"] - 0.7 * total) <= biggest / 2
    assert abs(rows["train"] + rows["validation"] - 0.85 * total) <= biggest / 2


def test_seed_changes_the_assignment() -> None:
    sizes = {f"t{i}": 1 for i in range(200)}
    ratios = (0.7, 0.15, 0.15)
    assert assign_groups(sizes, seed=0, ratios=ratios) != assign_groups(
        sizes, seed=1, ratios=ratios)


def test_no_template_or_session_history_straddles_splits(cfg: Settings) -> None:
    snap = snapshot_from_table(cfg, "commands", table_of(ORIGINALS), lineage={})
    template_split: dict[str, set[str]] = {}
    session_split: dict[str, set[str]] = {}
    for split in SPLITS:
        for row in snap.rows(split):
            assert row["split"] == split
            template_split.setdefault(row["template"], set()).add(split)
            session_split.setdefault(row["session_id"], set()).add(row["session_split"])
    assert all(len(s) == 1 for s in template_split.values())
    assert all(len(s) == 1 for s in session_split.values())
    assert {s for (s,) in template_split.values()} == set(SPLITS)
    by_session = sum(snap.table(s, by="session").num_rows for s in SPLITS)
    assert by_session == len(ORIGINALS)
    counts = {s: snap.table(s).num_rows for s in SPLITS}
    assert abs(counts["train"] - 0.7 * len(ORIGINALS)) <= 0.1 * len(ORIGINALS)


def test_augmented_rows_follow_a_train_parent_only_into_train(cfg: Settings) -> None:
    base = snapshot_from_table(cfg, "commands", table_of(ORIGINALS), lineage={})
    split_of = {r["event_id"]: r["split"] for r in all_rows(base)}
    template_of = {r["template"]: r["split"] for r in all_rows(base)}
    parents = {split: next(r for r in ORIGINALS if split_of[r["event_id"]] == split)
               for split in SPLITS}
    evaluation_text = next(t for t, s in template_of.items() if s == "test")
    synthetic = [
        augmented_row(10_001, parents["train"], "please start pump 1"),
        augmented_row(10_002, parents["validation"], "please start pump 2"),
        augmented_row(10_003, parents["test"], "please start pump 3"),
        augmented_row(10_004, parents["train"], evaluation_text),
        augmented_row(10_005, command_row(99_999), "an orphan"),
    ]
    snap = snapshot_from_table(cfg, "commands", table_of(ORIGINALS + synthetic), lineage={})
    kept = [r for r in all_rows(snap) if r["synthetic"]]
    assert [r["event_id"] for r in kept] == [synthetic[0]["event_id"]]
    assert kept[0]["split"] == "train" and kept[0]["parent_event_id"] == parents["train"][
        "event_id"]
    dropped = snap.manifest["quality_metrics"]["augmented_rows_dropped"]
    assert dropped == {"augmented_parent_missing": 1, "augmented_parent_not_in_train": 2,
                       "augmented_template_in_evaluation": 1}
    originals_now = {r["event_id"]: r["split"] for r in all_rows(snap) if not r["synthetic"]}
    assert originals_now == split_of  # synthetic rows never move originals


# --- hashing and snapshots ------------------------------------------------------------------

def test_same_rows_give_the_same_snapshot_and_any_change_a_new_one(cfg: Settings) -> None:
    first = snapshot_from_table(cfg, "commands", table_of(ORIGINALS), lineage={"n": 1})
    manifest_mtime = os.stat(first.path / "manifest.json").st_mtime_ns
    shuffled = snapshot_from_table(cfg, "commands", table_of(ORIGINALS[::-1]),
                                   lineage={"n": 2})
    assert shuffled.id == first.id and shuffled.path == first.path
    assert os.stat(first.path / "manifest.json").st_mtime_ns == manifest_mtime
    assert first.manifest["tracking"]["data_lineage"]["n"] == 1  # reused, not overwritten
    changes = [
        {"execution_time": ORIGINALS[5]["execution_time"] + 1e-9},
        {"success": not ORIGINALS[5]["success"]},
        {"context": '{"mode":"manual"}'},
        {"intent_labels": ["ops", "pumps"]},
    ]
    ids = {first.id}
    for change in changes:
        rows = [dict(r) for r in ORIGINALS]
        rows[5].update(change)
        ids.add(snapshot_from_table(cfg, "commands", table_of(rows), lineage={}).id)
    ids.add(snapshot_from_table(cfg, "commands", table_of(ORIGINALS[:-1]), lineage={}).id)
    reseeded = make_settings(cfg.data_dir, datasets={"split_seed": 7})
    ids.add(snapshot_from_table(reseeded, "commands", table_of(ORIGINALS), lineage={}).id)
    assert len(ids) == len(changes) + 3


def test_manifest_card_and_tracking(cfg: Settings) -> None:
    first = snapshot_from_table(cfg, "commands", table_of(ORIGINALS[:-10]), lineage={})
    snap = snapshot_from_table(cfg, "commands", table_of(ORIGINALS), lineage={"why": "test"})
    manifest = snap.manifest
    assert manifest["snapshot_id"] == snap.id == manifest["content_sha256"][:16]
    assert manifest["tracking"]["data_lineage"] == {"why": "test", "parent_snapshot": first.id}
    stats = manifest["dataset_stats"]
    assert stats["rows"] == len(ORIGINALS) == sum(
        snap.table(s).num_rows for s in SPLITS)
    assert sum(stats["splits"]["train"]["labels"].values()) == snap.table("train").num_rows
    assert manifest["preprocessing_params"]["split_ratios"]["train"] == 0.7
    assert manifest["augmentation_config"]["rate"] == cfg.augmentation.rate
    card = snap.card_path.read_text()
    for heading in ("## Source", "## Preprocessing", "## Annotation guidelines",
                    "## Quality metrics", "## Split rule"):
        assert heading in card
    record_usage(snap, "intent", "3", {"accuracy": 0.91})
    again = open_snapshot(cfg, "commands", snap.id[:6])
    assert again.manifest["tracking"]["usage_statistics"][0]["model"] == "intent"
    assert again.manifest["tracking"]["performance_impact"][0]["metrics"] == {"accuracy": 0.91}
    assert snapshot_from_table(cfg, "commands", table_of(ORIGINALS), lineage={}).id == snap.id
    assert open_snapshot(cfg, "commands").id == snap.id
    assert [s.id for s in list_snapshots(cfg, "commands")] == [first.id, snap.id]


def test_open_snapshot_errors_are_one_line(cfg: Settings) -> None:
    with pytest.raises(DatasetError, match="no commands snapshot yet"):
        open_snapshot(cfg, "commands")
    with pytest.raises(DatasetError, match="unknown dataset"):
        open_snapshot(cfg, "feedback")
    snapshot_from_table(cfg, "commands", table_of(ORIGINALS), lineage={})
    with pytest.raises(DatasetError, match="no commands snapshot matches"):
        open_snapshot(cfg, "commands", "zzzz")


def test_jsonl_export_writes_json_columns_as_objects(cfg: Settings, tmp_path: Path) -> None:
    snap = snapshot_from_table(cfg, "commands", table_of(ORIGINALS), lineage={})
    out = tmp_path / "train.jsonl"
    assert export_jsonl(snap, "train", out) == snap.table("train").num_rows
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert isinstance(lines[0]["parameters"], dict) and "pump" in lines[0]["parameters"]
    assert isinstance(lines[0]["entity_tags"], list)
    assert datetime.fromisoformat(lines[0]["event_time"]).tzinfo is not None


def test_diff_counts_added_removed_and_label_changes(cfg: Settings) -> None:
    a = snapshot_from_table(cfg, "commands", table_of(ORIGINALS[:500]), lineage={})
    extra = [command_row(i, command_type="stop_pump") for i in range(500, 560)]
    b = snapshot_from_table(cfg, "commands", table_of(ORIGINALS[20:500] + extra), lineage={})
    diff = diff_snapshots(a, b)
    assert sum(d["added"] for d in diff["rows"].values()) == 60
    assert sum(d["removed"] for d in diff["rows"].values()) == 20
    for split in SPLITS:
        assert diff["rows"][split]["b"] == b.table(split).num_rows
    added_labels = sum(d["labels"].get("stop_pump", 0) for d in diff["stats"].values())
    assert added_labels == 60
    assert not diff["preprocessing_changed"]


def test_a_table_missing_columns_is_refused(cfg: Settings) -> None:
    with pytest.raises(DatasetError, match="lacks columns: .*command_type"):
        snapshot_from_table(cfg, "commands", table_of(ORIGINALS).drop(["command_type"]),
                            lineage={})
