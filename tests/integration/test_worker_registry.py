"""The worker, owner of the store, imports registry changes made by other processes."""

from __future__ import annotations

from pathlib import Path

from streamtune.config import Settings
from streamtune.models.registry import Registry
from tests.support.worker_harness import Worker, read_store, wait_for, worker_settings


def test_running_worker_imports_registrations_and_promotions_and_once_more_when_stopped(
        settings: Settings, tmp_path: Path) -> None:
    # imports every 4 s: the test waits for two, then stops the worker well before a third
    cfg = worker_settings(settings, tmp_path, outbox_import_s=4.0)
    onnx = tmp_path / "model.onnx"
    onnx.write_bytes(b"not really onnx, the registry only hashes it")
    registry = Registry(cfg)
    first = registry.register("intent_classifier", {"model.onnx": onnx},
                              dataset={"name": "commands", "id": "abc"},
                              hyperparameters={"learning_rate": 0.003},
                              metrics={"command_type.macro_f1": 0.99}, architecture={})
    worker = Worker(cfg, log=tmp_path / "worker.log").start()
    try:
        wait_for(lambda: "imported 1 model registry records" in worker.log.read_text(),
                 timeout=120, what="the first import", worker=worker)
        registry.promote("intent_classifier", first.version, reason="first")
        wait_for(lambda: worker.log.read_text().count("imported 1 model registry records") >= 2,
                 timeout=60, what="the promotion's import", worker=worker)
        # the periodic import just ran: only the one at shutdown can bring this in
        second = registry.register("intent_classifier", {"model.onnx": onnx},
                                   dataset={"name": "commands", "id": "def"},
                                   hyperparameters={}, metrics={}, architecture={})
        assert worker.terminate() == 0
    finally:
        worker.ensure_stopped()
    stored = read_store(cfg, {
        "versions": "SELECT name, version, sha256 FROM streamtune.model_versions FINAL",
        "events": "SELECT event, version FROM streamtune.model_events FINAL ORDER BY time",
    })
    assert sorted(stored["versions"]) == [["intent_classifier", first.version, first.sha256],
                                          ["intent_classifier", second.version, second.sha256]]
    assert stored["events"] == [["registered", first.version], ["promoted", first.version],
                                ["registered", second.version]]
