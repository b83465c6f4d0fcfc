"""Retraining triggers: which alerts retrain which model, debounce, schedule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from streamtune.config import LoopSettings
from streamtune.models.loop.triggers import Triggers, trigger_of
from streamtune.schemas.alerts import Alert

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)
MODELS = ["intent_classifier", "command_predictor", "error_recovery"]


def alert(kind: str, signal: str = "", **fields: object) -> Alert:
    return Alert.raise_(kind=kind, severity="warning", title=f"{kind} {signal}", key="k",  # type: ignore[arg-type]
                        signal=signal, **fields)


def test_each_signal_and_pattern_stream_retrains_the_model_that_serves_it() -> None:
    assert trigger_of(alert("drift", "intent_correct")) == ("performance_drop",
                                                            "intent_classifier")
    assert trigger_of(alert("drift", "error")) == ("error_rate", "error_recovery")
    assert trigger_of(alert("drift", "predictor_correct")) == ("performance_drop",
                                                               "command_predictor")
    assert trigger_of(alert("new_pattern", "command", details={"stream": "command"})) == (
        "new_pattern", "intent_classifier")
    assert trigger_of(alert("new_pattern", "error", details={"stream": "error"})) == (
        "new_pattern", "error_recovery")
    assert trigger_of(alert("regression", model="command_predictor")) == (
        "performance_drop", "command_predictor")
    assert trigger_of(alert("rollout", "promote")) is None


def test_only_drift_for_the_worse_retrains() -> None:
    assert trigger_of(alert("drift", "confidence", details={"direction": "down"})) == (
        "performance_drop", "intent_classifier")
    assert trigger_of(alert("drift", "confidence", details={"direction": "up"})) is None
    assert trigger_of(alert("drift", "error", details={"direction": "down"})) is None
    assert trigger_of(alert("drift", "cpu", details={"direction": "up"})) == (
        "resource", "intent_classifier")


def test_triggers_pile_up_and_are_debounced() -> None:
    triggers = Triggers(LoopSettings(debounce_s=300), MODELS)
    assert triggers.add(alert("drift", "intent_correct")) == "performance_drop"
    assert triggers.add(alert("drift", "confidence")) == "performance_drop"
    taken = triggers.take(NOW)
    assert list(taken) == ["intent_classifier"] and len(taken["intent_classifier"]) == 2
    triggers.add(alert("drift", "success"))
    assert triggers.take(NOW + timedelta(seconds=299)) == {}  # debounced, kept
    assert list(triggers.take(NOW + timedelta(seconds=301))) == ["error_recovery"]
    assert triggers.take(NOW + timedelta(hours=1)) == {}


def test_a_training_that_trained_nothing_does_not_debounce_the_next() -> None:
    triggers = Triggers(LoopSettings(debounce_s=300), MODELS)
    bootstrap = {"intent_classifier": ["bootstrap: no champion yet"]}
    triggers.pending = dict(bootstrap)
    assert triggers.take(NOW) == bootstrap
    triggers.nothing_trained()  # too few events yet
    triggers.pending = dict(bootstrap)
    assert triggers.take(NOW + timedelta(seconds=3)) == bootstrap  # not debounced
    triggers.pending = dict(bootstrap)  # that one trained: the next waits for the debounce
    assert triggers.take(NOW + timedelta(seconds=10)) == {}
    assert triggers.take(NOW + timedelta(seconds=304)) == bootstrap


def test_disabled_triggers_and_unserved_models_are_ignored() -> None:
    triggers = Triggers(LoopSettings(triggers=["new_pattern"]), ["intent_classifier"])
    assert triggers.add(alert("drift", "intent_correct")) is None
    assert triggers.add(alert("new_pattern", "error", details={"stream": "error"})) is None
    assert triggers.add(alert("new_pattern", "command", details={"stream": "command"})) == (
        "new_pattern")


def test_the_schedule_retrains_every_model_when_due() -> None:
    triggers = Triggers(LoopSettings(schedule_hours=24, debounce_s=0), MODELS)
    triggers.tick(NOW)
    assert triggers.take(NOW) == {}
    triggers.tick(NOW + timedelta(hours=23))
    assert triggers.take(NOW + timedelta(hours=23)) == {}
    triggers.tick(NOW + timedelta(hours=24))
    assert sorted(triggers.take(NOW + timedelta(hours=24))) == sorted(MODELS)
    off = Triggers(LoopSettings(schedule_hours=0), MODELS)
    off.tick(NOW)
    off.tick(NOW + timedelta(days=30))
    assert off.take(NOW + timedelta(days=30)) == {}
