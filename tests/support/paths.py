"""Where the repository is, for tests that read its files (docs, deploy, Makefile)."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
"""The repository's root folder."""
SHARED_DATA = REPO.parent / "shared" / "data"
"""Data beside the repository, shared by this workspace's projects (Loghub, corpora)."""
