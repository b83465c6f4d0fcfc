"""Train the classifiers from snapshots of a real chdb store, export to ONNX, register,
warm-start (the parameter extractor and the `train`/`export` commands:
``test_learning_tagger_cli.py``, on a lab of their own)."""

from __future__ import annotations

import json
import shutil
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import orjson
import pytest
import torch
from confluent_kafka import Producer

from streamtune.config import Settings, client_config
from streamtune.models.datasets import build_snapshot
from streamtune.models.encoder import SentenceEncoder
from streamtune.models.export import PARITY_SHAPES, PARITY_TOLERANCE
from streamtune.models.registry import Registry
from streamtune.models.scoring import Scorer
from streamtune.models.training.run import split_rows, train_model
from streamtune.models.training.second_opinion import OPINION_FILE, SecondOpinion
from streamtune.models.training.trainer import Checkpoint, restore
from streamtune.schemas.events import CorrectionEvent, FeedbackEvent
from streamtune.schemas.predictions import PredictionRecord
from streamtune.schemas.topics import clean_topic, loop_topic
from streamtune.simulator import Scenario, Simulator
from streamtune.simulator.scenario import NewCommandTypeDrift
from streamtune.sinks.outbox import StoreOutbox
from streamtune.sinks.stage_sink import stage_sink
from streamtune.sinks.store import ClickHouseStore
from streamtune.streams.detect.stage import served_intent
from streamtune.streams.kafka.admin import create_topics, group_caught_up
from streamtune.streams.kafka.dev_broker import DevBroker
from streamtune.streams.second_opinion.stage import SecondOpinionStage, second_opinion_group
from streamtune.streams.stage_progress import counter_total
from tests.support.datasets_fill import fill
from tests.support.lab import Lab
from tests.support.worker_harness import (
    SecondOpinionProcess,
    Worker,
    caught_up,
    read_store,
    read_topic,
    send_events,
    wait_for,
    worker_settings,
)

NEW_TYPE = "isolate_segment"
MODEL = "intent_classifier"


def _majority_share(labels: list[str]) -> float:
    return Counter(labels).most_common(1)[0][1] / len(labels)


def test_intent_classifier_is_accurate_exported_and_registered_as_first_champion(
        lab: Lab) -> None:
    result = train_model(lab.settings, "intent_classifier")
    assert result.metrics["command_type.macro_f1"] >= 0.97
    assert 0.9 < result.metrics["baseline.macro_f1"] <= 1.0  # TF-IDF + LR on the same split
    assert 0.9 < result.metrics["teacher.macro_f1"] <= 1.0  # MiniLM + TF-IDF, distilled
    assert 0.9 < result.metrics["second_opinion.macro_f1"] <= 1.0  # stored answers
    assert 0.0 < result.metrics["second_opinion.asked"] < 0.5
    assert result.parity <= PARITY_TOLERANCE
    registry = Registry(lab.settings)
    champion = registry.alias("intent_classifier", "champion")
    assert champion is not None and champion.version == result.version.version
    assert champion.dataset == {"name": "commands", "id": result.snapshot.id}
    assert [s["stage"] for s in champion.hyperparameters["stages"]] == [
        "base_model_adaptation", "intent_specialization", "context_integration"]
    assert 0.0 <= champion.hyperparameters["teacher"]["lexical_weight"] <= 1.0
    usage = result.snapshot.tracking()["usage_statistics"]
    assert any(u["model"] == "intent_classifier" for u in usage)

    scorer = Scorer(champion.path)
    test_rows = [r for r in split_rows(result.snapshot, scorer.task, "test")
                 if not r["synthetic"]]
    predicted = [p["command_type"].label for p in scorer.predict(test_rows)]
    hits = sum(p == r["command_type"] for p, r in zip(predicted, test_rows, strict=True))
    assert hits / len(test_rows) >= 0.97


