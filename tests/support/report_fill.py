"""Fill a store with a known, varied set of rows for report tests.

Rows lie in the day before ``end``, in the rest of its week, in the week
before that (for trends) and just outside (at ``end`` itself and after it,
which every report must leave out). Also runnable, to fill a chdb path from
a process of its own: ``python -m tests.support.report_fill DATA_DIR END_ISO``.
"""

from __future__ import annotations

import random
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from streamtune.sinks.store import ClickHouseStore

SCRIPT_TITLE = '<script>alert("pwned")</script> drift & co'
OUTSIDE_TITLE = "OUTSIDE-THE-PERIOD alert"
SOURCES = ("console", "api", "hmi_panel")
ERROR_TYPES = ("timeout", "conflict", "permission_denied")


def _offsets(end: datetime) -> list[timedelta]:
    """How long before ``end`` each group of rows lies (negative: after it)."""
    hours = [timedelta(minutes=20)] + [timedelta(hours=h, minutes=20)
                                       for h in (1, 2, 3, 5, 8, 13, 23)]
    days = [timedelta(days=d, hours=4) for d in (2, 3, 5)]
    previous = [timedelta(days=d, hours=2) for d in (8, 10)]
    outside = [timedelta(0), -timedelta(hours=2)]
    return hours + days + previous + outside


def fill(store: ClickHouseStore, end: datetime, *, seed: int = 7) -> None:
    """Insert commands, errors, other events, predictions and loop rows around ``end``."""
    rng = random.Random(seed)
    commands, errors, feedback, predictions = [], [], [], []
    for group, back in enumerate(_offsets(end)):
        at = end - back
        for i in range(rng.randint(20, 40)):
            when = at + timedelta(seconds=i)
            commands.append((uuid.uuid4(), when, SOURCES[i % 3], "start_pump"))
            for version, served in (("v1", i % 4 != 0), ("v2", i % 4 == 0)):
                correct = -1 if i % 5 == 0 else int(rng.random() < (0.7 if version == "v1"
                                                                    else 0.9))
                predictions.append((uuid.uuid4(), when, "command", "start_pump",
                                    "intent_classifier", version,
                                    "champion" if version == "v1" else "challenger", served,
                                    correct))
            predictions.append((uuid.uuid4(), when, "command", "start_pump", "intent_classifier",
                                "v9-shadow", "shadow", False, 1))  # never served: not in any figure
        for i in range(rng.randint(2, 12)):
            errors.append((uuid.uuid4(), at + timedelta(seconds=i), "hmi_panel",
                           ERROR_TYPES[(i + group) % 3]))
        feedback.append((uuid.uuid4(), at, "mobile_app"))
    store.insert("commands", commands, ["event_id", "event_time", "source", "raw_input"])
    store.insert("errors", errors, ["event_id", "event_time", "source", "error_type"])
    store.insert("feedback", feedback, ["event_id", "event_time", "source"])
    store.insert("predictions", predictions, ["event_id", "event_time", "kind", "command_type",
                                              "model", "version", "role", "served", "correct"])
    _fill_loop(store, end)


def _fill_loop(store: ClickHouseStore, end: datetime) -> None:
    """Alerts, decisions, dead letters and QC batches, a few inside and outside each period."""
    h = timedelta(hours=1)
    alerts = [
        (end - 2 * h, "drift", "warning", "confidence drift", "confidence", "global"),
        (end - 6 * h, "drift", "critical", SCRIPT_TITLE, "error", "error_type=timeout"),
        (end - 20 * h, "rollout", "info", "v2 advance", "advance", "intent_classifier"),
        (end - 3 * 24 * h, "drift", "warning", "week drift", "intent_correct", "global"),
        (end - 9 * 24 * h, "drift", "warning", "previous week drift", "error", "global"),
        (end + h, "drift", "critical", OUTSIDE_TITLE, "error", "global"),
    ]
    store.insert("alerts", [(uuid.uuid4(), *row) for row in alerts],
                 ["alert_id", "raised_at", "kind", "severity", "title", "signal", "scope"])
    decisions = [
        (end - 19 * h, "v2", "canary", "advance", "canary passed | p=0.01"),
        (end - 7 * h, "v2", "rollout_100", "promote", "v2 promoted"),
        (end - 4 * 24 * h, "v3", "evaluation", "rollback", "accuracy fell <b>below</b>"),
        (end - 8 * 24 * h, "v1", "offline", "promote", "first champion"),
        (end + 2 * h, "v4", "offline", "reject", "outside"),
    ]
    store.insert("loop_decisions",
                 [(uuid.uuid4().hex, t, "intent_classifier", c, s, d, r)
                  for t, c, s, d, r in decisions],
                 ["decision_id", "time", "model", "candidate", "stage", "decision", "reason"])
    letters = [(end - (i % 30 + 1) * h, ("json", "validation", "size")[i % 3]) for i in range(17)]
    letters += [(end - 10 * 24 * h, "json"), (end + h, "size")]
    store.insert("dead_letters", [(uuid.uuid4(), "eA==", "bad", cat, "raw.commands", 0, i, t)
                                  for i, (t, cat) in enumerate(letters)],
                 ["dead_letter_id", "raw_b64", "reason", "category", "topic", "partition",
                  "offset", "failed_at"])
    qc = [(f"b{i}", tech, 10 + i, 9, 8 + i % 2, 8, 7 + i % 3, i == 4, end - (i + 1) * 3 * h)
          for i, tech in enumerate(("synonym_replacement", "word_order_shuffle") * 3)]
    qc.append(("b-out", "synonym_replacement", 50, 0, 0, 0, 0, True, end + h))
    store.insert("augmentation_qc", qc, ["batch_id", "technique", "generated", "semantic_passed",
                                         "syntax_passed", "dry_run_passed", "accepted",
                                         "batch_rejected", "recorded_at"])


if __name__ == "__main__":
    from streamtune.sinks.migrations import migrate
    from tests.support.settings import make_settings

    cfg = make_settings(Path(sys.argv[1]))
    with ClickHouseStore.from_settings(cfg) as opened:
        migrate(opened)
        fill(opened, datetime.fromisoformat(sys.argv[2]).astimezone(UTC))
