"""The model registry: versions on disk, model cards, aliases, promote/rollback, outbox."""

from __future__ import annotations

import hashlib
import json
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from streamtune.config import Settings
from streamtune.errors import ModelNotFound, RegistryError
from streamtune.models.registry import Registry
from tests.support.cli import run_cli
from tests.support.registry import NAME, fake_files, register
from tests.support.settings import free_port, make_settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "data")


@pytest.fixture
def registry(settings: Settings) -> Registry:
    return Registry(settings)


def outbox(registry: Registry) -> list[dict[str, Any]]:
    lines = registry.outbox_path.read_text().splitlines()
    return [json.loads(line) for line in lines]


def test_register_copies_files_hashes_and_writes_meta(registry: Registry,
                                                      settings: Settings, tmp_path: Path) -> None:
    v1 = register(registry, tmp_path, "a")
    assert v1.version == "v1"
    assert v1.path == settings.data_dir.resolve() / "models" / NAME / "v1"
    assert v1.sha256 == hashlib.sha256(b"onnx-bytes-a").hexdigest()
    assert v1.onnx_path.read_bytes() == b"onnx-bytes-a"
    assert json.loads(v1.file("labels.json").read_text()) == ["restart_device", "set_parameter"]
    assert sorted(p.name for p in v1.path.iterdir()) == [
        "MODEL_CARD.md", "labels.json", "meta.json", "model.onnx"]
    assert v1.created_at.tzinfo is not None and v1.created_at.microsecond % 1000 == 0
    assert registry.get(NAME, "v1") == v1
    assert [p.name for p in v1.path.parent.iterdir() if p.name.startswith(".staging")] == []
    (record,) = outbox(registry)
    assert record["event"] == "registered" and record["version"] == "v1"
    assert record["model"]["sha256"] == v1.sha256 and record["model"]["path"] == str(v1.path)


def test_model_card_covers_architecture_parameters_metrics_and_usage(
        registry: Registry, tmp_path: Path) -> None:
    card = register(registry, tmp_path, "a").card_path.read_text()
    for heading in ("## Architecture", "## Training parameters", "## Performance metrics",
                    "## Usage"):
        assert heading in card
    assert "| embedding_dim | 64 |" in card and "| hidden | `[128]` |" in card
    assert "| learning_rate | 0.001 |" in card and "commands-2026-01" in card
    assert "| macro_f1 | 0.9125 |" in card
    assert "Feed hashed token ids" in card
    assert "ort.InferenceSession" in card and "streamtune models promote intent_classifier v1" \
        in card


def test_versions_are_sequential_per_name_and_survive_concurrent_registration(
        registry: Registry, tmp_path: Path) -> None:
    with ThreadPoolExecutor(4) as pool:
        made = list(pool.map(lambda i: register(registry, tmp_path, f"t{i}"), range(8)))
    assert sorted(m.version for m in made) == sorted(f"v{i}" for i in range(1, 9))
    listed = registry.versions(NAME)
    assert [m.version for m in listed] == [f"v{i}" for i in range(1, 9)]
    assert {m.sha256 for m in listed} == {m.sha256 for m in made}
    other = registry.register("error_recovery", fake_files(tmp_path / "e", "e"), dataset={},
                              hyperparameters={}, metrics={}, architecture={})
    assert other.version == "v1"
    assert [m.name for m in registry.versions()] == ["error_recovery"] + [NAME] * 8


def test_promote_and_rollback_round_trip(registry: Registry, tmp_path: Path) -> None:
    v1, v2 = register(registry, tmp_path, "a"), register(registry, tmp_path, "b", parent="v1")
    assert registry.alias(NAME, "champion") is None
    registry.set_challenger(NAME, "v2")
    assert registry.alias(NAME, "challenger") == v2
    assert registry.promote(NAME, "v1", reason="first") == v1
    assert registry.promote(NAME, "v2", reason="better f1") == v2
    assert registry.alias(NAME, "champion") == v2
    assert registry.alias(NAME, "challenger") is None  # promoted, so no longer challenging
    assert registry.rollback(NAME, reason="canary regressed") == v1
    assert registry.alias(NAME, "champion") == v1 and registry.get(NAME, "champion") == v1
    assert [(h["event"], h["version"], h["previous"], h["reason"])
            for h in registry.history(NAME)] == [
        ("challenger", "v2", None, ""),
        ("promoted", "v1", None, "first"),
        ("promoted", "v2", "v1", "better f1"),
        ("rolled_back", "v1", "v2", "canary regressed"),
    ]
    with pytest.raises(RegistryError, match="no earlier champion"):
        registry.rollback(NAME)  # v1 replaced nothing
    assert registry.promote(NAME, "v2") == v2 and registry.rollback(NAME) == v1
    events = [(r["event"], r["version"]) for r in outbox(registry)]
    assert events == [("registered", "v1"), ("registered", "v2"), ("challenger", "v2"),
                      ("promoted", "v1"), ("promoted", "v2"), ("rolled_back", "v1"),
                      ("promoted", "v2"), ("rolled_back", "v1")]
    assert len({r["record_id"] for r in outbox(registry)}) == len(events)
    history_ids = [h["record_id"] for h in registry.history(NAME)]
    assert history_ids == [r["record_id"] for r in outbox(registry)][2:]
    assert register(registry, tmp_path, "c", parent="champion").parent == "v1"


