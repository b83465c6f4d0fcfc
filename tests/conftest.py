"""Fixtures shared by every test; shared helpers live in ``tests/support``.

``make test`` runs the suite on pytest-xdist workers (one per core and one more, ``--dist
loadscope``) with the scheduler below: each test module runs whole, in order, on one worker (a
module-scoped fixture is built once and tests may build on earlier ones), the modules
that share an expensive session fixture run on the same worker (the fixture is built
once per run), and the longest modules start first.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

SHARED_SESSION = {
    "tests/integration/test_demo.py": "demo_run",
    "tests/integration/test_dashboards.py": "demo_run",
}
"""Modules that read one session fixture (``demo_run``: one short demo, 1-2 minutes)."""

FIRST = [
    "tests/integration/test_learning.py",
    "demo_run",
    "tests/integration/test_rollout_decisions.py",
    "tests/integration/test_learning_loop.py",
    "tests/integration/test_learning_tagger_cli.py",
    "tests/integration/test_augment_stage.py",
    "tests/integration/test_broker_restart.py",
    "tests/integration/test_worker_registry.py",
    "tests/integration/test_hostile_input.py",
]
"""Work units that take longest (``--durations``), started first so that no worker is left
alone with one at the end. Only the order: a name that is gone is ignored."""


def work_unit(nodeid: str) -> str:
    """The unit of work a test belongs to: its module, or its shared fixture's group."""
    module = nodeid.split("::", 1)[0]
    return SHARED_SESSION.get(module, module)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Longest work units first (a stable sort: the order within a module stays)."""
    rank = {unit: i for i, unit in enumerate(FIRST)}
    items.sort(key=lambda item: rank.get(work_unit(item.nodeid), len(FIRST)))


@pytest.hookimpl(optionalhook=True)  # pytest-xdist's hook
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Schedule whole work units (see the module's docstring) in collection order."""
    from xdist.scheduler import LoadScopeScheduling

    class WorkUnitScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

    config.option.loadscopereorder = False
    return WorkUnitScheduling(config, log)


@pytest.fixture
def unique() -> str:
    """A short unique token for topic prefixes, group ids and database names."""
    return uuid.uuid4().hex[:10]
