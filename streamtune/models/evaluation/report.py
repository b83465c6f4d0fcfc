"""Write an evaluation result as ``evaluation.json`` and a readable ``evaluation.md``."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

JSON_FILE = "evaluation.json"
MARKDOWN_FILE = "evaluation.md"


def write_report(result: Mapping[str, Any], directory: Path) -> tuple[Path, Path]:
    """Write both files into ``directory`` (each atomically); return their paths."""
    json_path, md_path = directory / JSON_FILE, directory / MARKDOWN_FILE
    _write(json_path, json.dumps(result, indent=2) + "\n")
    _write(md_path, render_markdown(result))
    return json_path, md_path


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}" if abs(value) < 1e4 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value).replace("|", "\\|")


def _table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_fmt(v) for v in row) + " |" for row in rows]
    return lines + [""]


def render_markdown(result: Mapping[str, Any]) -> str:
    """The report as markdown: accuracy (beside the baseline), robustness and efficiency."""
    model = result["model"]
    title = " ".join(str(model[k]) for k in ("name", "version") if k in model) or model["task"]
    lines = [f"# Evaluation: {title} ({model['task']})", ""]
    if "dataset" in result:
        d = result["dataset"]
        lines += [f"Dataset `{d['name']}` snapshot `{d['id']}`, {d['split']} split "
                  f"(by {d['by']})."]
    lines += [f"{result['examples']:,} examples from {result['rows']:,} rows; "
              f"seed {result['seed']}.", "", "## Accuracy", ""]
    lines += _table(["head", "examples", "accuracy", "macro-F1", "unlabelled",
                     "labels unknown to the model"],
                    ([head, r["examples"], r["accuracy"], r["macro_f1"], r["missing"],
                      ", ".join(f"{k} ({n})" for k, n in r["unknown"].items()) or "none"]
                     for head, r in result["accuracy"].items()))
    if (baseline := result.get("baseline")) is not None:
        lines += _baseline(baseline, result["accuracy"][baseline["head"]])
    for head in result["accuracy"]:
        with_baseline = baseline is not None and baseline["head"] == head
        lines += [f"### Per class: {head}", "", "Worst F1 first.", ""]
        lines += _table(["class", "support", "precision", "recall", "F1",
                         *(["baseline F1"] if with_baseline else [])],
                        ([r["class"], r["support"], r["precision"], r["recall"], r["f1"],
                          *([r["baseline_f1"]] if with_baseline else [])]
                         for r in class_rows(result, head)))
    if (carried := result.get("carried_parameters")) is not None:
        lines += ["## Carried parameters", "",
                  "Next-command parameters named in the history, carried forward "
                  "for the predicted (and, for comparison, the true) command type.", ""]
        lines += _table(["parameters", "accuracy", "with true type"],
                        [[carried["parameters"], carried["accuracy"], carried["with_true_type"]]])
    lines += _robustness(result["robustness"], list(model["heads"]))
    lines += ["## Efficiency", "", "onnxruntime, one thread, featurization included.", ""]
    e = result["efficiency"]
    lines += _table(["figure", "value"], [
        ["single event p50 (µs)", e["single_p50_us"]],
        ["single event p99 (µs)", e["single_p99_us"]],
        [f"batched throughput, batch {e['batch_size']} (events/s)", e["batched_events_per_s"]],
        ["CPU time per 1,000 events (ms)", e["cpu_ms_per_1k_events"]],
        ["resident memory while scoring (MB)", _mb(e["rss_bytes"])],
        ["resident memory growth while scoring (MB)", _mb(e["rss_growth_bytes"])],
        ["model file (MB)", _mb(e["file_bytes"])], ["parameters", e["parameters"]],
        ["weights in memory (MB)", _mb(e["weight_bytes"])]])
    return "\n".join(lines)


def class_rows(result: Mapping[str, Any], head: str) -> list[dict[str, Any]]:
    """Per class of ``head``, worst model F1 first (then larger support, then by name):
    support, precision, recall and F1, and ``baseline_f1`` (None without a baseline figure)."""
    baseline = result.get("baseline") or {}
    theirs = baseline.get("per_class", {}) if baseline.get("head") == head else {}
    rows = [{"class": label, "support": c["support"], "precision": c["precision"],
             "recall": c["recall"], "f1": c["f1"],
             "baseline_f1": theirs[label]["f1"] if label in theirs else None}
            for label, c in result["accuracy"][head]["per_class"].items()]
    return sorted(rows, key=lambda r: (r["f1"], -r["support"], r["class"]))


def _baseline(baseline: Mapping[str, Any], model: Mapping[str, Any]) -> list[str]:
    c = "the most common training label" if baseline["C"] is None else f"C = {baseline['C']:g}"
    lines = ["### Baseline", "",
             f"{baseline['method']} on the text alone, trained on the same snapshot's "
             f"{baseline['train_examples']:,} training examples ({c}, chosen on "
             f"{baseline['validation_examples']:,} validation examples), head "
             f"`{baseline['head']}`; fitted and scored in {baseline['seconds']:.1f} s.", ""]
    return lines + _table(["figure", "model", "baseline", "difference"], (
        [label, model[key], baseline[key], baseline["difference"][key]]
        for label, key in (("macro-F1", "macro_f1"), ("accuracy", "accuracy"))))


def _mb(value: int | None) -> float | None:
    return None if value is None else value / 1e6


def _robustness(r: Mapping[str, Any], heads: list[str]) -> list[str]:
    lines = ["## Robustness", "", "### Noise resistance", "",
             "Accuracy with each perturbation applied to every word of the text input "
             "with the given probability (seeded).", ""]
    rows: list[list[Any]] = [["none (clean)", "0", *(r["clean"][h] for h in heads)]]
    for kind, by_rate in r["perturbed"].items():
        rows += [[kind, rate, *(acc[h] for h in heads)] for rate, acc in by_rate.items()]
    lines += _table(["perturbation", "rate", *heads], rows)
    lines += ["### Context sensitivity", ""]
    if r["context"] is None:
        lines += ["The model takes no context fields.", ""]
    else:
        lines += _table(["context", *heads],
                        ([name, *(acc[h] for h in heads)] for name, acc in r["context"].items()))
    lines += ["### Edge cases", ""]
    edge_rows: list[list[Any]] = []
    for case, outcome in r["edge_cases"].items():
        if "error" in outcome:
            edge_rows.append([case, "all", 0.0, f"error: {outcome['error']}", None])
            continue
        for head, h in outcome["heads"].items():
            top = ", ".join(f"{label} ({n})" for label, n in h["labels"].items())
            edge_rows.append([case, head, h["valid_share"], top, h["confidence_mean"]])
    return lines + _table(["case", "head", "valid outputs", "predicted labels",
                           "mean confidence"], edge_rows)
