"""A worker loads what it runs, not river's example data sets or pandas (each process
paid ~1.3 CPU-s and ~45 MB for them, and pyarrow's first array of a list ~50 MB more for
pandas and Arrow's compute registry), and river's drift detectors stay whole."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

PROBE = """
import json, sys
import streamtune.streams.worker.app, streamtune.streams.worker.startup
from streamtune.sinks.migrations import migrate
from streamtune.sinks.store import ClickHouseStore
from streamtune.models.detection.detectors import make_detector, feed
from streamtune.schemas.dead_letter import DeadLetter
from streamtune.sinks.rows import RowWriter
from streamtune.transforms.redaction import Redactor
store = ClickHouseStore(f"chdb://{sys.argv[1]}", database="probe")
migrate(store)  # row inserts
letter = DeadLetter.minimal(reason="probe", topic="raw.commands", partition=0, offset=1)
RowWriter(store).write([("dead_letters", dict(letter))])  # an Arrow insert
assert Redactor().screen(["password=x", {"n": 1}]) == [True, False]  # the secret gate
detector = make_detector("adwin", "continuous")
for i in range(50):
    feed(detector, float(i % 2))
before = sorted(m for m in ("sklearn", "pandas", "scipy.stats", "pyarrow.compute")
                if m in sys.modules)
from river import drift
from river.drift import KSWIN
kswin = drift.KSWIN(seed=7)
print(json.dumps({"before": before, "kswin": type(kswin).__module__,
                  "same": KSWIN is drift.KSWIN, "binary": drift.binary.HDDMW.__name__,
                  "datasets": hasattr(drift.datasets, "Apple")}))
"""


def test_a_worker_loads_neither_sklearn_nor_pandas_and_river_drift_is_whole(
        tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", PROBE, str(tmp_path / "chdb")],
                          capture_output=True, text=True, timeout=120, check=True)
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found == {"before": [], "kswin": "river.drift.kswin", "same": True,
                     "binary": "HDDMW", "datasets": True}
