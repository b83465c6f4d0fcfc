"""``river.drift`` whose modules load when first used.

river's ``drift/__init__.py`` imports every detector and its example data sets up
front; the data sets pull in scikit-learn and pandas, KSWIN pulls in
``scipy.stats``: ~0.9 CPU-s and ~45 MB in every process that watches a signal
with ADWIN or HDDM_A. :func:`drift_package` puts the package in ``sys.modules``
without running that ``__init__``; its names (``ADWIN``, ``binary``, ``KSWIN``,
``datasets``, ...) import their own module when first read, under the same
module names, so pickled detector state reads and writes as before.

Examples
--------
>>> drift = drift_package()
>>> drift.ADWIN.__module__
'river.drift.adwin'
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from types import ModuleType

_HOMES = {"ADWIN": "adwin", "DriftRetrainingClassifier": "retrain",
          "DummyDriftDetector": "dummy", "KSWIN": "kswin", "NoDrift": "no_drift",
          "PageHinkley": "page_hinkley", "PeriodicTrigger": "dummy"}
"""Where each class of river's ``drift/__init__.py`` lives (``binary`` and ``datasets``
are subpackages of their own name)."""


def _lazy_attribute(name: str) -> object:
    """A name of ``river.drift``, its module imported now."""
    if name in ("binary", "datasets") or name in _HOMES.values():
        return importlib.import_module(f"river.drift.{name}")
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'river.drift' has no attribute {name!r}")
    return getattr(importlib.import_module(f"river.drift.{home}"), name)


def drift_package() -> ModuleType:
    """``river.drift``: the one already imported, else the package without its
    ``__init__`` (names load on first use)."""
    loaded = sys.modules.get("river.drift")
    if loaded is not None:
        return loaded
    import river

    spec = importlib.util.find_spec("river.drift")
    if spec is None:  # pragma: no cover - river is a dependency
        raise ImportError("river.drift is missing")
    package = importlib.util.module_from_spec(spec)
    package.__getattr__ = _lazy_attribute  # type: ignore[method-assign]
    package.__all__ = ["binary", "datasets", *_HOMES]  # type: ignore[attr-defined]
    sys.modules["river.drift"] = package
    river.drift = package  # type: ignore[attr-defined]
    return package
