"""New patterns on real logs: template grouping, new-template alerts, out-of-scope commands.

Per Loghub 2k system (``../shared/data/loghub``, lines in order):

- grouping: the Loghub group accuracy (a line is right when its predicted group holds
  exactly the lines of its true template) of
  :class:`~streamtune.models.detection.templates.TemplateMiner`, leave-one-system-out:
  the thresholds used on a system are the grid point with the best mean accuracy on
  the other 13; next to it Drain's published figure;
- alerts: :class:`~streamtune.models.detection.patterns.PatternMiner` with default
  settings on the ``error`` stream, event times from the log (1 s a line where the
  header has none). A template whose first line comes after the warm-up is
  recalled when an alert's template (the template of the alert's first line, as
  it stands at the alert) holds that line; delay: lines from it to the alert
  (median and most; a template held as a possible variant alerts late). An alert
  whose template holds no such line is a false "new" (per 10,000 lines after the
  warm-up). A template still held when the log ends has not alerted;
- lines/s of the miner alone (its key cache included), one pass, best of 3.

Then CLINC150, trained on the in-scope classes only: two classifiers, TF-IDF + logistic
regression (its TF-IDF vector as the embedding) and the intent classifier's teacher
(:mod:`~streamtune.models.training.teacher`; MiniLM embeddings), each with
:class:`~streamtune.models.detection.scope.OutOfScope` fitted on ``train``, calibrated
on ``val`` (5 % false alarms) with its weight chosen on ``oos_val``; recall on
``oos_test`` and false alarms on ``test``, next to the classifier's confidence alone.

Run: ``.venv/bin/python benchmarks/patterns.py [--no-clinc]``
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import statistics
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np

from streamtune.config import DetectionSettings
from streamtune.models.datasets.loghub import load_loghub
from streamtune.models.detection.patterns import PatternMiner, template_miner
from streamtune.models.detection.scope import OutOfScope
from streamtune.models.detection.templates import MinerParams, TemplateMiner
from streamtune.models.encoder import SentenceEncoder
from streamtune.models.training.teacher import fit_teacher

ROOT = Path("../shared/data/loghub")
CLINC = Path("../shared/data/corpora/clinc150/data_full.json")
DRAIN = {"HDFS": 0.9975, "Hadoop": 0.9475, "Spark": 0.92, "Zookeeper": 0.9665,
         "BGL": 0.9625, "HPC": 0.887, "Thunderbird": 0.955, "Windows": 0.997,
         "Android": 0.911, "HealthApp": 0.78, "Apache": 1.0, "Proxifier": 0.5265,
         "OpenStack": 0.7325, "Mac": 0.7865}
GRID = [MinerParams(v, d, s) for v, d, s in itertools.product(
    (3, 4, 5, 6), (1, 2, 3), (0.4, 0.5, 0.6))]


def truth(system: str) -> tuple[list[str], list[str]]:
    """(Content, EventId) of each line, in order."""
    with (ROOT / f"{system}_2k.log_structured.csv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [r["Content"] for r in rows], [r["EventId"] for r in rows]


def group_accuracy(predicted: list[int], events: list[str]) -> float:
    """Loghub's grouping accuracy."""
    by_pred: dict[int, set[int]] = defaultdict(set)
    by_true: dict[str, set[int]] = defaultdict(set)
    for i, (p, t) in enumerate(zip(predicted, events, strict=True)):
        by_pred[p].add(i)
        by_true[t].add(i)
    right = sum(by_pred[p] == by_true[t] for p, t in zip(predicted, events, strict=True))
    return right / len(events)


def grouping(lines: list[str], params: MinerParams) -> list[int]:
    miner = TemplateMiner(params)
    ids = [miner.add(line).cluster_id for line in lines]
    return [miner.resolve(c) for c in ids]


def leave_one_out(data: dict[str, tuple[list[str], list[str]]]) -> dict[str, tuple[float,
                                                                                  MinerParams]]:
    """Held-out accuracy per system, with the grid point chosen on the others."""
    scores = {(s, p): group_accuracy(grouping(lines, p), events)
              for s, (lines, events) in data.items() for p in GRID}
    out = {}
    for held in data:
        best = max(GRID, key=lambda p: sum(scores[(s, p)] for s in data if s != held))
        out[held] = (scores[(held, best)], best)
    return out


def alerts(system: str, events: list[str]) -> dict[str, float]:
    """Recall of late templates, false "new" per 10k lines and delay, default settings."""
    table = load_loghub(system, ROOT)
    texts = table.column("error_message").to_pylist()
    times = table.column("event_time").to_pylist()
    detector = PatternMiner(DetectionSettings(), source=system)
    shadow = template_miner(DetectionSettings().pattern_similarity)  # same ids as detector's
    ids: list[int] = []
    seen: set[str] = set()
    firsts: set[int] = set()
    credited: set[int] = set()
    false = 0
    delays: list[int] = []
    start = None
    for i, (text, at, event) in enumerate(zip(texts, times, events, strict=True)):
        raised = detector.observe("error", text, confidence=None, key=str(i), at=at)
        ids.append(shadow.add(text).cluster_id if text.strip() else -1)
        if start is None and detector.warm("error"):
            start = i
        if start is not None and event not in seen:
            firsts.add(i)
        seen.add(event)
        for alert in raised:
            root = shadow.resolve(ids[int(alert.details["first_key"])])
            hit = [j for j in range(start or 0, i + 1)
                   if j in firsts and j not in credited and shadow.resolve(ids[j]) == root]
            credited.update(hit)
            delays += [i - j for j in hit]
            false += not hit
    watched = len(texts) - (start if start is not None else len(texts))
    return {"firsts": len(firsts), "recall": len(credited) / len(firsts) if firsts else 1.0,
            "false_per_10k": 1e4 * false / watched if watched else 0.0,
            "false": false, "watched": watched,
            "delay": statistics.median(delays) if delays else 0.0,
            "max_delay": max(delays, default=0)}


