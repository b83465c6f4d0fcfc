"""Real services for integration tests: the dev broker and a chdb store.

The broker is started once per session on a free port and stopped at the end;
each test gets its own topic prefix and its own database, so tests never see
each other's data. chdb allows one data path per process, so the whole session
shares one path.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from streamtune.config import Settings
from streamtune.sinks.migrations import migrate
from streamtune.sinks.store import ClickHouseStore
from streamtune.streams.kafka.dev_broker import DevBroker
from tests.support.demo_harness import DemoRun, kill_leftovers, run_demo
from tests.support.lab import Lab, open_lab
from tests.support.settings import delete_test_topics, free_port, isolated_settings


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test under ``tests/integration`` carries the ``integration`` marker."""
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevBroker]:
    dev = DevBroker(tmp_path_factory.mktemp("broker"), port=free_port())
    dev.start()
    yield dev
    dev.stop()


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[DevBroker]:
    """A dev broker of this test's own, which it may stop, kill and restart."""
    broker = DevBroker(tmp_path / "broker", port=free_port())
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture(scope="session")
def chdb_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("chdb")


@pytest.fixture
def settings(broker: DevBroker, chdb_path: Path, tmp_path: Path,
             unique: str) -> Iterator[Settings]:
    """Settings for one test: the session broker, a topic prefix and database of its own;
    the prefix's topics are deleted after the test (``delete_test_topics``)."""
    isolated = isolated_settings(broker.port, chdb_path, tmp_path, unique)
    yield isolated
    delete_test_topics(isolated)


@pytest.fixture
def store(settings: Settings) -> Iterator[ClickHouseStore]:
    """A migrated store in a database of this test's own."""
    opened = ClickHouseStore.from_settings(settings)
    migrate(opened)
    yield opened
    opened.command(f"DROP DATABASE IF EXISTS {opened.database}")


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoRun]:
    """One ``streamtune demo --profile short`` run, shared by the tests that read its store
    (the demo test, the dashboards' SQL)."""
    data_dir = tmp_path_factory.mktemp("demo") / "data"
    try:
        yield run_demo(data_dir)
    finally:
        kill_leftovers(data_dir)


@pytest.fixture(scope="module")
def lab(chdb_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """A learning lab (``tests/support/lab.py``) for the tests of one module."""
    with open_lab(chdb_path, tmp_path_factory.mktemp("learning")) as opened:
        yield opened
