"""Drift through the whole worker: a change in the stream -> one signed webhook per signal.

A real worker (dev broker, chdb) watches a simulated stream whose error rate and
execution times change at a known index; a real local HTTP server receives the
webhooks. The same stream without the change raises no drift alert. The same holds
with detection in a `streamtune detect` stage of its own, the worker then raising none.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from streamtune.config import Settings
from streamtune.prometheus import scrape_series
from streamtune.schemas.alerts import Alert
from streamtune.schemas.topics import loop_topic
from streamtune.simulator import Scenario
from streamtune.simulator.scenario import ErrorRateDrift, ExecutionTimeDrift
from streamtune.sinks.webhooks import verify
from streamtune.sinks.webhooks.signing import SIGNATURE_HEADER
from streamtune.streams.kafka.admin import create_topics, group_caught_up
from streamtune.streams.kafka.producer import EventProducer
from tests.support.drift import WATCHED, check_one_alert_per_signal
from tests.support.loop_models import simulated
from tests.support.webhook_receiver import Receiver
from tests.support.worker_harness import (
    DetectStage,
    Worker,
    caught_up,
    detect_caught_up,
    read_store,
    wait_for,
    worker_settings,
)

SECRET = "drift-hook-secret"  # noqa: S105 - a test key
EVENTS, CHANGE_AT = 6000, 3000


def _drift_alerts(process: Worker) -> float:
    return sum(value for name, value in scrape_series(process.metrics_port).items()
               if name.startswith("streamtune_alerts_total") and 'kind="drift"' in name)


@pytest.mark.parametrize(("changed", "in_stage"), [(True, False), (False, False), (True, True)],
                         ids=["drift", "stationary", "drift-detect-stage"])
def test_a_change_raises_one_signed_alert_per_signal_and_a_stationary_run_none(
        settings: Settings, tmp_path: Path, changed: bool, in_stage: bool) -> None:
    scenario = Scenario(error_rate=ErrorRateDrift(at=CHANGE_AT, to=0.35),
                        execution_time_shift=ExecutionTimeDrift(at=CHANGE_AT, factor=3.0)
                        ) if changed else None
    stream = simulated(31, EVENTS, scenario=scenario, hours_ago=1.0)
    index = {str(e.event_id): i for i, e in enumerate(stream)}
    with Receiver() as hook:
        wsettings = worker_settings(settings, tmp_path, batch_max_events=500, groups={
            "scoring": {"enabled": False}, "detection": {"stage": in_stage},
            "webhooks": {"endpoints": [{"url": hook.url(), "kinds": ["drift"]}],
                         "signing_secret": SECRET, "retry_initial_s": 0.1}})
        create_topics(wsettings)
        worker = Worker(wsettings, log=tmp_path / "worker.log").start()
        stage = DetectStage(wsettings, log=tmp_path / "detect.log").start() if in_stage else None
        processes = [worker] if stage is None else [worker, stage]
        try:
            with EventProducer.from_settings(wsettings) as producer:
                for first in range(0, EVENTS, 500):  # live traffic, not a backlog
                    for event in stream[first:first + 500]:
                        producer.send(event)
                    producer.flush()
                    wait_for(lambda: caught_up(wsettings) and (
                        stage is None or detect_caught_up(wsettings)), timeout=120,
                        what="a slice", worker=processes)
            alerts_group = f"{wsettings.topics.prefix}streamtune-alerts"
            wait_for(lambda: group_caught_up(wsettings, alerts_group, [
                loop_topic("alerts", wsettings.topics.prefix)]), timeout=60,
                what="the webhook thread reading every alert", worker=worker)
            wait_for(lambda: worker.metric("streamtune_webhook_pending") == 0, timeout=60,
                     what="every webhook delivered", worker=worker)
            # what Prometheus' StreamtuneNoDetectStage reads: a stage must run
            assert worker.metric("streamtune_detection_in_stage") == float(in_stage)
            if stage is not None:
                assert _drift_alerts(worker) == 0  # the worker no longer watches
                raised = _drift_alerts(stage)
                assert stage.terminate() == 0, stage.tail()
            assert worker.terminate() == 0
        finally:
            for process in processes:
                process.ensure_stopped()
    alerts = []
    for request in hook.received:
        assert verify(request.body, request.headers[SIGNATURE_HEADER], SECRET)
        alerts.append(Alert.model_validate_json(request.body))
    watched = [a for a in alerts if a.scope == "global" and a.signal in WATCHED]
    if not changed:
        assert watched == []
        return
    check_one_alert_per_signal({signal: [index[a.details["key"].rsplit("/", 1)[-1]]
                                         for a in watched if a.signal == signal]
                                for signal in WATCHED}, CHANGE_AT)
    if stage is not None:  # its alert rows reached the worker's store through the outbox
        stored = read_store(wsettings, {"drift": "SELECT count() FROM streamtune.alerts FINAL "
                                                 "WHERE kind = 'drift'"})["drift"][0][0]
        assert stored == raised >= len(watched), (stored, raised)
    for alert in watched:
        assert alert.details["direction"] == ("down" if alert.signal == "success" else "up")