def test_aliases_file_is_plain_json(registry: Registry, tmp_path: Path) -> None:
    register(registry, tmp_path, "a")
    register(registry, tmp_path, "b")
    registry.promote(NAME, "v1")
    registry.promote(NAME, "v2")
    saved = json.loads((registry.root / NAME / "aliases.json").read_text())
    assert saved["champion"] == "v2" and saved["earlier"] == ["v1"]
    assert not list((registry.root / NAME).glob(".aliases.json.*"))


def test_errors_name_the_problem(registry: Registry, tmp_path: Path) -> None:
    files = fake_files(tmp_path / "src", "x")
    common: dict[str, Any] = {"dataset": {}, "hyperparameters": {}, "metrics": {},
                              "architecture": {}}
    with pytest.raises(RegistryError, match="needs model.onnx"):
        registry.register(NAME, {"labels.json": files["labels.json"]}, **common)
    with pytest.raises(RegistryError, match="no such file"):
        registry.register(NAME, {"model.onnx": tmp_path / "missing.onnx"}, **common)
    with pytest.raises(RegistryError, match="bad model name"):
        registry.register("Intent-Classifier", files, **common)
    with pytest.raises(RegistryError, match="bad file name"):
        registry.register(NAME, {**files, "../escape": files["labels.json"]}, **common)
    with pytest.raises(RegistryError, match="JSON-serialisable"):
        registry.register(NAME, files, **{**common, "hyperparameters": {"x": object()}})
    with pytest.raises(RegistryError, match="metrics must be numbers"):
        registry.register(NAME, files, **{**common, "metrics": {"f1": "high"}})
    assert registry.versions(NAME) == []  # nothing half-made by the failures above
    with pytest.raises(ModelNotFound, match="no model named"):
        registry.rollback(NAME)
    v1 = registry.register(NAME, files, **common)
    with pytest.raises(ModelNotFound, match=r"no model intent_classifier v7 \(versions: v1\)"):
        registry.get(NAME, "v7")
    with pytest.raises(ModelNotFound):
        registry.promote(NAME, "v7")
    with pytest.raises(ModelNotFound, match="has no champion"):
        registry.get(NAME, "champion")
    with pytest.raises(ModelNotFound, match="no file"):
        v1.file("weights.pt")
    with pytest.raises(ModelNotFound):
        registry.register(NAME, files, parent="v9", **common)
    registry.promote(NAME, "v1")
    with pytest.raises(RegistryError, match="champion already"):
        registry.promote(NAME, "v1")
    with pytest.raises(RegistryError, match="champion already"):
        registry.set_challenger(NAME, "v1")
    assert [h["event"] for h in registry.history(NAME)] == ["promoted"]


def test_cli_lists_shows_promotes_and_rolls_back(registry: Registry, settings: Settings,
                                                 tmp_path: Path) -> None:
    register(registry, tmp_path, "a")
    register(registry, tmp_path, "b", parent="v1")
    env = {"STREAMTUNE_DATA_DIR": str(settings.data_dir), "COLUMNS": "200",
           "STREAMTUNE_KAFKA__DEV_BROKER_PORT": str(free_port())}  # no broker: workers not told

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return run_cli("models", *args, cwd=tmp_path, env=env)

    first = cli("promote", NAME, "v1").stdout.splitlines()
    assert first[0] == f"{NAME} champion: v1 (was none)" and "Kafka unreachable" in first[1]
    promoted = cli("promote", NAME, "v2", "--reason", "better f1")
    assert promoted.returncode == 0 and "champion: v2 (was v1)" in promoted.stdout
    listed = cli("list").stdout
    rows = [line for line in listed.splitlines() if NAME in line]
    assert len(rows) == 2 and "champion" in rows[1] and "champion" not in rows[0]
    assert "accuracy=0.93" in rows[0] and "commands-2026-01" in rows[0]
    rolled = cli("rollback", NAME, "--reason", "canary regressed")
    assert "champion: v1 (rolled back from v2)" in rolled.stdout
    shown = cli("show", NAME)  # the champion by default
    assert shown.returncode == 0 and '"version": "v1"' in shown.stdout
    assert f"model card: {registry.get(NAME, 'v1').card_path}" in shown.stdout.replace("\n", "")
    assert registry.history(NAME)[-1]["reason"] == "canary regressed"
    for args, needle in ((["rollback", NAME], "no earlier champion"),
                         (["show", NAME, "v9"], "no model intent_classifier v9"),
                         (["list", "command_predictor"], "no model named command_predictor"),
                         (["promote", NAME, "v1"], "champion already")):
        failed = cli(*args)
        assert failed.returncode == 1 and failed.stderr.strip() == f"error: {failed.stderr[7:]}"\
            .strip() and needle in failed.stderr and len(failed.stderr.splitlines()) == 1
