"""The CLI: every command documented, user errors as one line and a non-zero exit; the
names `produce --file` suggests for misnamed fields, and its summary."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from streamtune.cli.pipeline import folds_replays
from streamtune.errors import InvalidEvent
from streamtune.schemas import EVENT_MODELS, decode_event
from streamtune.streams.kafka.sending import ALIASES, FileReport, alias_hints, decode_line
from tests.support.cli import run_cli
from tests.support.events import RECENT, payload
from tests.support.settings import free_port

COMMANDS = ["produce", "status", "worker", "augment", "simulate", "demo", "config", "schemas",
            "topics", "broker", "db", "dataset", "models", "train", "export", "evaluate",
            "trainer", "alerts", "review", "report"]


def test_help_lists_every_command(tmp_path: Path) -> None:
    result = run_cli("--help", cwd=tmp_path)
    assert result.returncode == 0
    for command in COMMANDS:
        assert command in result.stdout
    for sub in (["topics", "create"], ["broker", "start"], ["db", "migrate"], ["produce"]):
        assert run_cli(*sub, "--help", cwd=tmp_path).returncode == 0


@pytest.mark.parametrize(("args", "env", "needle"), [
    (["topics", "list"], {"STREAMTUNE_KAFKA__DEV_BROKER_PORT": "PORT"}, "cannot reach Kafka"),
    (["status"], {"STREAMTUNE_KAFKA__DEV_BROKER_PORT": "PORT"}, "cannot reach Kafka"),
    (["produce", "--file", "missing.jsonl"], {}, "no such file"),
    (["produce"], {}, "exactly one of"),
    (["config", "show"], {"STREAMTUNE_METRICS_PORT": "lots"}, "metrics_port"),
    (["db", "migrate"], {"STREAMTUNE_STORE__URL": "http://127.0.0.1:PORT"}, "cannot open"),
    (["review", "import", "missing.csv"], {}, "no such file"),
    (["demo", "--profile", "longest"], {}, "is not one of full, short"),
])
def test_user_errors_print_one_line_and_exit_non_zero(tmp_path: Path, args: list[str],
                                                      env: dict[str, str], needle: str) -> None:
    port = str(free_port())
    result = run_cli(*args, cwd=tmp_path, env={k: v.replace("PORT", port) for k, v in env.items()})
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and needle in lines[0]
    assert "Traceback" not in result.stderr


def test_config_show_masks_secrets(tmp_path: Path) -> None:
    result = run_cli("config", "show", cwd=tmp_path,
                     env={"STREAMTUNE_WEBHOOKS__SIGNING_SECRET": "s3cr3t-value"})
    assert result.returncode == 0
    assert "s3cr3t-value" not in result.stdout and "**********" in result.stdout


def renamed(event: dict[str, Any], meant: str, used: str) -> dict[str, Any]:
    """``event`` with its field ``meant`` sent as ``used``."""
    value = event[meant] if meant in event else str(uuid.uuid4())  # event_id has a default
    return {(used if k == meant else k): v for k, v in event.items() if k != meant} | {
        used: value}


CASES = [(kind, used, meant) for kind in EVENT_MODELS
         for used, meant in {**ALIASES[None], **ALIASES.get(kind, {})}.items()]


@pytest.mark.parametrize(("kind", "used", "meant"), CASES)
def test_each_alias_is_refused_named_and_right(kind: str, used: str, meant: str) -> None:
    """Sending ``used`` for ``meant`` fails, the hint names exactly that rename, and
    making it gives a valid event."""
    if used in EVENT_MODELS[kind].model_fields:
        pytest.skip(f"{used} is a field of {kind}")
    wrong = renamed(payload(kind), meant, used)
    if used == "type":  # the kind itself misnamed: its value still says which model
        assert wrong["type"] == kind
    refused = decode_line(json.dumps(wrong).encode())
    assert isinstance(refused, InvalidEvent)
    assert refused.reason.endswith(f'(did you mean "{meant}" instead of "{used}"?)')
    assert alias_hints(wrong) == [(used, meant)]
    assert decode_event(json.dumps(renamed(wrong, used, meant))).kind == kind


def test_alias_targets_are_fields_and_aliases_are_not() -> None:
    for kind, table in ALIASES.items():
        models = [EVENT_MODELS[kind]] if kind is not None else list(EVENT_MODELS.values())
        for used, meant in table.items():
            for model in models:
                assert meant in model.model_fields, (kind, meant)
                if kind is not None:
                    assert used not in model.model_fields, (kind, used)


def test_fields_of_the_kind_and_valid_version_1_times_get_no_hint() -> None:
    state = payload("error_state", message="valve bank at 80 %", severity_level="urgent")
    assert alias_hints(state) == []  # an error_state's message is its own field
    assert alias_hints(payload("error", message="x")) == []  # error_message is there
    version_1 = {k: v for k, v in payload("metric", schema_version=1).items()
                 if k not in ("event_time", "value")} | {"timestamp": RECENT.timestamp()}
    assert isinstance(decode_line(json.dumps(version_1).encode()), InvalidEvent)  # no value
    assert alias_hints(version_1) == []
    version_2 = {k: v for k, v in version_1.items() if k != "schema_version"}
    assert alias_hints(version_2) == [("timestamp", "event_time")]


def test_camel_case_and_unknown_kinds() -> None:
    camel = renamed(renamed(payload("command"), "session_id", "sessionId"), "command_type",
                    "commandType")
    assert alias_hints(camel) == [("sessionId", "session_id"), ("commandType", "command_type")]
    gossip = {"type": "gossip", "time": RECENT.isoformat(), "words": "hello"}
    assert alias_hints(gossip) == [("type", "kind"), ("time", "event_time")]
    not_json = decode_line(b"{not json")
    assert isinstance(not_json, InvalidEvent) and not_json.reason.startswith("event: not valid")


def test_file_summary_counts_and_names_the_first_rejected_lines() -> None:
    report = FileReport(Path("in.jsonl"), accepted=12)
    for line_no in (2, 3, 5, 8, 13, 21, 34):
        report.reject(line_no, f"reason {line_no}")
    assert report.summary() == [
        "in.jsonl: 12 lines accepted, 7 rejected",
        "in.jsonl:2: reason 2", "in.jsonl:3: reason 3", "in.jsonl:5: reason 5",
        "in.jsonl:8: reason 8", "in.jsonl:13: reason 13",
        "... and 2 more rejected lines",
    ]
    assert FileReport(Path("ok.jsonl"), accepted=1500).summary() == [
        "ok.jsonl: 1,500 lines accepted, 0 rejected"]


def test_a_huge_bad_file_keeps_few_reasons_and_counts_all() -> None:
    report = FileReport(Path("bad.jsonl"))
    for line_no in range(1, 100_001):
        report.reject(line_no, "bad")
    assert report.rejected == 100_000 and len(report.reasons) == 100
    assert report.summary()[-1] == "... and 99,995 more rejected lines"


@pytest.mark.parametrize(("engine", "final"), [
    ("ReplacingMergeTree", True), ("ReplicatedReplacingMergeTree", True),
    ("CollapsingMergeTree", True), ("MergeTree", False), ("ReplicatedMergeTree", False),
    ("SharedMergeTree", False)])
def test_db_tables_counts_with_final_only_where_the_engine_folds(engine: str,
                                                                 final: bool) -> None:
    assert folds_replays(engine) is final
