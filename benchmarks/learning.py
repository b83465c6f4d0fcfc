"""The intent classifier on real labelled text, beside TF-IDF + logistic regression.

Corpora from ``../shared/data/corpora`` (see its README):

- tldr: description -> utility (``page``), pages with >= 8 distinct descriptions,
  each description in one split only (70/15/15 per page, seeded);
- CLINC150: the published train/val/test with the out-of-scope queries as a 151st
  class ``oos`` (as the paper's "oos-train" setting): macro-F1, in-scope accuracy and
  out-of-scope recall;
- simulator: the simulator's commands split by phrasing (unseen phrasings): per command
  type with three or more phrasings, its last phrasing is test only, the one before
  validation only, the rest train; texts no phrasing matches (typos) are left out.

Each model is trained on the same training rows; C and the teacher's mixture are
chosen on the validation split. Rows: the baseline; the teacher (frozen MiniLM +
logistic regression mixed with TF-IDF + LR: too slow to score inline); the inline
``intent_classifier`` trained by ``streamtune``'s own trainer with the shipped
defaults (distilled from that teacher, with the static sub-word bag), without the
teacher, and with ``--before`` also without the static bag and with the defaults it
had before the wide path. On CLINC150 the teacher's and the distilled student's rows
are each followed by the same model with an out-of-scope flag: ``oos`` where p(oos)
minus the best in-scope probability is above the level only 1 % (2 %; the shipped
``scope_false_alarm`` is 1 %) of in-scope validation texts reach. Wherever the student is
distilled, a last row gives the answers stored in the end: the teacher's second opinion
(``streamtune second-opinion``) where the student's confidence is below the level
the least confident 15 % of validation texts reach, with the teacher's own flag,
else the student's, both flags at 1 % and at 2 % where there is an ``oos`` class. The
teacher row's time is its fitting (encoding included); the distilled row's is the
student's training alone.

Run: ``.venv/bin/python benchmarks/learning.py [--corpus tldr|clinc|simulator] [--before]``
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from rich.table import Table
from sklearn.metrics import accuracy_score, f1_score

from streamtune.config import TrainingSettings, get_settings
from streamtune.models.detection.scope import OUT_OF_SCOPE_LABEL, ScopeThreshold
from streamtune.models.encoder import SentenceEncoder
from streamtune.models.evaluation import fit_texts
from streamtune.models.tasks import TASKS
from streamtune.models.training.second_opinion import SecondOpinion
from streamtune.models.training.teacher import Teacher, fit_teacher
from streamtune.models.training.trainer import train
from streamtune.schemas.commands import COMMANDS, match_phrasing
from streamtune.schemas.events import CommandEvent
from streamtune.schemas.text import normalize_text
from streamtune.simulator import Simulator

CORPORA = Path(__file__).resolve().parents[2] / "shared" / "data" / "corpora"
BEFORE = {"learning_rate": 3e-3, "dense_lr_factor": 1.0, "batch_size": 32, "start_batch": 4,
          "final_lr_factor": 0.1, "max_tokens": 96, "skip": False, "pooling": "mean",
          "total_epochs": 10, "dim": 64, "hidden": 128, "static": False}
"""The intent classifier's defaults before the wide path (December 2026)."""
Pairs = list[tuple[str, str]]


