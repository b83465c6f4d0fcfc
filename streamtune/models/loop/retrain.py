"""One retraining: recent events -> snapshot -> fine-tune from the champion -> offline verdict.

Runs in the trainer's background thread. The candidate is registered as
challenger; :func:`retrain` then scores the champion on the *same* held-out
split and compares (the offline gate) before any live traffic sees it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from rich.progress import Progress

from streamtune.config import Settings
from streamtune.models.datasets import snapshot_from_table
from streamtune.models.loop.recent import read_recent
from streamtune.models.registry import Registry
from streamtune.models.rollout import Decision, offline_verdict
from streamtune.models.scoring import Scorer
from streamtune.models.training.run import split_rows, test_metrics, train_model

log = logging.getLogger(__name__)

DATASET_OF = {"intent_classifier": "commands", "command_predictor": "commands",
              "error_recovery": "errors"}
"""Models the loop retrains, and the dataset each learns from."""

METRIC_OF = {"intent_classifier": "command_type.accuracy",
             "command_predictor": "next_command.accuracy",
             "error_recovery": "recovery_action.accuracy"}
"""The held-out figure the offline gate compares."""


class TooFewEvents(ValueError):
    """Too few recent events to train on yet: the trainer waits for more, nothing failed."""


@dataclass(frozen=True)
class Retrained:
    """A finished retraining and its offline verdict."""

    model: str
    candidate: str
    champion: str
    snapshot: str
    verdict: Decision
    seconds: float


def retrain(settings: Settings, model: str, *, reasons: list[str],
            progress: Progress | None = None) -> Retrained:
    """Fine-tune ``model`` on recent events; return the candidate and its offline verdict.
    ``progress`` sees each training step (a ``StoppingProgress`` can end it)."""
    started = datetime.now(UTC)
    dataset = DATASET_OF[model]
    table, lineage = read_recent(settings, dataset, limit=settings.loop.recent_events)  # type: ignore[arg-type]
    if table.num_rows < settings.loop.min_train_events:
        raise TooFewEvents(f"{table.num_rows} recent {dataset} events, fewer than "
                           f"{settings.loop.min_train_events}")
    lineage["reasons"] = reasons
    snapshot = snapshot_from_table(settings, dataset, table, lineage=lineage)  # type: ignore[arg-type]
    registry = Registry(settings)
    champion = registry.alias(model, "champion")
    result = train_model(settings, model, dataset_id=snapshot.id, warm_start=True,
                         progress=progress)
    candidate = result.version
    metric = METRIC_OF[model]
    if champion is None:  # the first version became champion when it was registered
        verdict = Decision(model, candidate.version, "", "offline", "promote",
                           f"{candidate.version} is the first {model}: champion at once",
                           datetime.now(UTC), {"percent": 100.0})
    else:
        scorer = Scorer(champion.path)
        rows = split_rows(snapshot, scorer.task, "test")
        verdict = offline_verdict(model, result.metrics, test_metrics(scorer, rows),
                                  metric=metric, champion=champion.version,
                                  candidate=candidate.version, settings=settings.loop)
    seconds = (datetime.now(UTC) - started).total_seconds()
    log.info("retrained %s -> %s on %s (%d rows) in %.0f s: %s", model, candidate.version,
             snapshot.id, table.num_rows, seconds, verdict.reason)
    return Retrained(model, candidate.version, champion.version if champion else "",
                     snapshot.id, verdict, seconds)
