"""Build the compiled hot path (``python -m streamtune.native_build``; ``make install`` runs it).

Compiles :data:`streamtune.native.MODULES` with mypyc into ``build/native/`` and writes the
record :func:`streamtune.native.enable` checks. Needs mypy (the dev extra) and a C
compiler; without them, or if compiling fails, it says so and leaves no build: the
modules then run as plain Python. Nothing is rebuilt while the record matches.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import sys
import time
from contextlib import chdir, redirect_stdout
from pathlib import Path

from streamtune.native import (
    BUILD,
    MODULES,
    RECORD,
    ROOT,
    compiled_extensions,
    fingerprint,
    source_of,
)


def build() -> dict[str, str]:
    """Compile the modules; return module name -> extension path (relative to the build)."""
    from mypyc.build import mypycify
    from setuptools import Distribution

    shutil.rmtree(BUILD, ignore_errors=True)
    said = io.StringIO()  # mypyc's notes on the code: shown only if the build fails
    try:
        with chdir(ROOT), redirect_stdout(said):  # mypy's settings, module names: the root's
            extensions = mypycify([str(source_of(m).relative_to(ROOT)) for m in MODULES],
                                  opt_level="3", target_dir=str(BUILD / "c"))
            command = Distribution({"name": "streamtune-native",
                                    "ext_modules": extensions}).get_command_obj("build_ext")
            command.build_lib = str(BUILD)
            command.build_temp = str(BUILD / "objects")
            command.ensure_finalized()
            command.run()
    except BaseException:
        print(said.getvalue()[-4000:], file=sys.stderr)
        raise
    built: dict[str, str] = {}
    for extension in extensions:
        path = Path(command.get_ext_fullpath(extension.name))
        built[extension.name] = str(path.relative_to(BUILD))
    return built


def main() -> int:
    if compiled_extensions() is not None:
        print("native build: up to date")
        return 0
    started = time.perf_counter()
    try:
        extensions = build()
    except Exception as exc:  # noqa: BLE001 - any failure leaves plain Python, said once
        shutil.rmtree(BUILD, ignore_errors=True)
        print(f"native build failed, the hot path runs as plain Python: {exc}",
              file=sys.stderr)
        return 0
    RECORD.write_text(json.dumps({"fingerprint": fingerprint(), "extensions": extensions},
                                 indent=1))
    print(f"native build: {len(MODULES)} modules compiled by mypyc in "
          f"{time.perf_counter() - started:.0f} s ({os.path.relpath(BUILD)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
