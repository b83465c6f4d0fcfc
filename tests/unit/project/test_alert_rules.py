"""The Prometheus config and alert rules: promtool accepts them, the rules' own unit tests
pass, and every metric a rule reads is one a worker exports."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry

from streamtune.prometheus import PipelineMetrics
from streamtune.sinks.webhooks.metrics import WebhookMetrics
from tests.support.paths import REPO

ROOT = REPO
PROMETHEUS = ROOT / "deploy" / "prometheus"
RULES: list[dict[str, Any]] = [
    rule for group in yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())["groups"]
    for rule in group["rules"]]
ANCHORS = {"scaling-workers", "retention", "backpressure", "models-by-hand", "alerts"}
PROMQL_WORDS = {
    "sum", "max", "min", "avg", "count", "rate", "increase", "delta", "deriv",
    "histogram_quantile", "absent", "and", "or", "unless", "bool", "max_over_time",
    "min_over_time", "avg_over_time",
}


def promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("promtool")
    if binary is None:
        pytest.fail("promtool is missing: run `make system-deps` (Debian package prometheus)")
    return subprocess.run([binary, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=60)


def metric_names(expr: str) -> set[str]:
    """Metric names a PromQL expression reads (labels, ranges and functions taken out)."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)
    expr = re.sub(r"\{[^}]*\}|\[[^\]]*\]", "", expr)
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    expr = re.sub(r"\boffset\s+\w+", "", expr)
    return set(re.findall(r"(?<![\w.])[A-Za-z_:][\w:]*", expr)) - PROMQL_WORDS


def exported_names() -> set[str]:
    """Every sample name a worker's registry can expose, plus Prometheus' own ``up``."""
    registry = CollectorRegistry()
    PipelineMetrics(registry)
    WebhookMetrics(registry)
    suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_count", "_sum"]}
    names = {"up"}
    for family in registry.collect():
        names.add(family.name)
        names.update(family.name + s for s in suffixes.get(family.type, []))
        names.update(sample.name for sample in family.samples)
    return names


def test_promtool_accepts_the_rules() -> None:
    result = promtool("check", "rules", "alerts.yml", cwd=PROMETHEUS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(RULES)} rules found" in result.stdout


def test_promtool_accepts_the_config(tmp_path: Path) -> None:
    """The config names rule files by container path; check a copy that names the host files."""
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    config["rule_files"] = [str(PROMETHEUS / Path(p).name) for p in config["rule_files"]]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    result = promtool("check", "config", "prometheus.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr
    assert f"SUCCESS: {len(RULES)} rules found" in result.stdout


def test_rule_unit_tests_pass() -> None:
    result = promtool("test", "rules", "alerts_test.yml", cwd=PROMETHEUS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_is_tested_firing() -> None:
    tests = yaml.safe_load((PROMETHEUS / "alerts_test.yml").read_text())["tests"]
    fired = {case["alertname"] for test in tests for case in test["alert_rule_test"]
             if case["exp_alerts"]}
    assert fired == {rule["alert"] for rule in RULES}


def test_every_alert_has_severity_summary_and_runbook() -> None:
    for rule in RULES:
        assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
        page, anchor = rule["annotations"]["runbook"].split("#")
        assert page == "docs/operations.md" and anchor in ANCHORS, rule["alert"]


def test_metric_names_finder() -> None:
    expr = ('sum by (topic) (rate(streamtune_dead_letters_total{topic=~"raw\\\\.x"}[10m]))'
            " / on (topic) sum(rate(streamtune_events_in_total[10m] offset 1h)) > 0.05"
            " and up == 0")
    assert metric_names(expr) == {"streamtune_dead_letters_total",
                                  "streamtune_events_in_total", "up"}


def test_rules_read_only_metrics_the_worker_exports() -> None:
    exported = exported_names()
    assert {"process_resident_memory_bytes", "streamtune_batch_seconds_bucket",
            "streamtune_webhook_deliveries_total"} <= exported
    for rule in RULES:
        used = metric_names(rule["expr"])
        assert used, rule["alert"]
        assert used <= exported, f"{rule['alert']} reads unknown {sorted(used - exported)}"
