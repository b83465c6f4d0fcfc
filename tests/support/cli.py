"""Running the ``streamtune`` command in a child process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def run_cli(*args: str, cwd: Path,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("STREAMTUNE_")}
    return subprocess.run([sys.executable, "-m", "streamtune", *args], cwd=cwd, text=True,
                          capture_output=True, timeout=60, env={**base, **(env or {})})
