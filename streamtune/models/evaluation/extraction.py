"""Evaluate the parameter extractor: span precision/recall/F1 against the grammar, robustness
to typos, edge cases and speed, written as ``evaluation.json`` / ``evaluation.md``."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from streamtune.models.evaluation.perturb import EDGE_CASES, edge_case
from streamtune.models.evaluation.report import JSON_FILE, MARKDOWN_FILE, _table, _write
from streamtune.models.tagging import TagScorer, labelled, rule_spans, span_metrics, with_typos


def evaluate_extractor(scorer: TagScorer, rows: Sequence[Mapping[str, Any]], *,
                       seed: int = 0, singles: int = 300, batch: int = 256) -> dict[str, Any]:
    """Span metrics of the model and of the grammar on clean and typo'd rows, edges, speed."""
    originals = [r for r in rows if not r.get("synthetic") and labelled(r)]
    typos = with_typos(originals, seed)

    def model(rows_: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        texts = [found[0] for r in rows_ if (found := labelled(r))]
        return span_metrics(rows_, scorer.extract(texts))

    def grammar(rows_: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        return span_metrics(rows_, [rule_spans(r) for r in rows_ if labelled(r)])

    texts = [found[0] for r in originals if (found := labelled(r))]
    rng = random.Random(seed)  # noqa: S311 - reproducible probes
    edges = {}
    for kind in EDGE_CASES:
        probe = edge_case(kind, texts[0] if texts else "", rng=rng)
        spans = scorer.extract([probe])[0]
        edges[kind] = {"spans": len(spans), "in_bounds": all(
            0 <= s.start < s.end <= len(probe) and probe[s.start:s.end] == s.value
            for s in spans)}
    latencies = np.empty(min(singles, max(1, len(texts))))
    for i in range(len(latencies)):
        started = time.perf_counter()
        scorer.extract(texts[i % len(texts):i % len(texts) + 1] if texts else [""])
        latencies[i] = time.perf_counter() - started
    started = time.perf_counter()
    scorer.extract(texts[:batch])
    batched = min(batch, len(texts)) / max(time.perf_counter() - started, 1e-9)
    return {"model": {"task": "parameter_extractor", "directory": str(scorer.directory),
                      "labels": len(scorer.labels)},
            "rows": len(originals), "examples": len(originals), "seed": seed,
            "clean": {"model": model(originals), "grammar": grammar(originals)},
            "typos": {"model": model(typos), "grammar": grammar(typos)},
            "edge_cases": edges,
            "efficiency": {"single_p50_us": float(np.percentile(latencies, 50) * 1e6),
                           "single_p99_us": float(np.percentile(latencies, 99) * 1e6),
                           "batched_events_per_s": batched,
                           "model_bytes": (scorer.directory / "model.onnx").stat().st_size}}


def extractor_headline(result: Mapping[str, Any]) -> dict[str, float]:
    """One line per figure worth a glance."""
    out = {f"{case}.{who}.micro_f1": result[case][who]["micro"]["f1"]
           for case in ("clean", "typos") for who in ("model", "grammar")}
    out["clean.model.macro_f1"] = result["clean"]["model"]["macro"]["f1"]
    out["edge_cases.in_bounds"] = float(all(e["in_bounds"] for e in result["edge_cases"].values()))
    out.update({k: result["efficiency"][k] for k in ("single_p50_us", "single_p99_us",
                                                      "batched_events_per_s")})
    return out


def write_extractor_report(result: Mapping[str, Any], directory: Path) -> tuple[Path, Path]:
    """Write ``evaluation.json`` and ``evaluation.md`` into ``directory``."""
    json_path, md_path = directory / JSON_FILE, directory / MARKDOWN_FILE
    _write(json_path, json.dumps(result, indent=2) + "\n")
    lines = [f"# Evaluation: parameter_extractor on {result['rows']} test commands", "",
             "## Spans (exact name, start and end)", ""]
    lines += _table(["rows", "who", "micro P", "micro R", "micro F1", "macro F1", "token acc."],
                    [[case, who, m["micro"]["precision"], m["micro"]["recall"],
                      m["micro"]["f1"], m["macro"]["f1"], m["token_accuracy"]]
                     for case in ("clean", "typos")
                     for who, m in result[case].items()])
    lines += ["## Per parameter (clean rows, model)", ""]
    lines += _table(["parameter", "precision", "recall", "F1"],
                    [[name, c["precision"], c["recall"], c["f1"]]
                     for name, c in result["clean"]["model"]["per_class"].items()])
    lines += ["## Edge cases", ""]
    lines += _table(["input", "spans", "all in bounds"],
                    [[k, v["spans"], str(v["in_bounds"])] for k, v in result["edge_cases"].items()])
    lines += ["## Efficiency (onnxruntime, 1 thread)", ""]
    lines += _table(["figure", "value"], list(result["efficiency"].items()))
    _write(md_path, "\n".join(lines))
    return json_path, md_path