def test_the_teacher_answers_again_where_the_served_answer_was_unsure(
        lab: Lab, broker: DevBroker, unique: str) -> None:
    registry = Registry(lab.settings)
    if registry.alias(MODEL, "champion") is None:
        train_model(lab.settings, MODEL)
    champion = registry.alias(MODEL, "champion")
    assert champion is not None and champion.file(OPINION_FILE).is_file()
    opinion = SecondOpinion.load(champion.path, encoder=SentenceEncoder())
    assert opinion is not None and 0.0 < opinion.unsure_below < 1.0
    settings = lab.settings.model_copy(update={
        "kafka": lab.settings.kafka.model_copy(update={"dev_broker_port": broker.port}),
        "topics": lab.settings.topics.model_copy(update={"prefix": f"t{unique}."})})
    create_topics(settings)
    texts = [t for (t,) in lab.store.query_rows(
        f"SELECT DISTINCT normalized_input FROM {lab.store.table('commands')} LIMIT 24")]
    low, high = opinion.unsure_below / 2, (1 + opinion.unsure_below) / 2
    records = [_scored(text, champion.version, low if i % 2 else high)
               for i, text in enumerate(texts)]
    asked = [r for r in records if r.confidence == low]
    left_out = [_scored(texts[0], champion.version, low, served=False),  # a shadow answer
                _scored(texts[1], "v999", low),  # a version the registry does not have
                _scored(texts[2], champion.version, low, model="error_recovery"),
                asked[0].model_copy(update={  # re-emitted: feedback said what was meant
                    "truth": "stop_device", "correct": 0, "replaces": 1}),
                asked[1].model_copy(update={  # re-emitted, its first truth unknown
                    "truth": "stop_device", "correct": 0, "replaces": -1, "reemitted": True})]
    _send(settings, [r.model_dump_json().encode() for r in records + left_out] + [b"{oops"])

    stage = _second_opinions(settings, len(records) + len(left_out) + 1)
    rows = lab.store.query_rows(
        f"SELECT event_id, label, out_of_scope, agrees, student_confidence "
        f"FROM {lab.store.table('second_opinions')} FINAL ORDER BY event_id")
    answers = {r.event_id: a for r, a in zip(asked, opinion.answer([r.input for r in asked]),
                                             strict=True)}
    assert len(asked) >= 10
    assert sorted((str(e), label, flag) for e, label, flag, _, _ in rows) == sorted(
        (e, a.label, a.out_of_scope) for e, a in answers.items())
    assert all(agrees == (label == "restart_device") for _, label, _, agrees, _ in rows)
    assert {round(c, 4) for *_, c in rows} == {round(low, 4)}
    figures = stage.metrics.registry.get_sample_value
    assert figures("streamtune_second_opinion_asked_total") == len(asked)
    assert figures("streamtune_second_opinion_disagreed_total") == sum(
        not agrees for *_, agrees, _ in rows)
    assert figures("streamtune_second_opinion_undecodable_total") == 1  # b"{oops"

    _send(settings, [r.model_dump_json().encode() for r in asked])  # a replay: rows fold
    _second_opinions(settings, len(asked))
    [(count,)] = lab.store.query_rows(
        f"SELECT count() FROM {lab.store.table('second_opinions')} FINAL")
    assert count == len(asked)


