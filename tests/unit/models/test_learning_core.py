"""Featurizer, network, training regime, tasks and trainer determinism, without services."""

from __future__ import annotations

import subprocess
import sys
import threading

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from streamtune.config import TrainingSettings
from streamtune.models.features import Featurizer
from streamtune.models.networks import BagClassifier
from streamtune.models.tasks import PredictorTask
from streamtune.models.tasks.predictor import carry_parameters
from streamtune.models.training.optimise import RowAdam
from streamtune.models.training.regime import Regime, step_plan
from streamtune.models.training.stopping import StoppingProgress, TrainingStopped
from streamtune.models.training.trainer import train
from streamtune.schemas.text import normalize_text
from streamtune.simulator import Simulator


def test_feature_ids_are_the_same_in_another_process() -> None:
    f = Featurizer(buckets=4096, max_tokens=16)
    here = f.ids("Restart pump-3 now", {"shift": "night"})
    code = ("from streamtune.models.features import Featurizer;"
            "print(Featurizer(buckets=4096, max_tokens=16).ids('Restart pump-3 now',"
            " {'shift': 'night'}))")
    there = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True, env={"PYTHONHASHSEED": "123"}).stdout
    assert str(here) == there.strip()
    assert all(0 < i < 4096 for i in here) and len(here) == 16


WIDE = {"skip": True, "pooling": "sqrt"}


@pytest.mark.parametrize("wide", [{}, WIDE])
def test_padding_never_changes_a_prediction(wide: dict[str, object]) -> None:
    torch.manual_seed(0)
    model = BagClassifier(512, 8, 16, {"a": 3}, **wide).eval()
    ids = torch.tensor([[5, 9, 33]])
    padded = torch.tensor([[5, 9, 33, 0, 0, 0, 0]])
    with torch.no_grad():
        assert torch.allclose(model(ids)[0], model(padded)[0], atol=1e-6)


def test_the_skip_path_adds_a_linear_reading_of_the_sqrt_pooled_bag() -> None:
    torch.manual_seed(0)
    model = BagClassifier(512, 8, 16, {"a": 3}, **WIDE).eval()
    ids = torch.tensor([[5, 9, 33, 0]])
    with torch.no_grad():
        pooled = model.embedding.weight[[5, 9, 33]].sum(dim=0) / 3 ** 0.5
        by_hand = model.heads["a"](model.body(pooled)) + pooled @ model.skips["a"].weight.T
        assert torch.allclose(model(ids)[0][0], by_hand, atol=1e-5)
    again = BagClassifier.from_architecture(model.architecture)
    assert again.architecture == model.architecture
    old = BagClassifier.from_architecture({k: v for k, v in model.architecture.items()
                                           if k not in WIDE})  # saved before the option
    assert (old.architecture["skip"], old.architecture["pooling"]) == (False, "mean")


@pytest.mark.parametrize("wide", [{}, WIDE])
def test_growing_a_head_keeps_the_old_logits(wide: dict[str, object]) -> None:
    torch.manual_seed(0)
    model = BagClassifier(512, 8, 16, {"a": 3}, **wide).eval()
    ids = torch.randint(1, 512, (4, 6))
    with torch.no_grad():
        before = model(ids)[0]
        model.grow_head("a", 5)
        after = model(ids)[0]
    assert after.shape == (4, 5)
    assert torch.allclose(before, after[:, :3], atol=1e-6)
    with pytest.raises(ValueError, match="cannot shrink"):
        model.grow_head("a", 2)


@settings(deadline=None)
@given(budget=st.integers(1, 50_000), batch=st.integers(1, 64), start=st.integers(1, 64),
       warmup=st.floats(0.0, 0.4), final=st.floats(0.0, 0.4))
def test_regime_phases_have_their_shapes(budget: int, batch: int, start: int, warmup: float,
                                         final: float) -> None:
    regime = Regime(1e-2, batch, start, warmup, final, 0.1)
    plan = step_plan(budget, regime)
    phases = [s.phase for s in plan]
    assert phases == sorted(phases, key=["initial", "main", "final"].index)
    warm = [s for s in plan if s.phase == "initial"]
    main = [s for s in plan if s.phase == "main"]
    tail = [s for s in plan if s.phase == "final"]
    assert all(a.learning_rate < b.learning_rate for a, b in zip(warm, warm[1:], strict=False))
    assert all(a.learning_rate >= b.learning_rate for a, b in zip(main, main[1:], strict=False))
    assert all(a.batch_size <= b.batch_size for a, b in zip(main, main[1:], strict=False))
    assert {s.learning_rate for s in tail} == {1e-3}
    assert {s.batch_size for s in tail} == {batch}
    assert warm[-1].learning_rate == pytest.approx(1e-2)
    examples = sum(s.batch_size for s in plan)
    assert examples >= min(budget, 3) * 0.5  # the budget is spent, give or take rounding
    assert examples <= budget + 3 * max(batch, start) + batch * len(tail)


