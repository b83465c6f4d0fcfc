"""The ``streamtune`` command line.

Every user error (unreachable broker, bad file, bad setting) prints one line
on stderr and exits non-zero; tracebacks are for bugs only.
"""

from __future__ import annotations

import sys

# isort: off
from streamtune.cli import pipeline  # registers first: stream-side commands lead the help
from streamtune.cli import status
from streamtune.cli import learning
from streamtune.cli import dataset_import  # after learning: `dataset import` follows `diff`
from streamtune.cli import loop
from streamtune.cli import report
# isort: on
from streamtune.cli.app import app, err_console
from streamtune.errors import StreamtuneError

__all__ = ["app", "dataset_import", "learning", "loop", "main", "pipeline", "report", "status"]


def main() -> None:
    """Entry point: run the app, turning streamtune errors into one line and exit 1."""
    try:
        app()
    except StreamtuneError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)
