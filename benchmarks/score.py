"""Scoring cost of one model in onnxruntime vs the same model in torch (printed figures).

Trains a small intent model on simulated commands (or takes ``--model-dir``, an
exported folder with ``model.onnx``, ``labels.json`` and ``weights.pt``), then in
one process, one thread each, alternating the paths round by round:

- featurization alone (hashed tokens -> id matrix), with a cold and a warm token cache;
- the network alone on pre-built ids: onnxruntime session vs torch under ``no_grad``;
- end to end (featurize, run, softmax, best label): ``Scorer.predict`` vs the torch equivalent;
- beside them, the teacher's sentence encoder (MiniLM in torch, cache cleared before every
  call): what scoring inline with the teacher instead of the distilled student would cost.

Single-event latency is pooled over every round (p50/p99); batched throughput
(``--batch`` events per call) is the median of the rounds. The cold figures
clear the token cache before every call; the others run with it filled.

Run: ``.venv/bin/python benchmarks/score.py [--events 6000] [--rounds 5]``
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

from streamtune.config import TrainingSettings, get_settings
from streamtune.models import features
from streamtune.models.encoder import SentenceEncoder
from streamtune.models.export import export_model
from streamtune.models.networks import BagClassifier
from streamtune.models.scoring import Scorer
from streamtune.models.tasks import TASKS
from streamtune.models.training.trainer import Checkpoint, train
from streamtune.schemas.events import CommandEvent
from streamtune.schemas.text import normalize_text
from streamtune.simulator import Simulator

console = Console()


def simulated_rows(events: int) -> list[dict[str, Any]]:
    """Intent rows (normalized text, context, label) of the simulator's commands."""
    out = []
    for e in Simulator(7, start=datetime(2026, 1, 1, tzinfo=UTC)).events(events):
        if isinstance(e, CommandEvent):
            out.append({"normalized_input": normalize_text(e.raw_input), "context": e.context,
                        "command_type": e.command_type, "synthetic": False})
    return out


def trained_model(rows: Sequence[Mapping[str, Any]], directory: Path) -> None:
    cut = int(len(rows) * 0.8)
    hp = TrainingSettings().for_model("intent_classifier").model_copy(update={"total_epochs": 2})
    with console.status(f"training intent_classifier on {cut:,} simulated commands"):
        model = train(TASKS["intent_classifier"], rows[:cut], rows[cut:], hp,
                      cache=get_settings().cache_dir)
        export_model(model, directory)


def torch_model(directory: Path) -> BagClassifier:
    checkpoint = Checkpoint.load(directory / "weights.pt")
    model = BagClassifier.from_architecture(checkpoint.architecture)
    model.load_state_dict(checkpoint.state_dict)
    return model.eval()


def clear_token_cache() -> None:
    features._text_ids.cache_clear()
    if features._wordpiece.cache_info().currsize:  # the sub-word tokenizer's word cache
        features._wordpiece()._pieces.cache_clear()


def measure(paths: Mapping[str, tuple[Callable[[Any], object], Sequence[Any], Sequence[Any]]],
            rounds: int, per_batch: int, reset: Mapping[str, Callable[[], None]],
            prepare: Callable[[], None]) -> dict[str, dict[str, float]]:
    """Per path (run, single inputs, batches): p50/p99 us and median events/s over the rounds.

    ``reset[name]`` runs (untimed) before every timed call of that path;
    ``prepare`` runs before every other path's turn.
    """
    singles: dict[str, list[float]] = {name: [] for name in paths}
    rates: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(rounds):
        for name, (run, one_each, batches) in paths.items():
            before = reset.get(name)
            if before is None:
                prepare()
            for item in one_each:
                if before is not None:
                    before()
                started = time.perf_counter()
                run(item)
                singles[name].append(time.perf_counter() - started)
            spent = 0.0
            for item in batches:
                if before is not None:
                    before()
                started = time.perf_counter()
                run(item)
                spent += time.perf_counter() - started
            rates[name].append(len(batches) * per_batch / spent)
    return {name: {"p50": float(np.percentile(singles[name], 50) * 1e6),
                   "p99": float(np.percentile(singles[name], 99) * 1e6),
                   "rate": statistics.median(rates[name])} for name in paths}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model-dir", type=Path, help="an exported intent model (default: train)")
    parser.add_argument("--events", type=int, default=6000, help="simulated events")
    parser.add_argument("--singles", type=int, default=1000, help="single events per round")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = simulated_rows(args.events)
    with tempfile.TemporaryDirectory() as tmp:
        directory = args.model_dir or Path(tmp)
        if args.model_dir is None:
            trained_model(rows, directory)
        scorer, model = Scorer(directory, threads=1), torch_model(directory)
        events = rows[int(len(rows) * 0.8):]
        figures = run(scorer, model, events, args)
        figures["teacher encoder: MiniLM (torch, uncached)"] = teacher_cost(events, args)
    table = Table("path (1 thread)", "single p50 (µs)", "single p99 (µs)",
                  f"batched events/s (batch {args.batch})",
                  title=f"{len(events):,} simulated commands, {args.rounds} rounds")
    for name, f in figures.items():
        table.add_row(name, f"{f['p50']:,.1f}", f"{f['p99']:,.1f}", f"{f['rate']:,.0f}")
    console.print(table)


