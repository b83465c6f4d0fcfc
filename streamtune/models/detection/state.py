"""Detector state that survives a worker restart: both monitors pickled to one file.

River detectors and template miners are plain Python objects, so the state is one
pickle, written to a temporary file beside the target and moved over it with
``os.replace`` (a crash mid-write leaves the previous file). A missing, corrupt
or foreign file (another source, other detection settings) means a fresh start
with a logged warning, never a crash. The file is trusted: it lives in the
worker's own data directory (``<data_dir>/detection/<source>.pkl``).
"""

from __future__ import annotations

import logging
import os
import pickle
import tempfile
from dataclasses import dataclass
from pathlib import Path

from streamtune.config import DetectionSettings
from streamtune.models.detection.monitor import DriftMonitor
from streamtune.models.detection.patterns import PatternMiner

log = logging.getLogger(__name__)

FORMAT = 3
"""Version of the saved layout; another version starts fresh (3: held variant patterns)."""


def state_path(data_dir: Path, source: str) -> Path:
    """Where the state of ``source`` lives under the data directory."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in source) or "default"
    return Path(data_dir) / "detection" / f"{safe}.pkl"


@dataclass
class DetectionState:
    """The drift monitor and pattern miner of one source, saved and loaded together."""

    drift: DriftMonitor
    patterns: PatternMiner

    @classmethod
    def fresh(cls, settings: DetectionSettings, source: str) -> DetectionState:
        """New monitors with no history."""
        return cls(DriftMonitor(settings, source=source), PatternMiner(settings, source=source))

    @classmethod
    def load(cls, path: Path, settings: DetectionSettings, source: str) -> DetectionState:
        """The saved state at ``path``, or a fresh one (with a warning) if it cannot be used."""
        if not path.exists():
            log.warning("no detection state at %s; starting fresh", path)
            return cls.fresh(settings, source)
        try:
            with path.open("rb") as f:
                saved = pickle.load(f)  # noqa: S301 - our own file in the worker's data dir
        except Exception as exc:  # a corrupt file has many ways to fail
            log.warning("detection state %s unreadable (%s); starting fresh", path, exc)
            return cls.fresh(settings, source)
        problem = _mismatch(saved, settings, source)
        if problem:
            log.warning("detection state %s not used (%s); starting fresh", path, problem)
            return cls.fresh(settings, source)
        return cls(saved["drift"], saved["patterns"])

    def save(self, path: Path) -> None:
        """Write the state atomically (temporary file, then ``os.replace``)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {"format": FORMAT, "source": self.drift.source,
                   "settings": self.drift.settings.model_dump(),
                   "drift": self.drift, "patterns": self.patterns}
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                pickle.dump(payload, f, protocol=pickle.HIGHEST_PROTOCOL)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def _mismatch(saved: object, settings: DetectionSettings, source: str) -> str:
    """Why ``saved`` cannot be used with these settings and source ('' if it can)."""
    if not isinstance(saved, dict) or saved.get("format") != FORMAT:
        return "not a detection state of this version"
    if not isinstance(saved.get("drift"), DriftMonitor) or not isinstance(
            saved.get("patterns"), PatternMiner):
        return "not a detection state of this version"
    if saved.get("source") != source:
        return f"saved for source {saved.get('source')!r}, not {source!r}"
    if saved.get("settings") != settings.model_dump():
        return "detection settings changed"
    return ""
