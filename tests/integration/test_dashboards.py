"""The Grafana dashboards are well-formed, and every ClickHouse query in them returns rows.

Each panel and annotation query is expanded the way the grafana-clickhouse-datasource
plugin expands its macros (``pkg/macros/macros.go``) and run against the chdb store of a
demo-sized run (the ``demo_run`` fixture), so a renamed column, a missing ``FINAL`` table
or an empty rollup shows up here instead of as an empty panel.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.paths import REPO

DASHBOARDS = REPO / "deploy" / "grafana" / "dashboards"
DATASOURCES = {"clickhouse": "grafana-clickhouse-datasource", "prometheus": "prometheus"}
INTERVAL_S = 3600
# Grafana's ClickHouse time-series format is 0 (long-to-wide by time), table is 1.
FORMATS = {"timeseries": 0, "table": 1}


def load() -> dict[str, dict[str, Any]]:
    """Dashboard file stem -> parsed JSON."""
    return {path.stem: json.loads(path.read_text()) for path in sorted(DASHBOARDS.glob("*.json"))}


def clickhouse_targets(dashboard: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(name, panel type or 'annotation', target) of every ClickHouse query."""
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            if target["datasource"]["uid"] == "clickhouse":
                yield f"{dashboard['uid']}/{panel['id']}/{target['refId']}", panel["type"], target
    for note in dashboard["annotations"]["list"]:
        if note["datasource"]["uid"] == "clickhouse":
            yield f"{dashboard['uid']}/annotation/{note['name']}", "annotation", note["target"]


def expand(sql: str, start: int, end: int, interval_s: int) -> str:
    """The SQL Grafana sends for a time range of unix seconds [start, end]."""
    sql = re.sub(r"\$__timeFilter\(([^)]+)\)",
                 lambda m: f"{m[1]} >= toDateTime({start}) AND {m[1]} <= toDateTime({end})", sql)
    sql = re.sub(r"\$__timeInterval\(([^)]+)\)",
                 lambda m: f"toStartOfInterval(toDateTime({m[1]}), INTERVAL {interval_s} second)",
                 sql)
    sql = re.sub(r"\$__fromTime\b", f"toDateTime({start})", sql)
    sql = re.sub(r"\$__toTime\b", f"toDateTime({end})", sql)
    return re.sub(r"\$__interval_s\b", str(interval_s), sql)


DASHBOARD_JSON = load()
QUERIES = {name: (kind, target) for dashboard in DASHBOARD_JSON.values()
           for name, kind, target in clickhouse_targets(dashboard)}


def test_every_dashboard_is_there() -> None:
    assert set(DASHBOARD_JSON) == {"pipeline", "data-quality", "models", "drift", "rollout",
                                   "resources"}
    uids = [d["uid"] for d in DASHBOARD_JSON.values()]
    titles = [d["title"] for d in DASHBOARD_JSON.values()]
    assert all(uids) and len(set(uids)) == len(uids)
    assert all(titles) and len(set(titles)) == len(titles)


@pytest.mark.parametrize("stem", sorted(DASHBOARD_JSON))
def test_dashboard_is_valid(stem: str) -> None:
    dashboard = DASHBOARD_JSON[stem]
    assert dashboard["schemaVersion"] == 39
    assert dashboard["time"] == {"from": "now-6h", "to": "now"}
    assert dashboard["refresh"] == "30s"
    panels = dashboard["panels"]
    assert panels
    ids = [p["id"] for p in panels]
    assert all(isinstance(i, int) for i in ids) and len(set(ids)) == len(ids)
    cells: set[tuple[int, int]] = set()
    for panel in panels:
        grid = panel["gridPos"]
        assert {"x", "y", "w", "h"} <= set(grid) and grid["w"] > 0 and grid["h"] > 0
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24, panel["title"]
        area = {(x, y) for x in range(grid["x"], grid["x"] + grid["w"])
                for y in range(grid["y"], grid["y"] + grid["h"])}
        assert not area & cells, f"{panel['title']} overlaps another panel"
        cells |= area
        source = panel["datasource"]
        assert DATASOURCES.get(source["uid"]) == source["type"], panel["title"]
        assert panel["title"] and panel["targets"]
        for target in panel["targets"]:
            assert target["datasource"] == source, panel["title"]
            if source["uid"] == "prometheus":
                assert target["expr"].strip()
            else:
                assert target["queryType"] == "sql" and target["rawSql"].strip()
                assert target["format"] == FORMATS[panel["type"]], panel["title"]
    for note in dashboard["annotations"]["list"]:
        if not note.get("builtIn"):
            assert DATASOURCES.get(note["datasource"]["uid"]) == note["datasource"]["type"]


def test_expand_matches_the_plugin() -> None:
    sql = ("SELECT $__timeInterval(t) AS time FROM x WHERE $__timeFilter(t) "
           "AND h >= $__fromTime AND h <= $__toTime AND $__interval_s > 0")
    assert expand(sql, 10, 20, 60) == (
        "SELECT toStartOfInterval(toDateTime(t), INTERVAL 60 second) AS time FROM x "
        "WHERE t >= toDateTime(10) AND t <= toDateTime(20) "
        "AND h >= toDateTime(10) AND h <= toDateTime(20) AND 60 > 0")


@pytest.fixture(scope="module")
def rows(demo_run: Any) -> dict[str, list[list[Any]]]:
    """Every ClickHouse query's rows for a range covering the demo's data (raw events are
    kept 30 days; the simulator stamps some events minutes ahead of the clock)."""
    now = int(time.time())
    statements = {
        # aggregates_hourly is filled by a refreshable materialized view (REFRESH EVERY
        # 1 MINUTE): refresh it now and wait for it so the rollup holds the whole demo run.
        # chdb runs both statements.
        "refresh rollup": f"SYSTEM REFRESH VIEW {demo_run.database}.aggregates_hourly_mv",
        "wait for rollup": f"SYSTEM WAIT VIEW {demo_run.database}.aggregates_hourly_mv",
    }
    for name, (_, target) in QUERIES.items():
        statements[name] = expand(target["rawSql"], now - 30 * 86400, now + 86400, INTERVAL_S)
    result: dict[str, list[list[Any]]] = demo_run.query(statements)
    return result


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_query_returns_rows(name: str, rows: dict[str, list[list[Any]]]) -> None:
    kind, target = QUERIES[name]
    assert "$" not in expand(target["rawSql"], 0, 1, INTERVAL_S), "unexpanded macro or variable"
    got = rows[name]
    assert got, f"{name} returned no rows:\n{target['rawSql']}"
    if kind == "timeseries":
        # The plugin turns long frames into series only when they are sorted by time.
        times = [row[0] for row in got]
        assert times == sorted(times), f"{name} is not ordered by its time column"
