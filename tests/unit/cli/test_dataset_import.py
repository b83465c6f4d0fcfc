"""`dataset import`: a labelled file as a commands snapshot; `same_split`; train's warm start."""

from __future__ import annotations

import csv
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from streamtune.cli import app, learning
from streamtune.cli.dataset_import import text_cleaner
from streamtune.config import Settings
from streamtune.errors import DatasetError
from streamtune.models.datasets import (
    SPLITS,
    ImportColumns,
    Imported,
    Snapshot,
    import_commands,
    open_snapshot,
    same_split,
    trained_split_matches,
)
from streamtune.models.registry import Registry
from streamtune.models.training.run import train_model
from tests.support.settings import make_settings

WORDS = {"Play Music": ["play", "song", "music", "track"],
         "set-alarm": ["alarm", "wake", "clock", "ring"],
         "weather": ["weather", "rain", "sunny", "forecast"]}
IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]*$")


def labelled(per_label: int = 30) -> list[dict[str, Any]]:
    """Distinct texts, each label's built from its own words."""
    return [{"text": f"{words[i % 4]} {words[(i + 1) % 4]} number {i}", "label": label}
            for label, words in WORDS.items() for i in range(per_label)]


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def do_import(settings: Settings, path: Path, **columns: Any) -> Imported:
    return import_commands(settings, path, columns=ImportColumns(**columns),
                           clean=text_cleaner(settings))


def split_of_texts(snapshot: Snapshot) -> dict[str, str]:
    return {row["raw_input"]: split for split in SPLITS for row in snapshot.rows(split)}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "data")


def test_template_split_without_a_split_column_is_leakage_free_and_seeded(
        tmp_path: Path, settings: Settings) -> None:
    records = labelled() + [{"text": "Status please", "label": "weather"}] * 6
    path = write_jsonl(tmp_path / "texts.jsonl", records)
    snap = do_import(settings, path).snapshot
    assert open_snapshot(settings, "commands", snap.id).path == snap.path
    counts = {split: snap.table(split).num_rows for split in SPLITS}
    assert sum(counts.values()) == 96 and all(counts.values())
    templates = {split: set(snap.table(split).column("template").to_pylist())
                 for split in SPLITS}
    assert not templates["train"] & (templates["validation"] | templates["test"])
    assert not templates["validation"] & templates["test"]
    status = [r for s in SPLITS for r in snap.rows(s) if r["normalized_input"] == "status please"]
    assert len(status) == 6 and len({r["split"] for r in status}) == 1
    assert do_import(settings, path).snapshot.id == snap.id  # deterministic
    reseeded = make_settings(tmp_path / "other", datasets={"split_seed": 7})
    assert split_of_texts(do_import(reseeded, path).snapshot) != split_of_texts(snap)


def test_a_given_split_is_honoured_exactly(tmp_path: Path, settings: Settings) -> None:
    given = {"one": "train", "two": "val", "three": "DEV", "four": " valid ", "five": "Test",
             "six": "train"}
    records = [{"text": f"start {w}", "label": "start", "part": s} for w, s in given.items()]
    records += [{"text": "start two", "label": "start", "part": "train"}]  # same text, 2 splits
    snap = do_import(settings, write_jsonl(tmp_path / "d.jsonl", records), split="part").snapshot
    placed = sorted((r["raw_input"], split) for split in SPLITS for r in snap.rows(split))
    assert placed == sorted([("start one", "train"), ("start two", "validation"),
                             ("start three", "validation"), ("start four", "validation"),
                             ("start five", "test"), ("start six", "train"),
                             ("start two", "train")])
    params = snap.manifest["preprocessing_params"]
    assert params["split_unit"] == "the file's 'part' column, as given"


def test_labels_become_identifiers_and_the_manifest_keeps_the_originals(
        tmp_path: Path, settings: Settings) -> None:
    labels = ["Play Music", "set-alarm", "0", "Café", "weather", "  Spaced  "]
    records = [{"text": f"text {i} for {label}", "label": label}
               for label in labels for i in range(12)]
    result = do_import(settings, write_jsonl(tmp_path / "d.jsonl", records))
    expected = {"play_music": "Play Music", "set_alarm": "set-alarm", "label_0": "0",
                "cafe": "Café", "weather": "weather", "spaced": "Spaced"}
    assert result.label_map == expected
    types = {r["command_type"] for s in SPLITS for r in result.snapshot.rows(s)}
    assert types == set(expected) and all(IDENTIFIER.match(t) for t in types)
    assert result.snapshot.manifest["tracking"]["data_lineage"]["label_map"] == expected
    assert '"play_music": "Play Music"' in result.snapshot.card_path.read_text()