def _commands(n: int) -> list[dict[str, object]]:
    rows = [e.model_dump(mode="json") for e in Simulator(4).events(n) if e.kind == "command"]
    for row in rows:
        row["normalized_input"] = normalize_text(str(row["raw_input"]))
    return rows


def test_row_adam_steps_exactly_as_sparse_adam() -> None:
    """Same weights as torch's SparseAdam after steps on repeated ids, padding, rows not
    touched for a while, two groups at their own rates and a changing rate."""
    def trained(kind: str) -> list[torch.Tensor]:
        torch.manual_seed(3)
        tables = [torch.nn.Embedding(500, 8, padding_idx=0, sparse=True) for _ in range(2)]
        groups = [{"params": [tables[0].weight], "factor": 1.0},
                  {"params": [tables[1].weight], "factor": 0.3}]
        sparse = torch.optim.SparseAdam(
            [{"params": g["params"], "lr": 0.0} for g in groups]) if kind == "torch" else None
        row = RowAdam(groups) if kind == "row" else None
        ids = torch.Generator().manual_seed(4)
        for step in range(40):
            rate = 0.05 / (1 + step)
            batch = torch.randint(0, 60 if step < 20 else 500, (16, 12), generator=ids)
            loss = sum((t(batch).sin() * torch.arange(8)).sum() for t in tables)
            for table in tables:
                table.weight.grad = None
            loss.backward()  # type: ignore[union-attr]
            if sparse is not None:
                for group, g in zip(sparse.param_groups, groups, strict=True):
                    group["lr"] = rate * g["factor"]
                sparse.step()
            elif row is not None:
                row.step(rate)
        return [t.weight.detach() for t in tables]

    for ours, theirs in zip(trained("row"), trained("torch"), strict=True):
        assert torch.equal(ours, theirs)


def test_training_is_reproducible_for_a_seed() -> None:
    rows = _commands(1200)
    hp = TrainingSettings().intent_classifier.model_copy(
        update={"total_epochs": 1, "buckets": 4096, "dim": 8, "hidden": 16})
    task = PredictorTask()
    a = train(task, rows, rows[:50], hp, seed=3)
    b = train(task, rows, rows[:50], hp, seed=3)
    c = train(task, rows, rows[:50], hp, seed=4)
    weights = [m.model.embedding.weight.detach().numpy() for m in (a, b, c)]
    assert np.array_equal(weights[0], weights[1])
    assert not np.array_equal(weights[0], weights[2])


def test_a_stop_ends_the_training_at_its_next_step() -> None:
    rows = _commands(1200)
    hp = TrainingSettings().intent_classifier.model_copy(
        update={"total_epochs": 1, "buckets": 4096, "dim": 8, "hidden": 16})
    stop, steps = threading.Event(), []

    class StopAfterFive(StoppingProgress):  # the stop arrives after the fifth step
        def advance(self, task_id, advance=1):  # type: ignore[no-untyped-def]
            steps.append(task_id)
            super().advance(task_id, advance)
            if len(steps) == 5:
                stop.set()

    with pytest.raises(TrainingStopped):
        train(PredictorTask(), rows, rows[:50], hp, seed=3, progress=StopAfterFive(stop))
    assert len(steps) == 6  # the next step found the stop


def test_predictor_examples_follow_sessions_and_oversample_failures() -> None:
    rows = _commands(3000)
    task = PredictorTask()
    plain = task.examples(rows, None)
    sessions = {r["session_id"] for r in rows}
    assert len(plain) == len(rows) - len(sessions)
    stages = task.stages({"epochs_per_stage": 1, "total_epochs": 3})
    assert [s.name for s in stages] == ["domain_adaptation", "task_specific_tuning",
                                        "error_recovery_specialization"]
    types_only = task.examples(rows, stages[0])
    assert all(e.text == "" and all(k.startswith("h") for k in e.fields) for e in types_only)
    failures = sum(1 for e in plain if e.fields.get("h1_ok") == "False")
    assert failures > 0
    assert len(task.examples(rows, stages[2])) == len(plain) + 2 * failures


def test_carried_parameters_take_the_latest_value_the_history_named() -> None:
    history = [{"command_type": "start_pump", "parameters": {"pump": "pump-1"}},
               {"command_type": "start_pump", "parameters": {"pump": "pump-2"}}]
    assert carry_parameters(history, "stop_pump") == {"pump": "pump-2"}
    assert carry_parameters(history, "query_status") == {}
    assert carry_parameters(history, "no_such_command") == {}