def test_a_worker_and_a_second_opinion_stage_answer_every_unsure_event_once(
        lab: Lab, settings: Settings, tmp_path: Path) -> None:
    """The whole chain: a worker serves the lab's champion, the stage reads its scored
    records, the rows reach the worker's store through the outbox."""
    registry = Registry(lab.settings)
    if registry.alias(MODEL, "champion") is None:
        train_model(lab.settings, MODEL)
    wsettings = worker_settings(settings, tmp_path, groups={"scoring": {"models": [MODEL]}})
    shutil.copytree(lab.settings.data_dir / "models", wsettings.data_dir / "models")
    champion = Registry(wsettings).alias(MODEL, "champion")
    assert champion is not None
    opinion = SecondOpinion.load(champion.path, encoder=SentenceEncoder())
    assert opinion is not None
    create_topics(wsettings)
    events = list(Simulator(5).events(1500))
    send_events(wsettings, events)
    worker = Worker(wsettings, log=tmp_path / "worker.log").start()
    stage = SecondOpinionProcess(wsettings, log=tmp_path / "stage.log").start()
    try:
        wait_for(lambda: caught_up(wsettings), timeout=120, what="the worker", worker=worker)
        scored = [loop_topic("scored", wsettings.topics.prefix)]
        wait_for(lambda: group_caught_up(wsettings, second_opinion_group(wsettings), scored),
                 timeout=120, what="the second-opinion stage", worker=stage)
        assert stage.terminate() == 0, stage.tail()
        assert worker.terminate() == 0, worker.tail()  # imports the outbox as it stops
    finally:
        stage.ensure_stopped()
        worker.ensure_stopped()
    found = read_store(wsettings, {
        "unsure": f"SELECT toString(event_id) FROM streamtune.predictions FINAL WHERE model = "
                  f"'{MODEL}' AND served AND confidence < {opinion.unsure_below} ORDER BY 1",
        "answered": "SELECT toString(event_id), count() FROM streamtune.second_opinions "
                    "GROUP BY event_id ORDER BY 1",
        "served": f"SELECT count() FROM streamtune.predictions FINAL WHERE model = '{MODEL}' "
                  f"AND served"})
    assert found["unsure"], found["served"]
    assert [row[0] for row in found["answered"]] == [row[0] for row in found["unsure"]]
    assert {row[1] for row in found["answered"]} == {1}  # once each, before any merge
    assert len(found["unsure"]) < found["served"][0][0]
    # each clean command says what the served intent model answered (a detect stage's input)
    clean = [(orjson.loads(m.value() or b""), served_intent(m))
             for m in read_topic(wsettings, clean_topic("command", wsettings.topics.prefix))]
    executed = {event["event_id"]: event["command_type"] for event, _ in clean}
    answers = read_store(wsettings, {"served": (
        f"SELECT toString(event_id), confidence, label FROM streamtune.predictions FINAL "
        f"WHERE model = '{MODEL}' AND served")})["served"]
    assert len(answers) == found["served"][0][0] == len(clean)
    assert {event["event_id"]: intent.confidence if intent else None
            for event, intent in clean} == {
        event_id: pytest.approx(confidence, rel=1e-6) for event_id, confidence, _ in answers}
    told = {str(e.refers_to) for e in events if isinstance(e, FeedbackEvent | CorrectionEvent)}
    right = {event_id: label == executed[event_id] for event_id, _, label in answers}
    assert {event["event_id"]: intent.correct for event, intent in clean if intent
            and event["event_id"] not in told} == {  # feedback in the batch may say otherwise
        event_id: is_right for event_id, is_right in right.items() if event_id not in told}


def _scored(text: str, version: str, confidence: float, *, served: bool = True,
            model: str = MODEL) -> PredictionRecord:
    return PredictionRecord(
        event_id=str(uuid.uuid4()), session_id="s-1", event_time=datetime.now(UTC),
        kind="command", command_type="restart_device", input=text, model=model,
        version=version, role="champion" if served else "shadow", served=served,
        label="restart_device", confidence=confidence)


def _send(settings: Settings, values: list[bytes]) -> None:
    producer = Producer({**client_config(settings), "enable.idempotence": True})
    for value in values:
        producer.produce(loop_topic("scored", settings.topics.prefix), value)
    assert producer.flush(30) == 0


def _second_opinions(settings: Settings, records: int) -> SecondOpinionStage:
    """Run a stage until it has read ``records``, import its outbox; the stopped stage."""
    with stage_sink(settings) as (sink, _):
        stage = SecondOpinionStage(settings, sink=sink)
        runner = threading.Thread(target=stage.run)
        runner.start()
        try:
            deadline = time.monotonic() + 120
            while (read := counter_total(stage.metrics.events_in)) < records:
                assert runner.is_alive() and time.monotonic() < deadline, read
                time.sleep(0.1)
        finally:
            stage.stop()
            runner.join(30)
    store = ClickHouseStore.from_settings(settings)
    StoreOutbox(settings).import_into(store)
    return stage


