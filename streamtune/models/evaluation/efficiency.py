"""Efficiency figures of an exported model in onnxruntime, featurization included.

Single-event latency (p50/p99 over ``singles`` calls of one input each) and
batched throughput (``batch`` inputs per call) as a worker scores them; CPU
time per 1,000 events (the resource a worker pays); the growth of resident
memory while scoring; and the model's size: ONNX file bytes, parameter count
and weight bytes from its initializers. Times depend on the machine and its
load: compare figures measured in the same run.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from streamtune.models.scoring import Scorer
from streamtune.models.tasks import Example


def resident_bytes() -> int | None:
    """This process's resident set size now (Linux), else None."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE")


def model_size(onnx_path: Path) -> dict[str, int]:
    """File bytes, parameter count and weight bytes of an ONNX model."""
    import onnx
    from onnx import helper

    graph = onnx.load(str(onnx_path), load_external_data=False).graph
    parameters = weight_bytes = 0
    for init in graph.initializer:
        count = math.prod(init.dims)
        parameters += count
        weight_bytes += count * np.dtype(helper.tensor_dtype_to_np_dtype(init.data_type)).itemsize
    return {"file_bytes": onnx_path.stat().st_size, "parameters": parameters,
            "weight_bytes": weight_bytes}


def efficiency(scorer: Scorer, examples: Sequence[Example], *, singles: int = 500,
               batch: int = 256, rounds: int = 5) -> dict[str, Any]:
    """Latency, throughput, CPU time, memory growth and size of ``scorer``'s model."""
    if not examples:
        raise ValueError("efficiency needs at least one example")
    texts = [e.text for e in examples]
    fields = [e.fields for e in examples]
    scorer.probabilities_of(texts[:batch], fields[:batch])  # warm-up: session, caches
    latencies = np.empty(singles)
    for i in range(singles):
        j = i % len(texts)
        started = time.perf_counter()
        scorer.probabilities_of(texts[j:j + 1], fields[j:j + 1])
        latencies[i] = time.perf_counter() - started
    chunks = [(texts[s:s + batch], fields[s:s + batch]) for s in range(0, len(texts), batch)]
    rss_before = resident_bytes()
    rss_peak = rss_before or 0
    scored, wall, cpu = 0, 0.0, 0.0
    for _ in range(rounds):
        for chunk_texts, chunk_fields in chunks:
            started, cpu_started = time.perf_counter(), time.process_time()
            scorer.probabilities_of(chunk_texts, chunk_fields)
            wall += time.perf_counter() - started
            cpu += time.process_time() - cpu_started
            scored += len(chunk_texts)
            rss_peak = max(rss_peak, resident_bytes() or 0)
    return {
        "single_p50_us": float(np.percentile(latencies, 50) * 1e6),
        "single_p99_us": float(np.percentile(latencies, 99) * 1e6),
        "batch_size": batch,
        "batched_events_per_s": scored / wall if wall > 0 else None,
        "cpu_ms_per_1k_events": cpu / scored * 1e6 if scored else None,
        "rss_bytes": rss_peak or None,
        "rss_growth_bytes": rss_peak - rss_before if rss_before is not None else None,
        **model_size(scorer.directory / "model.onnx"),
    }
