"""What the demo prints at the end: what landed in ClickHouse, and what the loop did."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from streamtune.demo.traffic import PLANTED_SECRET
from streamtune.schemas.topics import SOURCES
from streamtune.sinks.store import ClickHouseStore


def landed_summary(store: ClickHouseStore, console: Console) -> None:
    """Rows per table, dead letters by reason, the busiest windows, planted secrets."""
    rows = Table("table", "rows", title="what landed in ClickHouse")
    for table in (*SOURCES.values(), "dead_letters", "augmented", "augmentation_qc",
                  "aggregates"):
        rows.add_row(table, f"{store.count(table):,}")
    console.print(rows)
    dlq = Table("category", "count", "a reason", title="dead letters by reason")
    for category, count, reason in store.query_rows(
        f"SELECT category, count(), any(reason) FROM {store.table('dead_letters')} FINAL "  # noqa: S608
        "GROUP BY category ORDER BY count() DESC"
    ):
        dlq.add_row(category, str(count), reason[:70])
    console.print(dlq)
    windows = Table("window", "command type", "events", "success", "p50 s", "p95 s", "p99 s",
                    title="busiest window aggregates")
    for start, command_type, events, rate, p50, p95, p99 in store.query_rows(
        "SELECT window_start, command_type, events, success_rate, execution_time_p50, "  # noqa: S608
        f"execution_time_p95, execution_time_p99 FROM {store.table('aggregates')} FINAL "
        "WHERE source = 'commands' AND command_type != '' ORDER BY events DESC LIMIT 8"
    ):
        windows.add_row(f"{start:%H:%M}", command_type, str(events), f"{rate:.0%}",
                        f"{p50:.2f}", f"{p95:.2f}", f"{p99:.2f}")
    console.print(windows)
    leaks = store.query_rows(
        f"SELECT count() FROM {store.table('commands')} WHERE "  # noqa: S608
        "position(raw_input, {s:String}) > 0", {"s": PLANTED_SECRET})[0][0]
    console.print(f"planted secrets found in the store: {leaks} (redacted before storage)")


def loop_summary(store: ClickHouseStore, console: Console) -> None:
    """Alerts, the loop's decisions and live accuracy before, during and after the drift."""
    alerts = Table("kind", "severity", "count", "first", title="alerts")
    for kind, severity, count, title in store.query_rows(
        f"SELECT kind, severity, count(), argMin(title, raised_at) FROM "  # noqa: S608
        f"{store.table('alerts')} FINAL GROUP BY kind, severity ORDER BY min(raised_at)"
    ):
        alerts.add_row(kind, severity, str(count), title[:80])
    console.print(alerts)
    decisions = Table(title="loop decisions")
    for name in ("time", "model", "version", "stage", "decision"):
        decisions.add_column(name, no_wrap=True)
    decisions.add_column("why", no_wrap=True, overflow="ellipsis",  # what the others leave
                         max_width=max(console.width - 72, 20))
    for at, model, candidate, stage, decision, reason in store.query_rows(
        "SELECT time, model, candidate, stage, decision, reason FROM "  # noqa: S608
        f"{store.table('loop_decisions')} FINAL ORDER BY time"
    ):
        decisions.add_row(f"{at:%H:%M:%S}", model, candidate, stage, decision,
                          reason.split(": ", 1)[-1])
    console.print(decisions)
    accuracy = Table("phase", "version", "served events", "accuracy",
                     title="live intent accuracy (served predictions)")
    predictions = store.table("predictions")
    for phase, version, events, rate in store.query_rows(
        f"WITH (SELECT argMin(version, event_time) FROM {predictions} WHERE model = "  # noqa: S608
        "'intent_classifier' AND served) AS first, (SELECT minIf(event_time, command_type = "
        f"'isolate_segment') FROM {store.table('commands')}) AS onset "
        "SELECT multiIf(version != first, 'after', event_time < onset, 'before', 'during') "
        f"AS phase, version, count(), avg(correct) FROM {predictions} FINAL "
        "WHERE model = 'intent_classifier' AND served AND correct >= 0 "
        "GROUP BY phase, version ORDER BY min(event_time)"
    ):
        accuracy.add_row(phase, version, f"{events:,}", f"{rate:.3f}")
    console.print(accuracy)
