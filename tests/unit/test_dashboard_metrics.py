"""Every metric a Prometheus panel of the Grafana dashboards reads is one a worker exports.

The worker's registry is ``PipelineMetrics().registry`` with the webhook metrics on it;
a counter ``x`` is scraped as ``x_total``, a histogram as ``x_bucket``/``x_sum``/``x_count``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from streamtune.sinks.metrics import PipelineMetrics
from streamtune.sinks.webhooks.metrics import WebhookMetrics

DASHBOARDS = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "dashboards"
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


def prometheus_exprs() -> dict[str, str]:
    """'dashboard/panel/refId' -> PromQL of every Prometheus target."""
    exprs = {}
    for path in sorted(DASHBOARDS.glob("*.json")):
        dashboard: dict[str, Any] = json.loads(path.read_text())
        for panel in dashboard["panels"]:
            for target in panel["targets"]:
                if target["datasource"]["uid"] == "prometheus":
                    exprs[f"{path.stem}/{panel['id']}/{target['refId']}"] = target["expr"]
    return exprs


EXPRS = prometheus_exprs()


@pytest.fixture(scope="module")
def exported() -> set[str]:
    metrics = PipelineMetrics()
    WebhookMetrics(metrics.registry)
    return exported_names(metrics.registry)


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
