"""Fixtures shared by every test: settings pointing at throwaway places."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from streamtune.config import Settings
from streamtune.streams.kafka.dev_broker import free_port

__all__ = ["free_port", "make_settings"]


def make_settings(data_dir: Path, **overrides: object) -> Settings:
    """Settings built from arguments only (no environment, no .env)."""
    return Settings(_env_file=None, data_dir=data_dir, **overrides)  # type: ignore[call-arg]


@pytest.fixture
def unique() -> str:
    """A short unique token for topic prefixes, group ids and database names."""
    return uuid.uuid4().hex[:10]