@pytest.mark.parametrize(("name", "head"), [("command_predictor", "next_command"),
                                            ("error_recovery", "recovery_action")])
def test_session_and_error_models_beat_the_majority_class(lab: Lab, name: str,
                                                          head: str) -> None:
    result = train_model(lab.settings, name)
    assert result.parity <= PARITY_TOLERANCE
    scorer = Scorer(result.version.path)
    examples = scorer.task.examples(split_rows(result.snapshot, scorer.task, "test"), None)
    truth = [str(e.labels[head]) for e in examples if e.labels.get(head)]
    assert len(truth) >= 50
    majority = _majority_share(truth)
    # 10 points above the majority guess, or half its errors when it leaves fewer than 20
    # points to gain (the error split may leave one class dominant)
    assert result.metrics[f"{head}.accuracy"] > majority + min(0.1, (1 - majority) / 2)
    assert {"baseline.macro_f1", "baseline.accuracy"} <= set(result.metrics)


def test_onnx_matches_torch_for_every_registered_model(lab: Lab) -> None:
    registry = Registry(lab.settings)
    names = {v.name for v in registry.versions()} - {"parameter_extractor"}  # own parity test
    assert {"intent_classifier", "command_predictor", "error_recovery"} <= names
    rng = np.random.default_rng(5)
    for name in names:
        version = registry.versions(name)[-1]
        trained = restore(Checkpoint.load(version.file("weights.pt")),
                          json.loads(version.file("labels.json").read_text()))
        scorer = Scorer(version.path)
        for batch, tokens in PARITY_SHAPES:
            ids = rng.integers(0, trained.featurizer.buckets, size=(batch, tokens),
                               dtype=np.int64)
            with torch.no_grad():
                expected = [t.numpy() for t in trained.model(torch.from_numpy(ids))]
            for a, b in zip(expected, scorer.logits(ids), strict=True):
                assert float(np.abs(a - b).max()) <= PARITY_TOLERANCE


def test_warm_start_learns_a_new_command_type_without_forgetting(lab: Lab) -> None:
    registry = Registry(lab.settings)
    if registry.alias("intent_classifier", "champion") is None:
        train_model(lab.settings, "intent_classifier")
    champion = registry.alias("intent_classifier", "champion")
    assert champion is not None
    drift = Scenario(new_command_type=NewCommandTypeDrift(at=0, share=0.1))
    fill(lab.store, lab.settings, seed=22, events=6000, scenario=drift, first_offset=100_000)
    snapshot = build_snapshot(lab.store, lab.settings, "commands", progress=False)

    result = train_model(lab.settings, "intent_classifier", dataset_id=snapshot.id)
    assert result.version.parent == champion.version
    assert result.trained.warm_started
    assert registry.alias("intent_classifier", "challenger") == result.version
    labels = result.trained.labels["command_type"]
    old = Checkpoint.load(champion.file("weights.pt")).labels["command_type"]
    assert NEW_TYPE not in old and labels[:len(old)] == old and NEW_TYPE in labels

    scorer = Scorer(result.version.path)
    rows = [r for r in snapshot.rows("test") if not r["synthetic"]]
    predicted = [p["command_type"].label for p in scorer.predict(rows)]
    truth = [r["command_type"] for r in rows]
    new = [p for p, t in zip(predicted, truth, strict=True) if t == NEW_TYPE]
    assert len(new) >= 20
    assert sum(p == NEW_TYPE for p in new) / len(new) >= 0.9
    f1s = []
    for label in set(old):
        tp = sum(p == t == label for p, t in zip(predicted, truth, strict=True))
        denominator = predicted.count(label) + truth.count(label)
        if truth.count(label):
            f1s.append(2 * tp / denominator)
    assert sum(f1s) / len(f1s) >= 0.95