def test_planted_secret_is_redacted_and_counted(tmp_path: Path, settings: Settings) -> None:
    records = labelled(10) + [{"text": "login with password=hunter2", "label": "weather"}]
    result = do_import(settings, write_jsonl(tmp_path / "d.jsonl", records))
    rows = [r for s in SPLITS for r in result.snapshot.rows(s)]
    login = [r for r in rows if r["raw_input"].startswith("login")]
    assert login[0]["raw_input"] == "login with password=[REDACTED:password]"
    assert "hunter2" not in login[0]["normalized_input"]
    assert not [r for r in rows if "hunter2" in json.dumps(r, default=str)]
    assert result.redactions == {"password": 1}
    assert result.snapshot.manifest["quality_metrics"]["redactions"] == {"password": 1}
    for name in ("manifest.json", "CARD.md"):
        assert "hunter2" not in (result.snapshot.path / name).read_text()


def test_csv_and_parquet_give_the_jsonl_rows_and_times_become_utc(
        tmp_path: Path, settings: Settings) -> None:
    records = [{**r, "split": "train" if i % 3 else "test",
                "at": ["2026-03-01T10:00:00Z", "2026-03-01 12:30", "1767225600"][i % 3]}
               for i, r in enumerate(labelled(6))]
    write_jsonl(tmp_path / "d.jsonl", records)
    with (tmp_path / "d.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=["text", "label", "split", "at"])
        writer.writeheader()
        writer.writerows(records)
    pq.write_table(pa.Table.from_pylist(records), tmp_path / "d.parquet")
    seen = []
    for name in ("d.jsonl", "d.csv", "d.parquet"):
        snap = do_import(settings, tmp_path / name, split="split", time="at").snapshot
        seen.append(sorted((r["raw_input"], r["command_type"], s, r["event_time"])
                           for s in SPLITS for r in snap.rows(s)))
    assert seen[0] == seen[1] == seen[2] and len(seen[0]) == 18
    assert {row[3] for row in seen[0]} == {datetime(2026, 3, 1, 10, tzinfo=UTC),
                                           datetime(2026, 3, 1, 12, 30, tzinfo=UTC),
                                           datetime(2026, 1, 1, tzinfo=UTC)}


@pytest.mark.parametrize(("content", "columns", "needle"), [
    ('{"text": "a", "label": "x"}\n', {"label": "intent"},
     "d.jsonl has no column 'intent'; its columns: text, label"),
    ("", {}, "holds no records"),
    ("\n\n", {}, "holds no records"),
    ('{"text": "a", "label": "x"}\nnot json\n', {}, "d.jsonl line 2 is not JSON"),
    ('["a", "x"]\n', {}, "line 1 is not a JSON object"),
    ('{"text": "  ", "label": "x"}\n', {}, "record 1 has an empty 'text'"),
    ('{"text": "a"}\n{"text": "b", "label": "x"}\n', {}, "record 1 has an empty 'label'"),
    ('{"text": "a", "label": "x", "s": "train"}\n{"text": "b", "label": "y", "s": "test"}\n',
     {"split": "s"}, "no training rows for label 'y' (only in test)"),
    ('{"text": "a", "label": "x", "s": "train"}\n{"text": "b", "label": "y", "s": "val"}\n'
     '{"text": "c", "label": "y", "s": "test"}\n',
     {"split": "s"}, "no training rows for label 'y' (only in validation and test)"),
    ('{"text": "a", "label": "x", "s": "train"}\n{"text": "b", "label": "x", "s": "holdout"}\n'
     '{"text": "c", "label": "x", "s": null}\n',
     {"split": "s"}, "unknown values in split column 's': 'holdout', None"),
    ('{"text": "a", "label": "Play Music"}\n{"text": "b", "label": "play_music"}\n', {},
     "labels 'Play Music' and 'play_music' both become command type 'play_music'"),
    ('{"text": "a", "label": "x", "t": "yesterday"}\n', {"time": "t"},
     "record 1: cannot read 'yesterday' in 't' as a time"),
])
def test_bad_files_are_one_line_dataset_errors(tmp_path: Path, settings: Settings, content: str,
                                               columns: dict[str, str], needle: str) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DatasetError, match=re.escape(needle)) as caught:
        do_import(settings, path, **columns)
    assert "\n" not in str(caught.value)


