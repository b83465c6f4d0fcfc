"""The compiled hot path (streamtune/native.py): used only while its build matches the
sources, and computing what plain Python computes."""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import streamtune.streams.worker.batch as batch_module
from streamtune.native import (
    MODULES,
    ROOT,
    compiled,
    compiled_extensions,
    fingerprint,
    source_of,
)

BUILT = compiled_extensions() is not None


def _tree(tmp_path: Path) -> tuple[Path, Path]:
    """A copy of the compiled modules' sources and a build recorded for them, with an
    (empty) file standing for each extension."""
    root, build = tmp_path / "src", tmp_path / "build"
    for module in MODULES:
        target = source_of(module, root)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(source_of(module).read_bytes())
    extensions = {module: f"{module.replace('.', '/')}.so" for module in MODULES}
    for relative in extensions.values():
        (build / relative).parent.mkdir(parents=True, exist_ok=True)
        (build / relative).touch()
    (build / "record.json").write_text(json.dumps(
        {"fingerprint": fingerprint(root), "extensions": extensions}))
    return root, build


def test_a_build_is_used_while_it_matches_its_sources(tmp_path: Path) -> None:
    root, build = _tree(tmp_path)
    found = compiled_extensions(build, root)
    assert found is not None and set(found) == set(MODULES)
    assert found["streamtune.sinks.rows"] == build / "streamtune/sinks/rows.so"


def test_an_edited_module_or_a_missing_extension_means_plain_python(tmp_path: Path) -> None:
    root, build = _tree(tmp_path)
    edited = source_of("streamtune.transforms.cleaning", root)
    edited.write_text(edited.read_text() + "\n# edited\n")
    assert compiled_extensions(build, root) is None
    root, build = _tree(tmp_path / "again")
    (build / "streamtune/transforms/dedup.so").unlink()
    assert compiled_extensions(build, root) is None
    assert compiled_extensions(tmp_path / "nowhere", root) is None


def test_the_record_holds_every_module_digest_and_the_python() -> None:
    found = fingerprint()
    assert found["python"] == sys.version
    assert found["streamtune.schemas.decode"] == hashlib.sha256(
        (ROOT / "streamtune/schemas/decode.py").read_bytes()).hexdigest()


@pytest.mark.skipif(not BUILT, reason="no native build matches the sources")
def test_the_hot_path_is_imported_compiled_and_names_its_source() -> None:
    assert compiled()
    assert not inspect.isfunction(batch_module.source_of_topic)  # a C function
    assert batch_module.__spec__ is not None and batch_module.__spec__.origin is not None
    assert batch_module.__spec__.origin.startswith(str(ROOT / "build" / "native"))
    assert batch_module.__file__ == str(ROOT / "streamtune/streams/worker/batch.py")


_DIGEST = """
import hashlib, json, sys
sys.path.insert(0, {benchmarks!r})
from steps import records
from streamtune.config import Settings
from streamtune.native import compiled
from streamtune.sinks.rows import event_json, row_by_row
from streamtune.streams.worker.batch import BatchProcessor
result = BatchProcessor(Settings(_env_file=None)).process(
    records(3000, hostile_share=0.05, secret_share=0.05), now=0.0, augment=False)
digest = hashlib.sha256()
for event, position in result.events:
    digest.update(event_json(event) + repr(position).encode())
for table, row in row_by_row(result.event_rows()):
    if table != "dead_letters":  # they hold the time they failed at
        digest.update(table.encode() + repr(sorted(row.items())).encode())
for letter in result.dead_letters:
    digest.update(repr((letter.offset, letter.category, letter.reason, letter.raw_b64)).encode())
for delta in sorted(result.deltas, key=repr):
    if not delta.aggregate.dlq:  # dead letters count in the window they failed in
        digest.update(json.dumps(delta.to_json(), sort_keys=True).encode())
print(compiled(), len(result.events), len(result.dead_letters), digest.hexdigest())
"""


@pytest.mark.skipif(not BUILT, reason="no native build matches the sources")
def test_compiled_and_plain_python_batches_come_out_the_same() -> None:
    """A batch of simulated, hostile and secret-holding records: the same events, dead
    letters, rows and window deltas either way (event ids given, times fixed)."""
    script = _DIGEST.format(benchmarks=str(ROOT / "benchmarks"))
    outputs = []
    for native in ("1", "0"):
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                              env={**os.environ, "STREAMTUNE_NATIVE": native}, check=True,
                              timeout=120)
        outputs.append(done.stdout.split())
    (compiled_run, *compiled_out), (plain_run, *plain_out) = outputs
    assert (compiled_run, plain_run) == ("True", "False")
    assert int(compiled_out[1]) > 100  # dead letters: the hostile records
    assert compiled_out == plain_out


def test_the_compiled_modules_doctests_run_as_plain_python() -> None:
    """pytest finds no doctest in a compiled module: they run here, in plain Python."""
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--doctest-modules",
         *(str(source_of(module)) for module in MODULES)],
        cwd=ROOT, env={**os.environ, "STREAMTUNE_NATIVE": "0"}, capture_output=True,
        text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout[-2000:]  # 5 if none was found
    assert " passed" in done.stdout and "failed" not in done.stdout


def test_no_final_name_is_baked_into_the_compiled_modules() -> None:
    """mypyc copies the value of a ``Final`` literal into the code that reads it, also from
    modules it does not compile, which the build's fingerprint does not cover: a change
    there would leave a stale build. streamtune declares none."""
    declared = [f"{path.relative_to(ROOT)}:{n}"
                for path in sorted((ROOT / "streamtune").rglob("*.py"))
                for n, line in enumerate(path.read_text().splitlines(), 1)
                if re.search(r":\s*(typing\.)?Final\b", line)]
    assert declared == []