def tldr(root: Path, *, min_per_page: int = 8, seed: int = 0) -> tuple[Pairs, Pairs, Pairs]:
    by_page: dict[str, set[str]] = defaultdict(set)
    for line in (root / "tldr" / "pairs.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        by_page[row["page"]].add(row["description"].strip())
    seen: set[str] = set()
    rng = random.Random(seed)
    train_rows: Pairs = []
    validation: Pairs = []
    test: Pairs = []
    for page in sorted(by_page):
        texts = sorted(by_page[page] - seen)
        if len(texts) < min_per_page:
            continue
        seen.update(texts)
        rng.shuffle(texts)
        held = max(1, round(len(texts) * 0.15))
        test += [(t, page) for t in texts[:held]]
        validation += [(t, page) for t in texts[held:2 * held]]
        train_rows += [(t, page) for t in texts[2 * held:]]
    return train_rows, validation, test


def clinc(root: Path) -> tuple[Pairs, Pairs, Pairs]:
    data = json.loads((root / "clinc150" / "data_full.json").read_text(encoding="utf-8"))

    def pairs(*keys: str) -> Pairs:
        return [(text, label) for key in keys for text, label in data[key]]

    return pairs("train", "oos_train"), pairs("val", "oos_val"), pairs("test", "oos_test")


def simulator(_root: Path, *, events: int = 20_000, seed: int = 3) -> tuple[Pairs, Pairs, Pairs]:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    splits: tuple[Pairs, Pairs, Pairs] = ([], [], [])
    for event in Simulator(seed, start=start).events(events):
        if not isinstance(event, CommandEvent) or event.command_type is None:
            continue
        text = normalize_text(event.raw_input)
        found = match_phrasing(event.command_type, text)
        if found is None:
            continue
        from_last = len(COMMANDS[event.command_type].phrasings) - 1 - found[0]
        few = len(COMMANDS[event.command_type].phrasings) < 3
        split = 0 if few or from_last > 1 else 2 - from_last  # last: test, next: validation
        splits[split].append((text, event.command_type))
    return splits


def baseline(train_rows: Pairs, validation: Pairs, test: Pairs) -> list[str]:
    """TF-IDF (words 1-2, sublinear tf) + logistic regression, C chosen on validation."""
    return fit_texts(train_rows, validation, [text for text, _ in test]).predicted


class Teachers:
    """One teacher per corpus, fitted once and shared by the rows that use it; with
    ``flagged``, its predictions with the out-of-scope flag too (as the student's)."""

    def __init__(self, flagged: Flagged | None = None) -> None:
        self.encoder = SentenceEncoder(threads=2)
        self.fitted: dict[int, Teacher | None] = {}
        self.flagged = flagged

    def get(self, train_rows: Pairs, validation: Pairs) -> Teacher | None:
        key = id(train_rows)
        if key not in self.fitted:
            self.fitted[key] = fit_teacher(train_rows, validation, self.encoder)
        return self.fitted[key]

    def predict(self, train_rows: Pairs, validation: Pairs, test: Pairs) -> list[str]:
        teacher = self.get(train_rows, validation)
        if teacher is None:
            raise SystemExit("the teacher needs at least two labels")
        test_p = teacher.probabilities([text for text, _ in test])
        if self.flagged is not None and OOS in teacher.labels:
            validation_p = teacher.probabilities([text for text, _ in validation])
            self.flagged[id(test)] = out_of_scope(teacher.labels, validation_p,
                                                  [y for _, y in validation], test_p)
        return [teacher.labels[i] for i in test_p.argmax(axis=1)]


OOS = OUT_OF_SCOPE_LABEL
FALSE_ALARMS = (0.01, 0.02)
"""Shares of in-scope validation texts the out-of-scope flag may take (the shipped
``scope_false_alarm`` is 1 %)."""
Flagged = dict[int, dict[str, list[str]]]
"""Under ``id(test)``: more rows of the model just run, their name -> predictions."""


def intent_classifier(overrides: dict[str, object], teachers: Teachers | None = None,
                      flagged: Flagged | None = None,
                      ) -> Callable[[Pairs, Pairs, Pairs], list[str]]:
    """The student's predictions; with ``flagged``, also those with the out-of-scope flag
    (stored under ``id(test)``) where the corpus has an ``oos`` class."""
    def fit(train_rows: Pairs, validation: Pairs, test: Pairs) -> list[str]:
        task = TASKS["intent_classifier"]
        hp = TrainingSettings().for_model("intent_classifier").model_copy(update=overrides)

        def rows(pairs: Pairs) -> list[dict[str, str]]:
            return [{"raw_input": text, "command_type": label} for text, label in pairs]

        teacher = teachers.get(train_rows, validation) if teachers and hp.teacher else None
        trained = train(task, rows(train_rows), rows(validation), hp, threads=2,
                        teacher=teacher, cache=get_settings().cache_dir)
        labels = trained.labels["command_type"]

        def probabilities(pairs: Pairs) -> np.ndarray:
            ids = trained.featurizer.batch([text for text, _ in pairs])
            with torch.no_grad():
                logits = trained.model.eval()(torch.from_numpy(ids))[0]
            return torch.softmax(logits, dim=1).numpy()

        test_p, validation_p = probabilities(test), probabilities(validation)
        predicted = [labels[i] for i in test_p.argmax(axis=1)]
        if flagged is not None:
            rows = out_of_scope(labels, validation_p, [y for _, y in validation], test_p) \
                if OOS in labels else {}
            for level in (FALSE_ALARMS if OOS in labels else (0.0,)) if teacher else ():
                rows |= second_opinion(teacher, hp.second_opinion_share, level, validation,
                                       validation_p, test, test_p,
                                       rows.get(flag_row(level), predicted))
            flagged[id(test)] = rows
        return predicted
    return fit


def second_opinion(teacher: Teacher, share: float, false_alarm: float, validation: Pairs,
                   validation_p: np.ndarray, test: Pairs, test_p: np.ndarray,
                   student: list[str]) -> dict[str, list[str]]:
    """The answers stored in the end: the teacher's where the student was unsure (as the
    second-opinion stage gives them, ``oos`` where its flag at ``false_alarm`` says so),
    else ``student`` (flagged at the same level)."""
    opinion = SecondOpinion.calibrate(
        teacher, validation_p.max(axis=1), teacher.probabilities([t for t, _ in validation]),
        [y for _, y in validation], share=share, false_alarm=false_alarm)
    combined, unsure = opinion.stored([text for text, _ in test], test_p.max(axis=1), student,
                                      flagged=True)
    flagged = f", flags at {false_alarm:.0%}" if false_alarm else ""
    return {f"  + second opinion on the unsure {unsure.mean():.0%} of test "
            f"({share:.0%} of val{flagged})": combined}


def out_of_scope(labels: list[str], validation_p: np.ndarray, validation_y: list[str],
                 test_p: np.ndarray) -> dict[str, list[str]]:
    """Per false-alarm level: the best in-scope label, or ``oos`` where the shipped flag
    (:class:`~streamtune.models.detection.scope.ScopeThreshold`, calibrated on validation
    for that level) says so."""
    column = labels.index(OOS)
    best = np.where(np.arange(test_p.shape[1]) == column, -1.0, test_p).argmax(axis=1)
    out = {}
    for level in FALSE_ALARMS:
        scope = ScopeThreshold.calibrate("command_type", labels, validation_p, validation_y,
                                         false_alarm=level)
        out[flag_row(level)] = [OOS if flagged else labels[b]
                                for flagged, b in zip(scope.flag(test_p), best, strict=True)]
    return out


def flag_row(level: float) -> str:
    return f"  + out-of-scope flag ({level:.0%} on val)"


def scores(truth: Sequence[str], predicted: Sequence[str]) -> dict[str, float]:
    out = {"macro_f1": f1_score(truth, predicted, average="macro"),
           "accuracy": accuracy_score(truth, predicted)}
    if "oos" in truth:
        inside = np.array([t != "oos" for t in truth])
        hits = np.array([t == p for t, p in zip(truth, predicted, strict=True)])
        out["in_scope_accuracy"] = float(hits[inside].mean())
        out["oos_recall"] = float(hits[~inside].mean())
    return out


def add_row(table: Table, name: str, got: dict[str, float], seconds: float) -> None:
    table.add_row(name, f"{got['macro_f1']:.4f}", f"{got['accuracy']:.4f}",
                  *(f"{got[k]:.1%}" if k in got else "" for k in
                    ("in_scope_accuracy", "oos_recall")), f"{seconds:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", choices=("tldr", "clinc", "simulator"), action="append")
    parser.add_argument("--before", action="store_true", help="also the defaults before")
    parser.add_argument("--data", type=Path, default=CORPORA)
    args = parser.parse_args()
    console = Console()
    flagged: Flagged = {}
    teachers = Teachers(flagged)
    models: dict[str, Callable[[Pairs, Pairs, Pairs], list[str]]] = {
        "TF-IDF + LR": baseline, "teacher (MiniLM + TF-IDF, offline)": teachers.predict,
        "intent_classifier (inline, distilled)": intent_classifier({}, teachers, flagged),
        "intent_classifier, no teacher": intent_classifier({"teacher": False})}
    if args.before:
        models["intent_classifier (distilled, no static bag)"] = intent_classifier(
            {"static": False}, teachers)
        models["intent_classifier (before)"] = intent_classifier({**BEFORE, "teacher": False})
    for name in args.corpus or ("tldr", "clinc", "simulator"):
        corpora: dict[str, Callable[[Path], tuple[Pairs, Pairs, Pairs]]] = {
            "tldr": tldr, "clinc": clinc, "simulator": simulator}
        splits = corpora[name](args.data)
        table = Table(title=f"{name}: {', '.join(str(len(s)) for s in splits)} "
                            f"train/val/test, {len({y for _, y in splits[0]})} classes")
        for column in ("model", "macro-F1", "accuracy", "in scope", "oos recall", "train s"):
            table.add_column(column, justify="left" if column == "model" else "right")
        for model_name, fit in models.items():
            with console.status(f"{name}: {model_name}"):
                started = time.perf_counter()
                predicted = fit(*splits)
                seconds = time.perf_counter() - started
            add_row(table, model_name, scores([y for _, y in splits[2]], predicted), seconds)
            for row, row_predictions in flagged.pop(id(splits[2]), {}).items():
                add_row(table, row, scores([y for _, y in splits[2]], row_predictions), seconds)
        console.print(table)


if __name__ == "__main__":
    main()
