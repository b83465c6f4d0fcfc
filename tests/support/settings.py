"""Settings for tests: built from arguments only, pointing at throwaway places."""

from __future__ import annotations

from pathlib import Path

from streamtune.config import Settings
from streamtune.streams.kafka.dev_broker import free_port

__all__ = ["free_port", "isolated_settings", "make_settings"]


def make_settings(data_dir: Path, **overrides: object) -> Settings:
    """Settings built from arguments only (no environment, no .env)."""
    return Settings(_env_file=None, data_dir=data_dir, **overrides)  # type: ignore[call-arg]


def isolated_settings(broker_port: int, chdb_path: Path, data_dir: Path, unique: str) -> Settings:
    """An integration test's settings: the session's broker and chdb path, with a topic
    prefix and a database of its own (``unique``), so tests never see each other's data."""
    return make_settings(
        data_dir,
        kafka={"dev_broker_port": broker_port},
        topics={"prefix": f"t{unique}.", "partitions": 3},
        store={"url": f"chdb://{chdb_path}", "database": f"t{unique}"},
    )
