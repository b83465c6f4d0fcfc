"""The models a worker serves: champion and candidate per model, swapped between batches.

:class:`ServingTable` loads the registry's champions at start, then applies
:class:`~streamtune.models.control.Serving` messages. A version that fails to
load (missing or corrupt file) leaves the previous one serving and comes
back as an alert; nothing is dropped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from streamtune.config import Settings
from streamtune.errors import StreamtuneError
from streamtune.models.control import Serving
from streamtune.models.registry import Registry
from streamtune.models.scoring import Scorer
from streamtune.models.tagging import TagScorer
from streamtune.schemas.alerts import Alert

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Loaded:
    """One model version opened in onnxruntime."""

    model: str
    version: str
    scorer: Any
    """:class:`Scorer`, or :class:`TagScorer` for ``parameter_extractor``."""


@dataclass(frozen=True)
class Slot:
    """What serves one model now."""

    champion: Loaded | None = None
    candidate: Loaded | None = None
    percent: float = 0.0


class ServingTable:
    """Per model: the loaded champion, the candidate and its share of sessions."""

    def __init__(self, settings: Settings, *, source: str) -> None:
        self.settings = settings
        self.source = source
        self.registry = Registry(settings)
        self.slots: dict[str, Slot] = {name: Slot() for name in settings.scoring.models}
        self._cache: dict[tuple[str, str], Loaded] = {}

    def load_champions(self) -> list[Alert]:
        """Open every served model's registry champion; models without one are skipped."""
        alerts: list[Alert] = []
        for name in self.slots:
            alerts += self.apply(Serving(name, champion=None, reason="start", seq=0))
        return alerts

    def apply(self, serving: Serving) -> list[Alert]:
        """Re-read ``serving.model``'s registry aliases and apply the candidate share."""
        name = serving.model
        if name not in self.slots:
            return []
        slot = self.slots[name]
        alerts: list[Alert] = []
        champion_version = self._alias(name, "champion")
        champion = slot.champion
        if champion_version is not None and (champion is None
                                             or champion.version != champion_version):
            champion = self._load(name, champion_version, alerts) or champion
        candidate = None
        if serving.candidate and serving.candidate != champion_version:
            candidate = self._load(name, serving.candidate, alerts)
        percent = serving.percent if candidate is not None else 0.0
        new = Slot(champion, candidate, percent)
        if new != slot:
            log.info("serving %s: champion %s, candidate %s at %.0f %% (%s)", name,
                     champion.version if champion else None,
                     candidate.version if candidate else None, percent, serving.reason)
        self.slots[name] = new
        return alerts

    def _alias(self, name: str, alias: str) -> str | None:
        try:
            found = self.registry.alias(name, alias)  # type: ignore[arg-type]
        except (StreamtuneError, OSError, ValueError) as exc:
            log.warning("cannot read the %s aliases: %s", name, exc)
            return None
        return None if found is None else found.version

    def _load(self, name: str, version: str, alerts: list[Alert]) -> Loaded | None:
        key = (name, version)
        if key in self._cache:
            return self._cache[key]
        try:
            path = self.registry.get(name, version).path
            scorer = TagScorer(path) if name == "parameter_extractor" else Scorer(path)
            _warm_up(scorer)
        except Exception as exc:  # any load failure keeps the previous version serving
            log.error("cannot load %s %s, keeping the previous version: %s", name, version, exc)
            alerts.append(Alert.raise_(
                kind="rollout", severity="critical", title=f"{name} {version} failed to load",
                summary=f"{type(exc).__name__}: {exc}. The worker keeps the previous version.",
                key=f"load/{self.source}/{version}", signal="model_load", model=name,
                version=version, source=self.source))
            return None
        loaded = Loaded(name, version, scorer)
        self._cache = {k: v for k, v in self._cache.items() if k[0] != name
                       or self._in_use(v)} | {key: loaded}
        return loaded

    def _in_use(self, loaded: Loaded) -> bool:
        slot = self.slots.get(loaded.model, Slot())
        return loaded in (slot.champion, slot.candidate)


WARM_UP_CALLS = 20
"""Scoring calls a freshly loaded session makes before it serves: onnxruntime's first calls
allocate, and a cold candidate would look slower than the warm champion in the canary."""


def _warm_up(scorer: Scorer | TagScorer) -> None:
    for size in (1, 64) * (WARM_UP_CALLS // 2):
        if isinstance(scorer, TagScorer):
            scorer.extract(["warm up the session"] * size)
        else:
            scorer.predict([{}] * size)
