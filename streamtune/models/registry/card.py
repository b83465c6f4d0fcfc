"""The model card: a Markdown page rendered from a version's metadata."""

from __future__ import annotations

import json
from typing import Any

from streamtune.models.registry.version import CARD_FILE, META_FILE, ONNX_FILE, ModelVersion


def _value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict | list):
        return f"`{json.dumps(value, sort_keys=True)}`"
    return str(value)


def _table(header: tuple[str, str], rows: dict[str, Any]) -> list[str]:
    if not rows:
        return ["(none recorded)"]
    lines = [f"| {header[0]} | {header[1]} |", "| --- | --- |"]
    lines += [f"| {key} | {_value(value)} |" for key, value in rows.items()]
    return lines


def _commented(commands: list[tuple[str, str]]) -> list[str]:
    width = max(len(command) for command, _ in commands)
    return [f"streamtune models {command.ljust(width)}   # {note}" for command, note in commands]


def render_card(model: ModelVersion, *, files: list[str], usage: str = "") -> str:
    """Markdown card: architecture, training parameters, metrics, files, usage."""
    created = model.created_at.strftime("%Y-%m-%d %H:%M:%S UTC")
    origin = f"warm-started from {model.parent}" if model.parent else "trained from scratch"
    dataset = model.dataset.get("name", "?")
    lines = [
        f"# {model.name} {model.version}", "",
        f"Registered {created}; {origin}. ONNX SHA-256 `{model.sha256}`.", "",
        "## Architecture", "", *_table(("component", "value"), model.architecture), "",
        "## Training parameters", "",
        f"Dataset snapshot: `{dataset}` (id `{model.dataset.get('id', '?')}`).", "",
        *_table(("hyperparameter", "value"), model.hyperparameters), "",
        "## Performance metrics", "", *_table(("metric", "value"), model.metrics), "",
        "## Files", "",
        *[f"- `{name}`" for name in sorted({*files, META_FILE, CARD_FILE})], "",
        "## Usage", "",
    ]
    if usage.strip():
        lines += [usage.strip(), ""]
    lines += [
        "Score with onnxruntime (inputs and outputs as listed by the session):", "",
        "```python",
        "import onnxruntime as ort",
        f'session = ort.InferenceSession("{model.onnx_path}")',
        "print([(i.name, i.shape, i.type) for i in session.get_inputs()])",
        "outputs = session.run(None, {session.get_inputs()[0].name: inputs})",
        "```", "",
        "From the command line:", "",
        "```sh",
        *_commented([(f"show {model.name} {model.version}", "this metadata"),
                     (f"promote {model.name} {model.version}", "make it the champion"),
                     (f"rollback {model.name}", "back to the previous champion")]),
        "```", "",
        f"In Python: `Registry(settings).get({model.name!r}, {model.version!r}).onnx_path`, "
        f"or `Registry(settings).alias({model.name!r}, 'champion')`. "
        f"The file scored by workers is `{ONNX_FILE}`.",
    ]
    return "\n".join(lines) + "\n"