def test_unreadable_files_and_formats(tmp_path: Path, settings: Settings) -> None:
    (tmp_path / "d.parquet").write_bytes(b"not parquet at all")
    (tmp_path / "d.csv").write_bytes(b"text,label\n\xff\xfe,x\n")
    (tmp_path / "d.xlsx").write_bytes(b"PK")
    (tmp_path / "head.csv").write_text("text,label\n")
    for name, needle in (("d.parquet", "cannot read"), ("d.csv", "cannot read"),
                         ("d.xlsx", "use a .jsonl, .csv or .parquet file"),
                         ("missing.jsonl", "no such file"), ("head.csv", "holds no records")):
        with pytest.raises(DatasetError, match=re.escape(needle)):
            do_import(settings, tmp_path / name)


def _split_file(tmp_path: Path, name: str, records: list[dict[str, Any]],
                moved: frozenset[int] = frozenset()) -> Path:
    """Every fifth record in test, moved ones in test as well."""
    return write_jsonl(tmp_path / name, [
        {**r, "s": "test" if i % 5 == 0 or i in moved else "train"}
        for i, r in enumerate(records)])


def test_same_split(tmp_path: Path, settings: Settings) -> None:
    records = labelled(10)
    base = do_import(settings, _split_file(tmp_path, "a.jsonl", records), split="s").snapshot
    grown = do_import(settings, _split_file(tmp_path, "b.jsonl", records + [
        {"text": "brand new words", "label": "weather"}]), split="s").snapshot
    moved = do_import(settings, _split_file(tmp_path, "c.jsonl", records, frozenset({1})),
                      split="s").snapshot
    other = do_import(settings, _split_file(tmp_path, "d.jsonl", [
        {"text": f"unrelated text {i}", "label": "x"} for i in range(10)]), split="s").snapshot
    relabelled = do_import(settings, write_jsonl(tmp_path / "e.jsonl", [
        {"text": records[1]["text"], "label": "other", "s": "test"},
        {"text": "something else", "label": "other", "s": "train"}]), split="s").snapshot
    assert same_split(base, base)
    assert same_split(base, grown) and same_split(grown, base)
    assert not same_split(base, moved) and not same_split(moved, base)
    assert same_split(base, other)  # nothing shared
    assert not same_split(base, relabelled)  # a training text of base is a test text there
    trained_on = {"name": "commands", "id": base.id}
    assert trained_split_matches(settings, trained_on, grown.id)
    assert not trained_split_matches(settings, trained_on, moved.id)
    assert not trained_split_matches(settings, {"name": "commands", "id": "0" * 16}, base.id)


def _quick(settings: Settings) -> Settings:
    intent = settings.training.intent_classifier.model_copy(update={"total_epochs": 3})
    training = settings.training.model_copy(update={"intent_classifier": intent})
    return settings.model_copy(update={"training": training})


def test_an_imported_snapshot_trains_the_intent_classifier(tmp_path: Path,
                                                          settings: Settings) -> None:
    settings = _quick(settings)
    imported = do_import(settings, write_jsonl(tmp_path / "d.jsonl", labelled(30)))
    result = train_model(settings, "intent_classifier", dataset_id=imported.snapshot.id)
    assert result.snapshot.id == imported.snapshot.id
    assert set(result.trained.labels["command_type"]) == {"play_music", "set_alarm", "weather"}
    assert result.metrics["test_examples"] == imported.snapshot.table("test").num_rows
    assert result.metrics["command_type.accuracy"] > 0.6  # chance is 1/3


def test_train_skips_the_warm_start_across_splits(tmp_path: Path, settings: Settings,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _quick(settings)
    monkeypatch.setattr(learning, "load_settings", lambda: settings)
    records = labelled(10)
    first = do_import(settings, _split_file(tmp_path, "a.jsonl", records), split="s").snapshot
    train_model(settings, "intent_classifier", dataset_id=first.id)
    moved = do_import(settings, _split_file(tmp_path, "b.jsonl", records, frozenset({1, 2})),
                      split="s").snapshot
    runner = CliRunner()
    train = ["train", "--model", "intent_classifier", "--dataset"]
    skipped = runner.invoke(app, [*train, moved.id])
    assert skipped.exit_code == 0, skipped.output
    assert "warm start skipped: the champion was trained on a different split" in skipped.output
    forced = runner.invoke(app, [*train, moved.id, "--warm-start"])
    assert forced.exit_code == 0 and "warm start skipped" not in forced.output
    same = runner.invoke(app, [*train, first.id])
    assert same.exit_code == 0 and "warm start skipped" not in same.output
    parents = {v.version: v.parent for v in Registry(settings).versions("intent_classifier")}
    assert parents == {"v1": None, "v2": None, "v3": "v1", "v4": "v1"}