def speed(lines: list[str]) -> float:
    best = 0.0
    for _ in range(3):
        miner = TemplateMiner()
        t0 = time.perf_counter()
        for line in lines:
            miner.add(line)
        best = max(best, len(lines) / (time.perf_counter() - t0))
    return best


def clinc() -> None:
    """Out-of-scope flags over two in-scope classifiers: TF-IDF + LR, and the teacher."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    data = json.loads(CLINC.read_text(encoding="utf-8"))
    pairs = {k: [(t, y) for t, y in data[k]] for k in ("train", "val", "test", "oos_test",
                                                       "oos_val")}
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
    x_train = vectorizer.fit_transform([t for t, _ in pairs["train"]])
    lexical = LogisticRegression(C=20.0, max_iter=300).fit(x_train,
                                                           [y for _, y in pairs["train"]])
    teacher = fit_teacher(pairs["train"], pairs["val"], SentenceEncoder(threads=2))
    if teacher is None:
        raise SystemExit("CLINC150 has more than one class")
    print("\nCLINC150 out-of-scope (trained on in-scope classes only; threshold for 5 % "
          "false alarms on val)")
    print("| classifier | detector | oos_test recall | false alarms on test | "
          "in-scope accuracy kept |")
    print("| --- | --- | ---: | ---: | ---: |")

    def tfidf(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        x = vectorizer.transform(texts)
        return lexical.predict_proba(x), x.toarray()

    def taught(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        return teacher.probabilities(texts), teacher.encoder.embed(texts)

    for name, parts in (("TF-IDF + LR", tfidf), ("teacher: MiniLM + TF-IDF", taught)):
        scope_rows(name, parts, pairs, [str(c) for c in lexical.classes_])


def scope_rows(name: str, parts: Callable[[list[str]], tuple[np.ndarray, np.ndarray]],
               pairs: dict[str, list[tuple[str, str]]], classes: list[str]) -> None:
    """One row per detector: OutOfScope (confidence + distance) and confidence alone."""
    def texts(key: str) -> list[str]:
        return [t for t, _ in pairs[key]]

    train_p, train_e = parts(texts("train"))
    val_p, val_e = parts(texts("val"))
    detector = OutOfScope.fit(train_e, [y for _, y in pairs["train"]], val_p, val_e,
                              outliers=parts(texts("oos_val")), false_alarm=0.05)
    p_test, e_test = parts(texts("test"))
    p_oos, e_oos = parts(texts("oos_test"))
    right = np.array(classes)[p_test.argmax(axis=1)] == [y for _, y in pairs["test"]]
    unsure = np.quantile(1 - val_p.max(axis=1), 0.95)
    flags = {f"confidence + distance (weight {detector.weight:.1f})":
             (detector.flag(p_test, e_test), detector.flag(p_oos, e_oos)),
             "confidence only": ((1 - p_test.max(axis=1)) > unsure,
                                 (1 - p_oos.max(axis=1)) > unsure)}
    for label, (inside, outside) in flags.items():
        print(f"| {name} | {label} | {outside.mean():.3f} | {inside.mean():.3f} | "
              f"{np.mean(right & ~inside):.3f} (of {right.mean():.3f}) |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-clinc", action="store_true")
    args = parser.parse_args()
    data = {s: truth(s) for s in DRAIN}
    held = leave_one_out(data)
    print("| system | grouping (LOSO) | Drain | late templates | recall | false new "
          "/ 10k lines | alert delay (lines, median / most) | lines/s |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    wins = 0
    total_false = total_watched = total_firsts = total_credited = 0.0
    for system, (lines, events) in data.items():
        accuracy, _ = held[system]
        wins += accuracy >= DRAIN[system]
        a = alerts(system, events)
        total_false += a["false"]
        total_watched += a["watched"]
        total_firsts += a["firsts"]
        total_credited += a["recall"] * a["firsts"]
        print(f"| {system} | {accuracy:.4f} | {DRAIN[system]:.4f} | {a['firsts']:.0f} | "
              f"{a['recall']:.3f} | {a['false_per_10k']:.1f} | {a['delay']:.0f} / "
              f"{a['max_delay']} | "
              f"{speed(lines):,.0f} |")
    print(f"| all | {statistics.mean(h for h, _ in held.values()):.4f} (mean; ≥ Drain on "
          f"{wins}/14) | {statistics.mean(DRAIN.values()):.4f} | {total_firsts:.0f} | "
          f"{total_credited / total_firsts:.3f} | {1e4 * total_false / total_watched:.1f} "
          f"| | |")
    chosen = Counter(p for _, p in held.values())
    print("\nthresholds chosen by the 14 folds: " + ", ".join(
        f"{n} x (merge_values {p.merge_values}, max_diff {p.max_diff}, min_constant_share "
        f"{p.min_constant_share})" for p, n in chosen.most_common()))
    if not args.no_clinc:
        clinc()


if __name__ == "__main__":
    main()
