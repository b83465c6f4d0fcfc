"""One registered model version and its ``meta.json``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from streamtune.errors import ModelNotFound

ONNX_FILE = "model.onnx"
CARD_FILE = "MODEL_CARD.md"
META_FILE = "meta.json"


@dataclass(frozen=True)
class ModelVersion:
    """A trained model as the registry keeps it: files in ``path``, metadata here.

    ``version`` is ``v1``, ``v2``, ... in registration order per ``name``;
    ``dataset`` names the snapshot it trained on (``{"name": ..., "id": ...}``);
    ``parent`` is the version it was warm-started from, if any.
    """

    name: str
    version: str
    path: Path
    sha256: str
    created_at: datetime
    dataset: dict[str, str]
    hyperparameters: dict[str, Any]
    metrics: dict[str, float]
    architecture: dict[str, Any]
    parent: str | None

    @property
    def onnx_path(self) -> Path:
        """The ONNX model scored by workers."""
        return self.path / ONNX_FILE

    @property
    def card_path(self) -> Path:
        """The rendered model card."""
        return self.path / CARD_FILE

    def file(self, name: str) -> Path:
        """A file registered with this version; :class:`ModelNotFound` if it has none."""
        path = self.path / name
        if "/" in name or not path.is_file():
            raise ModelNotFound(f"{self.name} {self.version} has no file {name!r}")
        return path

    def meta(self) -> dict[str, Any]:
        """The JSON-ready metadata (everything but ``path``)."""
        return {
            "name": self.name, "version": self.version, "sha256": self.sha256,
            "created_at": self.created_at.isoformat(), "dataset": self.dataset,
            "hyperparameters": self.hyperparameters, "metrics": self.metrics,
            "architecture": self.architecture, "parent": self.parent,
        }

    @classmethod
    def from_meta(cls, meta: dict[str, Any], path: Path) -> ModelVersion:
        """Rebuild a version from :meth:`meta` output and its folder."""
        return cls(
            name=meta["name"], version=meta["version"], path=path, sha256=meta["sha256"],
            created_at=datetime.fromisoformat(meta["created_at"]), dataset=meta["dataset"],
            hyperparameters=meta["hyperparameters"], metrics=meta["metrics"],
            architecture=meta["architecture"], parent=meta["parent"],
        )

    @classmethod
    def load(cls, path: Path) -> ModelVersion:
        """Read the version stored in folder ``path``."""
        meta = json.loads((path / META_FILE).read_text(encoding="utf-8"))
        return cls.from_meta(meta, path)
