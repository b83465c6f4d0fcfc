"""Every metric a Prometheus panel of the Grafana dashboards reads is one a worker or a
stage beside it (augment, detect, second opinion) exports.

The worker's registry is ``PipelineMetrics().registry`` with the webhook metrics on it,
each stage's its metrics class's;
a counter ``x`` is scraped as ``x_total``, a histogram as ``x_bucket``/``x_sum``/``x_count``.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from streamtune.prometheus import PipelineMetrics
from streamtune.sinks.webhooks.metrics import WebhookMetrics
from streamtune.streams.augment.metrics import AugmentMetrics
from streamtune.streams.detect.metrics import DetectMetrics
from streamtune.streams.second_opinion.metrics import SecondOpinionMetrics
from tests.support.paths import REPO

DASHBOARDS = REPO / "deploy" / "grafana" / "dashboards"
SUFFIXES = {"counter": ("_total", "_created"), "gauge": ("",),
            "histogram": ("_bucket", "_sum", "_count", "_created"),
            "summary": ("", "_sum", "_count", "_created"), "info": ("_info",)}
KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left",
            "group_right", "bool", "offset"}


def exported_names(registry: CollectorRegistry) -> set[str]:
    """Every sample name the registry can expose, labelled children or not."""
    return {family.name + suffix for family in registry.collect()
            for suffix in SUFFIXES.get(family.type, ("",))}


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects."""
    expr = re.sub(r'"(?:\\.|[^"\\])*"', '""', expr)  # string literals
    expr = re.sub(r"\{[^}]*\}", "", expr)  # label matchers
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # range selectors
    expr = re.sub(r"\b\d[\w.]*", " ", expr)  # numbers and durations
    expr = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ",
                  expr)  # label lists
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", expr):
        is_call = expr[match.end():].lstrip().startswith("(")
        if not is_call and match[0] not in KEYWORDS:
            names.add(match[0])
    return names


def prometheus_exprs() -> tuple[dict[str, str], dict[str, str]]:
    """PromQL of every Prometheus target by 'dashboard/panel/refId' and by panel title
    (the first target)."""
    exprs: dict[str, str] = {}
    by_title: dict[str, str] = {}
    for path in sorted(DASHBOARDS.glob("*.json")):
        dashboard: dict[str, Any] = json.loads(path.read_text())
        for panel in dashboard["panels"]:
            for target in panel["targets"]:
                if target["datasource"]["uid"] == "prometheus":
                    exprs[f"{path.stem}/{panel['id']}/{target['refId']}"] = target["expr"]
                    by_title.setdefault(panel["title"], target["expr"])
    return exprs, by_title


EXPRS, BY_TITLE = prometheus_exprs()
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool is not installed "
                                    "(make system-deps installs it)")


def promtool(tmp_path: Path, *args: str, spec: dict[str, Any]) -> str:
    """Run promtool on ``spec`` written as a file (JSON is YAML); its output on success."""
    path = tmp_path / "spec.yml"
    path.write_text(json.dumps(spec))
    done = subprocess.run([str(PROMTOOL), *args, str(path)], capture_output=True, text=True,
                          timeout=30, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def exported() -> set[str]:
    metrics = PipelineMetrics()
    WebhookMetrics(metrics.registry)
    return exported_names(metrics.registry).union(*(
        exported_names(stage().registry)
        for stage in (AugmentMetrics, DetectMetrics, SecondOpinionMetrics)))


def test_metric_names_parses_promql() -> None:
    expr = ('sum by (le) (rate(a_bucket{x="rate(b)"}[5m])) / sum(b_total) '
            "and on (instance) c offset 5m")
    assert metric_names(expr) == {"a_bucket", "b_total", "c"}


def test_registry_names_include_sample_forms(exported: set[str]) -> None:
    assert {"streamtune_events_in_total", "streamtune_sink_write_seconds_bucket",
            "streamtune_consumer_lag", "streamtune_webhook_deliveries_total",
            "process_cpu_seconds_total"} <= exported
    assert "streamtune_events_in" not in exported


def test_dashboards_have_prometheus_panels() -> None:
    dashboards = {name.split("/")[0] for name in EXPRS}
    assert dashboards == {"pipeline", "data-quality", "models", "drift", "rollout",
                          "resources"}


@pytest.mark.parametrize("name", sorted(EXPRS))
def test_panel_reads_exported_metrics(name: str, exported: set[str]) -> None:
    used = metric_names(EXPRS[name])
    assert used, f"no metric found in {EXPRS[name]}"
    assert used <= exported, f"{name} reads unknown metrics {sorted(used - exported)}"


@needs_promtool
def test_promql_parses(tmp_path: Path) -> None:
    rules = [{"record": f"dashboard:expr{i}", "expr": expr}
             for i, expr in enumerate(EXPRS.values())]
    spec = {"groups": [{"name": "dashboards", "rules": rules}]}
    out = promtool(tmp_path, "check", "rules", spec=spec)
    assert f"SUCCESS: {len(rules)} rules found" in out


@needs_promtool
def test_live_accuracy_and_worker_panels_evaluate(tmp_path: Path) -> None:
    """3 right and 1 wrong answer a minute is 75 % accuracy; the worker panels keep the
    processes that export streamtune metrics and drop others scraped beside them."""
    series = [
        ('streamtune_live_correct_total{model="m",outcome="right",instance="w1"}', "0+3x30"),
        ('streamtune_live_correct_total{model="m",outcome="wrong",instance="w1"}', "0+1x30"),
        ('process_open_fds{instance="w1",job="streamtune"}', "7x30"),
        ('process_open_fds{instance="prom",job="prometheus"}', "9x30"),
        ('streamtune_consuming_paused{instance="w1",job="streamtune"}', "0x30"),
    ]
    checks = [
        (BY_TITLE["Live accuracy (served predictions)"], [{"labels": '{model="m"}',
                                                           "value": 0.75}]),
        (BY_TITLE["Worker open file descriptors"],
         [{"labels": 'process_open_fds{instance="w1",job="streamtune"}', "value": 7}]),
    ]
    spec = {"rule_files": [], "evaluation_interval": "1m", "tests": [{
        "interval": "1m",
        "input_series": [{"series": s, "values": v} for s, v in series],
        "promql_expr_test": [{"expr": expr, "eval_time": "20m", "exp_samples": samples}
                             for expr, samples in checks]}]}
    assert "SUCCESS" in promtool(tmp_path, "test", "rules", spec=spec)
