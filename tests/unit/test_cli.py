"""The CLI: every command documented, user errors as one line and a non-zero exit."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import free_port

COMMANDS = ["produce", "worker", "simulate", "demo", "config", "schemas", "topics", "broker", "db",
            "dataset", "models", "train", "export", "evaluate", "trainer", "alerts", "review",
            "report"]


def run_cli(*args: str, cwd: Path,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("STREAMTUNE_")}
    return subprocess.run([sys.executable, "-m", "streamtune", *args], cwd=cwd, text=True,
                          capture_output=True, timeout=60, env={**base, **(env or {})})


def test_help_lists_every_command(tmp_path: Path) -> None:
    result = run_cli("--help", cwd=tmp_path)
    assert result.returncode == 0
    for command in COMMANDS:
        assert command in result.stdout
    for sub in (["topics", "create"], ["broker", "start"], ["db", "migrate"], ["produce"]):
        assert run_cli(*sub, "--help", cwd=tmp_path).returncode == 0


@pytest.mark.parametrize(("args", "env", "needle"), [
    (["topics", "list"], {"STREAMTUNE_KAFKA__DEV_BROKER_PORT": "PORT"}, "cannot reach Kafka"),
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
