"""What a report says, read from ClickHouse: one query per figure, FINAL everywhere.

Every function takes the store and a :class:`Period` and returns plain values
(naive UTC datetimes, ints, floats), so plotting and rendering need no store.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from streamtune.reports.periods import Period, ReportError
from streamtune.schemas.topics import SOURCES
from streamtune.sinks.store import ClickHouseStore

EVENT_TABLES: tuple[str, ...] = tuple(SOURCES.values())
_BUCKET = {"minute": "toStartOfMinute", "hour": "toStartOfHour", "day": "toStartOfDay"}
_WINDOW = "{col} >= {{start:DateTime64(3, 'UTC')}} AND {col} < {{end:DateTime64(3, 'UTC')}}"


def _where(col: str) -> str:
    return _WINDOW.format(col=col)


@dataclass
class Headline:
    """The numbers at the top of a report, for one window."""

    events: int
    commands: int
    errors: int
    dead_letters: int
    alerts: int
    promotions: int
    rollbacks: int
    accuracy: dict[str, float | None]  # model -> served accuracy where the truth is known

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.commands if self.commands else None

    @property
    def dead_letter_share(self) -> float | None:
        """Dead letters over everything that arrived (stored events + dead letters)."""
        total = self.events + self.dead_letters
        return self.dead_letters / total if total else None


@dataclass
class ReportData:
    """Everything one report shows."""

    period: Period
    headline: Headline
    previous: Headline | None
    throughput: list[tuple[datetime, str, int]]  # bucket, source, events
    events_by_kind: dict[str, int]
    events_by_source: dict[str, int]
    commands_per_bucket: dict[datetime, int]
    errors_per_bucket: list[tuple[datetime, str, int]]  # bucket, error type, errors
    errors_by_type: dict[str, int]
    predictions: list[tuple[datetime, str, str, int, int, int]]  # bucket, model, version,
    # served, judged, correct
    alerts: list[tuple[Any, ...]] = field(default_factory=list)
    dead_letters: dict[str, int] = field(default_factory=dict)
    qc: list[tuple[Any, ...]] = field(default_factory=list)
    not_augmentable: list[tuple[Any, ...]] = field(default_factory=list)  # type, reason, events
    decisions: list[tuple[Any, ...]] = field(default_factory=list)


def _params(window: Period) -> dict[str, datetime]:
    return {"start": window.start, "end": window.end}


def _scalar(store: ClickHouseStore, sql: str, window: Period) -> int:
    return int(store.query_rows(sql, _params(window))[0][0])


def _events(store: ClickHouseStore, window: Period) -> list[tuple[str, datetime, str, int]]:
    """(kind, bucket, source, events) over every event table."""
    bucket = _BUCKET[window.bucket]
    parts = [f"SELECT '{t}' AS kind, {bucket}(event_time) AS b, source, count() AS n "  # noqa: S608
             f"FROM {store.table(t)} FINAL WHERE {_where('event_time')} GROUP BY b, source"
             for t in EVENT_TABLES]
    return [(k, b, s, int(n)) for k, b, s, n in store.query_rows(" UNION ALL ".join(parts),
                                                                 _params(window))]


def _accuracy(store: ClickHouseStore, window: Period,
              bucket: str | None) -> list[tuple[Any, ...]]:
    """(bucket?, model, version, served, judged, correct) of served predictions."""
    key = f"{_BUCKET[bucket]}(event_time) AS b, " if bucket else ""
    group = "b, " if bucket else ""
    return store.query_rows(
        f"SELECT {key}model, version, count(), countIf(correct >= 0), "  # noqa: S608
        f"sumIf(correct, correct >= 0) FROM {store.table('predictions')} FINAL "
        f"WHERE served AND {_where('event_time')} GROUP BY {group}model, version "
        f"ORDER BY {group}model, version", _params(window))


def headline(store: ClickHouseStore, window: Period,
             events: list[tuple[str, datetime, str, int]] | None = None) -> Headline:
    """The headline numbers of one window (``events``: its :func:`_events`, if read already)."""
    rows = _events(store, window) if events is None else events
    decisions = dict(store.query_rows(
        f"SELECT decision, count() FROM {store.table('loop_decisions')} FINAL "  # noqa: S608
        f"WHERE {_where('time')} GROUP BY decision", _params(window)))
    judged: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for model, _, _, seen, right in _accuracy(store, window, None):
        judged[model][0] += int(seen)
        judged[model][1] += int(right)
    return Headline(
        events=sum(n for *_, n in rows),
        commands=sum(n for kind, *_, n in rows if kind == "commands"),
        errors=sum(n for kind, *_, n in rows if kind == "errors"),
        dead_letters=_scalar(store, f"SELECT count() FROM {store.table('dead_letters')} "  # noqa: S608
                             f"FINAL WHERE {_where('failed_at')}", window),
        alerts=_scalar(store, f"SELECT count() FROM {store.table('alerts')} FINAL "  # noqa: S608
                       f"WHERE {_where('raised_at')}", window),
        promotions=int(decisions.get("promote", 0)),
        rollbacks=int(decisions.get("rollback", 0)),
        accuracy={m: (r / s if s else None) for m, (s, r) in sorted(judged.items())},
    )


TABLES = (*EVENT_TABLES, "predictions", "alerts", "loop_decisions", "dead_letters",
          "augmentation_qc")


def check_tables(store: ClickHouseStore) -> None:
    """A :class:`ReportError` naming the fix when the store was never migrated."""
    present = {name for (name,) in store.query_rows(
        "SELECT name FROM system.tables WHERE database = {db:String}", {"db": store.database})}
    missing = [t for t in TABLES if t not in present]
    if missing:
        names = ", ".join(missing[:3]) + (", ..." if len(missing) > 3 else "")
        raise ReportError(f"database {store.database} lacks the {names} table(s); "
                          "run the worker or `streamtune db migrate` first")


def _not_augmentable(store: ClickHouseStore, params: dict[str, datetime]
                     ) -> list[tuple[Any, ...]]:
    """Events no augmentation technique could augment: command type, reason, events."""
    if "not_augmentable" not in store.columns("augmentation_qc"):
        return []  # a store migrated before 0010
    return store.query_rows(
        "SELECT command_type, technique, sum(not_augmentable) "  # noqa: S608
        f"FROM {store.table('augmentation_qc')} FINAL WHERE {_where('recorded_at')} "
        "AND not_augmentable > 0 GROUP BY command_type, technique "
        "ORDER BY command_type, technique", params)


def collect(store: ClickHouseStore, period: Period, *, compare: bool) -> ReportData:
    """Read every figure of ``period`` (and the previous period's headline with ``compare``)."""
    params, bucket = _params(period), _BUCKET[period.bucket]
    events = _events(store, period)
    by_kind: dict[str, int] = defaultdict(int)
    by_source: dict[str, int] = defaultdict(int)
    throughput: dict[tuple[datetime, str], int] = defaultdict(int)
    commands: dict[datetime, int] = defaultdict(int)
    for kind, b, source, n in events:
        if kind == "commands":
            commands[b] += n
        by_kind[kind] += n
        by_source[source] += n
        throughput[b, source] += n
    errors = [(b, t, int(n)) for b, t, n in store.query_rows(
        f"SELECT {bucket}(event_time) AS b, error_type, count() "  # noqa: S608
        f"FROM {store.table('errors')} FINAL WHERE {_where('event_time')} "
        "GROUP BY b, error_type ORDER BY b, error_type", params)]
    by_type: dict[str, int] = defaultdict(int)
    for _, t, n in errors:
        by_type[t] += n
    return ReportData(
        period=period,
        headline=headline(store, period, events),
        previous=headline(store, period.previous()) if compare else None,
        throughput=sorted((b, s, n) for (b, s), n in throughput.items()),
        events_by_kind=dict(sorted(by_kind.items())),
        events_by_source=dict(sorted(by_source.items())),
        commands_per_bucket=dict(sorted(commands.items())),
        errors_per_bucket=errors,
        errors_by_type=dict(sorted(by_type.items())),
        predictions=[(b, m, v, int(s), int(j), int(r))
                     for b, m, v, s, j, r in _accuracy(store, period, period.bucket)],
        alerts=store.query_rows(
            "SELECT raised_at, kind, severity, signal, scope, model, version, title "  # noqa: S608
            f"FROM {store.table('alerts')} FINAL WHERE {_where('raised_at')} "
            "ORDER BY raised_at, alert_id", params),
        dead_letters={c: int(n) for c, n in store.query_rows(
            f"SELECT category, count() FROM {store.table('dead_letters')} FINAL "  # noqa: S608
            f"WHERE {_where('failed_at')} GROUP BY category ORDER BY category", params)},
        qc=store.query_rows(
            "SELECT technique, count(), sum(generated), sum(semantic_passed), "  # noqa: S608
            "sum(syntax_passed), sum(dry_run_passed), sum(accepted), countIf(batch_rejected) "
            f"FROM {store.table('augmentation_qc')} FINAL WHERE {_where('recorded_at')} "
            "AND generated > 0 GROUP BY technique ORDER BY technique", params),
        not_augmentable=_not_augmentable(store, params),
        decisions=store.query_rows(
            "SELECT time, model, candidate, stage, decision, reason "  # noqa: S608
            f"FROM {store.table('loop_decisions')} FINAL WHERE {_where('time')} "
            "ORDER BY time, decision_id", params),
    )

