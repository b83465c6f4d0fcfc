"""``streamtune trainer``: the process that turns alerts into new champions.

It reads two topics: ``alerts`` (drift, new patterns, regressions: retraining
triggers) and ``scored`` (every prediction with its version: the canary's and
the rollout's evidence, and the continuous evaluation's). One retraining
runs at a time, in a background thread, so the process keeps reading while
it trains; the stream itself runs in the workers and never waits for it.

A candidate passes the offline gate, then the canary (shadow scoring), then
serves 5 -> 25 -> 100 % of sessions, each step judged by
:class:`~streamtune.models.rollout.RolloutController`; it is promoted at the
end or rolled back at the first regression. Every decision is published to
the workers (``model-control``), stored (``loop_decisions`` through the store
outbox) and raised as an alert. State is saved, so a restarted trainer
resumes a rollout where it was.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from confluent_kafka import Producer

from streamtune.config import Settings, client_config
from streamtune.consumers import GroupConsumer
from streamtune.models.control import Serving, publish
from streamtune.models.loop.recent import KIND_OF, records_in
from streamtune.models.loop.retrain import DATASET_OF, Retrained, TooFewEvents, retrain
from streamtune.models.loop.triggers import Triggers
from streamtune.models.monitoring import (
    LiveAccuracy,
    ReviewSampler,
    Schedule,
    daily_suite,
    hourly_evaluation,
)
from streamtune.models.registry import Registry
from streamtune.models.rollout import Decision, RolloutController, RolloutError
from streamtune.models.training.stopping import StoppingProgress, TrainingStopped
from streamtune.schemas.alerts import Alert
from streamtune.schemas.predictions import PredictionRecord
from streamtune.schemas.topics import clean_topic, loop_topic
from streamtune.sinks.disk import write_json_atomic
from streamtune.sinks.outbox import StoreOutbox
from streamtune.sinks.rows import alert_row

log = logging.getLogger(__name__)

STATE_SAVE_S = 5.0
"""How often the trainer saves its state (and on close); scored records are re-read from
the last committed offsets after a crash anyway."""

BOOTSTRAP_CHECK_S = 2.0
"""How often a served model without a champion is looked for, and its clean topic counted
(it is trained once ``min_train_events`` arrived)."""

Report = Callable[[str, str], None]
"""Where the trainer tells what it does: (what, one line)."""


class Trainer:
    """Triggers -> retraining -> canary -> rollout -> champion, with continuous evaluation."""

    def __init__(self, settings: Settings, *, report: Report | None = None) -> None:
        self.settings = settings
        self.source = f"{settings.worker_id}-trainer"
        self.report = report or (lambda what, line: log.info("%s: %s", what, line))
        self.registry = Registry(settings)
        self.outbox = StoreOutbox(settings)
        self.models = [m for m in settings.scoring.models if m in DATASET_OF]
        self.triggers = Triggers(settings.loop, self.models)
        self.rollouts: dict[str, RolloutController] = {}
        self.live = LiveAccuracy()
        self.reviews = ReviewSampler(settings.loop.review_sample, model="intent_classifier")
        root = settings.data_dir / "loop"
        self.state_path = state_path(settings)
        self.schedule = Schedule.for_loop(root / "schedule.json", settings.loop)
        started = datetime.now(UTC)
        for job in self.schedule.intervals:  # a fresh trainer runs each job one interval on
            if job not in self.schedule.last:
                self.schedule.mark(job, started)
        self._load_state()
        prefix = settings.topics.prefix
        self.group = GroupConsumer({
            **client_config(settings), "group.id": f"{prefix}streamtune-trainer",
            "group.instance.id": self.source, "auto.offset.reset": "earliest",
            "enable.auto.commit": True, "session.timeout.ms": 10_000,
        }, [loop_topic("alerts", prefix), loop_topic("scored", prefix)],
            dev_broker=settings.kafka.embedded)
        self.producer = Producer({**client_config(settings), "enable.idempotence": True})
        self._alerts_topic = loop_topic("alerts", prefix)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="retrain")
        self._training: Future[list[Retrained | None]] | None = None
        self._bootstrap_checked = datetime.min.replace(tzinfo=UTC)
        self._told_waiting: set[str] = set()
        self._saved_at = 0.0
        self.stop_requested = threading.Event()
        self._progress = StoppingProgress(self.stop_requested)
        self._stopped: dict[str, list[str]] = {}
        """Retrainings a stop interrupted or cancelled before they began (model -> reasons):
        pending again, saved."""

    # -- the loop ------------------------------------------------------------------------

    def run(self) -> None:
        """Loop until :meth:`stop`."""
        try:
            while not self.stop_requested.is_set():
                self.step()
        finally:
            self.close()

    def step(self, timeout_s: float = 0.5) -> None:
        """Read what arrived, then act on it: finish/start trainings, judge rollouts."""
        now = datetime.now(UTC)
        for message in self.group.consume(2000, timeout_s):
            if message.error() is None and message.value():
                self._handle(message.topic() or "", message.value() or b"")
        self._finish_training()
        self.triggers.tick(now)
        self._bootstrap(now)
        self._start_training(now)
        for model, controller in list(self.rollouts.items()):
            decision = controller.decide(now)
            if decision is not None:
                self._apply(decision)
            if controller.finished:
                del self.rollouts[model]
        self._scheduled(now)
        if time.monotonic() - self._saved_at >= STATE_SAVE_S:
            self._save_state()

    def _handle(self, topic: str, raw: bytes) -> None:
        try:
            if topic == self._alerts_topic:
                alert = Alert.model_validate_json(raw)
                if alert.source != self.source and (trigger := self.triggers.add(alert)):
                    self.report("trigger", f"{trigger} from {alert.kind} alert: {alert.title}")
                return
            record = PredictionRecord.model_validate_json(raw)
        except ValueError as exc:
            log.warning("skipping a record the trainer cannot read: %s", exc)
            return
        controller = self.rollouts.get(record.model)
        if controller is not None:
            controller.observe(record)
        self.live.observe(record)
        self.reviews.observe(record)

    # -- training ------------------------------------------------------------------------

    def _bootstrap(self, now: datetime) -> None:
        """A served model without a champion is trained from the stream once its clean
        topic holds ``min_train_events`` (counted every ``BOOTSTRAP_CHECK_S``)."""
        if self._training is not None or \
                (now - self._bootstrap_checked).total_seconds() < BOOTSTRAP_CHECK_S:
            return
        self._bootstrap_checked = now
        needed = self.settings.loop.min_train_events
        for model in self.models:
            if model in self.triggers.pending or self.registry.alias(model, "champion"):
                continue
            dataset = DATASET_OF[model]
            topic = clean_topic(KIND_OF[dataset], self.settings.topics.prefix)  # type: ignore[index]
            count = records_in(self.group.consumer, topic)
            if count >= needed:
                self.triggers.pending[model] = ["bootstrap: no champion yet"]
            elif model not in self._told_waiting:
                self._told_waiting.add(model)
                self.report("training", f"{model} has no champion yet: it trains once "
                                        f"{needed} {dataset} events arrived ({count} so far)")

    def _start_training(self, now: datetime) -> None:
        if self._training is not None or self.rollouts:
            return  # one training at a time, and none while a candidate is judged
        wanted = self.triggers.take(now)
        if not wanted:
            return
        self.report("training", ", ".join(f"{m} ({'; '.join(r[:2])})" for m, r in wanted.items()))
        self._training = self._pool.submit(self._train_all, wanted)
        self._stopped = wanted  # until the training thread is through them (see close)

    def _train_all(self, wanted: dict[str, list[str]]) -> list[Retrained | None]:
        """Each model's retraining; None for one that waits for more events."""
        done: list[Retrained | None] = []
        for i, (model, reasons) in enumerate(wanted.items()):
            try:
                done.append(retrain(self.settings, model, reasons=reasons,
                                    progress=self._progress))
            except TrainingStopped:  # kept pending: trained again after a restart
                self.report("training", f"{model} stopped; it trains again at the next start")
                self._stopped = dict(list(wanted.items())[i:])
                break
            except TooFewEvents as exc:  # e.g. a bootstrap before the stream has begun
                self.report("training", f"{model} waits: {exc}")
                done.append(None)
            except Exception as exc:  # one failed retraining must not stop the loop
                log.exception("retraining %s failed", model)
                self.report("training", f"{model} failed: {exc}")
        else:
            self._stopped = {}
        return done

    def _finish_training(self) -> None:
        if self._training is None or not self._training.done():
            return
        training, self._training = self._training, None
        finished = [] if training.cancelled() else training.result()  # cancelled: a stop came
        for model, reasons in self._stopped.items():  # before the training thread began it
            self.triggers.pending.setdefault(model, reasons)
        self._stopped = {}
        if finished and all(result is None for result in finished):
            self.triggers.nothing_trained()
        for result in filter(None, finished):
            self.report("trained", f"{result.model} {result.candidate} on {result.snapshot} "
                                   f"in {result.seconds:.0f} s")
            self._apply(result.verdict)
            if result.verdict.decision == "advance":
                self.start_rollout(result.model, champion=result.champion,
                                   candidate=result.candidate)

    def start_rollout(self, model: str, *, champion: str, candidate: str) -> None:
        """Judge ``candidate`` live, from the canary on (workers were told to shadow it)."""
        self.rollouts[model] = RolloutController(model, champion=champion, candidate=candidate,
                                                 settings=self.settings.loop)

    # -- decisions -----------------------------------------------------------------------

    def _apply(self, decision: Decision) -> None:
        """Make a decision real: registry, workers, store, alert."""
        model, candidate = decision.model, decision.candidate
        if decision.decision == "promote":
            if decision.champion:  # a first version is champion from its registration
                self.registry.promote(model, candidate, reason=decision.reason[:500])
            self._serve(Serving(model, champion=candidate, reason="promoted"))
        elif decision.decision in ("rollback", "reject"):
            self.registry.clear_challenger(model, reason=decision.reason[:500])
            self._serve(Serving(model, champion=decision.champion, reason=decision.decision))
        elif decision.decision == "advance":
            self._serve(Serving(model, champion=decision.champion, candidate=candidate,
                                percent=decision.percent, reason=decision.stage))
        self.outbox.append("loop_decisions", decision.to_row())
        self.raise_alert(decision.to_alert(self.source))
        self.report(decision.decision, decision.reason)

    def _serve(self, serving: Serving) -> None:
        publish(self.settings, serving)

    def raise_alert(self, alert: Alert) -> None:
        """Send an alert of the trainer's own to the alerts topic and table."""
        self.producer.produce(self._alerts_topic, alert.model_dump_json().encode(),
                              key=str(alert.alert_id).encode())
        self.producer.flush(10.0)
        self.outbox.append("alerts", {**alert_row(alert), "raised_at":
                                      alert.raised_at.isoformat()})

    # -- continuous evaluation -----------------------------------------------------------

    def _scheduled(self, now: datetime) -> None:
        if self.schedule.due("hourly", now):
            self.evaluate_hourly(now)
            self.schedule.mark("hourly", now)
        if self.schedule.due("daily", now) and self._training is None:
            self._training = self._pool.submit(self._daily_suite, now)
            self.schedule.mark("daily", now)
        if self.schedule.due("weekly_review", now):
            if self.reviews.sample:
                self.export_review(now)
                self.reviews = ReviewSampler(self.settings.loop.review_sample,
                                             model="intent_classifier")
            self.schedule.mark("weekly_review", now)

    def evaluate_hourly(self, now: datetime) -> None:
        """Evaluate every champion on the last hour's labelled live events."""
        for model in self.models:
            champion = self.registry.alias(model, "champion")
            if champion is None:
                continue
            result = hourly_evaluation(self.live, model, champion.version, now=now,
                                       loop=self.settings.loop)
            for row in result.to_rows():
                self.outbox.append("evaluations", row)
            alert = result.to_alert(self.source)
            if alert is not None:
                self.raise_alert(alert)
                self.triggers.add(alert)

    def _daily_suite(self, now: datetime) -> list[Retrained | None]:
        """The full evaluation suite of every champion (in the training thread)."""
        for model in self.models:
            if self.registry.alias(model, "champion") is None:
                continue
            try:
                rows = daily_suite(self.settings, model, now=now)
            except Exception as exc:  # e.g. no snapshot yet: report, retry tomorrow
                self.report("evaluation", f"daily suite of {model} failed: {exc}")
                continue
            for row in rows:
                self.outbox.append("evaluations", row)
            failed = [r["metric"] for r in rows if not r["passed"]]
            self.report("evaluation", f"daily suite of {model}: {len(rows)} figures, "
                                      f"below threshold: {', '.join(failed) or 'none'}")
        return []

    def export_review(self, now: datetime) -> str:
        """Write the human-review sample; return its path."""
        sample_id = now.strftime("%Y%m%dT%H%M%S")
        path = self.settings.data_dir / "reviews" / f"review-{sample_id}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        count = self.reviews.export_sample(path, sample_id=sample_id)
        self.report("review", f"{count} events for human review in {path}")
        return str(path)

    # -- state -----------------------------------------------------------------------------

    def _save_state(self) -> None:
        state: dict[str, Any] = {
            "rollouts": {m: c.state() for m, c in self.rollouts.items()},
            "live": self.live.state(),
            "last_training": (self.triggers.last_training.isoformat()
                              if self.triggers.last_training else None),
            "pending": self.triggers.pending,
        }
        write_json_atomic(self.state_path, state)
        self._saved_at = time.monotonic()

    def _load_state(self) -> None:
        if not self.state_path.exists():
            return
        try:
            state = json.loads(self.state_path.read_text("utf-8"))
            self.rollouts = _rollouts(state)
            self.live = LiveAccuracy.restore(state["live"]) if "live" in state else self.live
            if state.get("last_training"):
                self.triggers.last_training = datetime.fromisoformat(state["last_training"])
            self.triggers.pending = state.get("pending", {})
        except (ValueError, KeyError, TypeError, RolloutError) as exc:
            log.warning("trainer state %s unreadable, starting fresh: %s", self.state_path, exc)

    def stop(self) -> None:
        self.stop_requested.set()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._finish_training()
        self._save_state()
        self.producer.flush(10.0)
        self.group.close()



def state_path(settings: Settings) -> Path:
    """Where the trainer saves its state (every ``STATE_SAVE_S`` and on close)."""
    return settings.data_dir / "loop" / "trainer.json"


def saved_rollouts(settings: Settings) -> dict[str, RolloutController]:
    """The rollouts in progress as the trainer last saved them (none without a state)."""
    path = state_path(settings)
    if not path.exists():
        return {}
    return _rollouts(json.loads(path.read_text("utf-8")))


def _rollouts(state: dict[str, Any]) -> dict[str, RolloutController]:
    return {m: RolloutController.from_state(s) for m, s in state.get("rollouts", {}).items()}
