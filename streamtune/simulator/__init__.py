"""Synthetic data sources: a seeded control-system simulator, drift scenarios, hostile input.

Examples
--------
>>> from datetime import UTC, datetime
>>> sim = Simulator(1, scenario=Scenario.standard(1000),
...                 start=datetime(2026, 1, 1, tzinfo=UTC))
>>> lines = list(to_jsonl(sim.events(1000)))
>>> [c["change"] for c in sim.ground_truth()][:2]
['error_rate', 'execution_time_shift']
"""

from streamtune.simulator.generator import (
    ALL_COMMANDS,
    KIND_WEIGHTS,
    Simulator,
    to_jsonl,
)
from streamtune.simulator.hostile import HOSTILE_CATEGORIES, SQL_INJECTIONS, hostile_payloads
from streamtune.simulator.scenario import (
    BASE_ERROR_RATE,
    DEFAULT_SYNONYMS,
    FUTURE_COMMANDS,
    NEW_PHRASINGS,
    ErrorRateDrift,
    ExecutionTimeDrift,
    NewCommandTypeDrift,
    NewPhrasingsDrift,
    Scenario,
    VocabularyDrift,
)

__all__ = [
    "ALL_COMMANDS",
    "BASE_ERROR_RATE",
    "DEFAULT_SYNONYMS",
    "FUTURE_COMMANDS",
    "HOSTILE_CATEGORIES",
    "KIND_WEIGHTS",
    "NEW_PHRASINGS",
    "SQL_INJECTIONS",
    "ErrorRateDrift",
    "ExecutionTimeDrift",
    "NewCommandTypeDrift",
    "NewPhrasingsDrift",
    "Scenario",
    "Simulator",
    "VocabularyDrift",
    "hostile_payloads",
    "to_jsonl",
]