def teacher_cost(events: Sequence[Mapping[str, Any]],
                 args: argparse.Namespace) -> dict[str, float]:
    """p50/p99 µs of one text and events/s in batches, the encoder's cache cleared each call."""
    encoder = SentenceEncoder(threads=1)
    texts = [str(e["normalized_input"]) for e in events]
    singles: list[float] = []
    with console.status("measuring the teacher's encoder"):
        for text in texts[:max(1, args.singles // 5)]:
            encoder.clear()
            started = time.perf_counter()
            encoder.embed([text])
            singles.append(time.perf_counter() - started)
        batches = [texts[s:s + args.batch] for s in range(0, len(texts), args.batch)][:4]
        started = time.perf_counter()
        for batch in batches:
            encoder.clear()
            encoder.embed(batch)
        rate = sum(map(len, batches)) / (time.perf_counter() - started)
    return {"p50": float(np.percentile(singles, 50) * 1e6),
            "p99": float(np.percentile(singles, 99) * 1e6), "rate": rate}


def run(scorer: Scorer, model: BagClassifier, events: Sequence[Mapping[str, Any]],
        args: argparse.Namespace) -> dict[str, dict[str, float]]:
    singles = [events[i % len(events)] for i in range(args.singles)]
    batches = [events[s:s + args.batch] for s in range(0, len(events) - args.batch + 1,
                                                       args.batch)]
    if not batches:
        raise SystemExit(f"need at least {args.batch} test events; raise --events")
    task, featurizer = scorer.task, scorer.featurizer

    def featurize(batch: Sequence[Mapping[str, Any]]) -> np.ndarray:
        inputs = [task.inputs(event) for event in batch]
        return featurizer.batch([t for t, _ in inputs], [f for _, f in inputs])

    def torch_predict(batch: Sequence[Mapping[str, Any]]) -> list[str]:
        with torch.no_grad():
            logits = model(torch.from_numpy(featurize(batch)))[0]
        best = torch.softmax(logits, dim=1).argmax(dim=1).tolist()
        return [scorer.labels[scorer.heads[0]][i] for i in best]

    def torch_forward(ids: np.ndarray) -> object:
        with torch.no_grad():
            return model(torch.from_numpy(ids))

    single_ids = [featurize([e]) for e in singles]
    batch_ids = [featurize(b) for b in batches]
    one_each = [[e] for e in singles]
    paths: dict[str, tuple[Callable[[Any], object], Sequence[Any], Sequence[Any]]] = {
        "featurize, cold token cache": (featurize, one_each, batches),
        "featurize, warm token cache": (featurize, one_each, batches),
        "network only: onnxruntime": (scorer.logits, single_ids, batch_ids),
        "network only: torch": (torch_forward, single_ids, batch_ids),
        "end to end: Scorer.predict (onnxruntime)": (scorer.predict, one_each, batches),
        "end to end: torch": (torch_predict, one_each, batches),
    }
    for fn, one, many in paths.values():  # warm-up: sessions, allocators
        fn(one[0])
        fn(many[0])

    def warm_token_cache() -> None:
        featurize(events)

    with console.status("measuring"):
        return measure(paths, args.rounds, args.batch,
                       {"featurize, cold token cache": clear_token_cache}, warm_token_cache)


if __name__ == "__main__":
    main()
