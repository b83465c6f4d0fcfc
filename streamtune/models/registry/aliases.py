"""Per-model alias state: champion, challenger, earlier champions, history."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from streamtune.sinks.disk import write_json_atomic

Alias = Literal["champion", "challenger"]
ALIASES: tuple[Alias, ...] = ("champion", "challenger")
ALIASES_FILE = "aliases.json"


@dataclass
class AliasState:
    """What ``<data_dir>/models/<name>/aliases.json`` holds.

    ``earlier`` is the stack of earlier champions (newest last) that
    rollback pops; ``history`` lists every alias change, newest last.
    """

    champion: str | None = None
    challenger: str | None = None
    earlier: list[str] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def load(cls, model_dir: Path) -> AliasState:
        """The state in ``model_dir``; empty when none was written yet."""
        path = model_dir / ALIASES_FILE
        if not path.exists():
            return cls()
        return cls(**json.loads(path.read_text(encoding="utf-8")))

    def save(self, model_dir: Path) -> None:
        """Write the state atomically."""
        write_json_atomic(model_dir / ALIASES_FILE, asdict(self))
