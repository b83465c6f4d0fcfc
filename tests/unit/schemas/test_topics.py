"""The topic catalogue."""

from __future__ import annotations

from pathlib import Path

from streamtune.schemas import EVENT_MODELS
from streamtune.schemas.topics import SOURCES, catalogue, raw_topic
from tests.support.settings import make_settings


def test_every_source_has_raw_dlq_and_clean_topics(tmp_path: Path) -> None:
    specs = {s.name: s for s in catalogue(make_settings(tmp_path, topics={"partitions": 4}))}
    assert set(SOURCES) == set(EVENT_MODELS)
    for kind in EVENT_MODELS:
        raw = raw_topic(kind)
        assert specs[raw].partitions == 4 and specs[raw].key == "session_id"
        assert f"{raw}.dlq" in specs
        assert raw.replace("raw.", "clean.") in specs
    for loop in ("scored", "drift", "alerts", "alerts.dlq", "model-control"):
        assert loop in specs
    assert specs["model-control"].config() == {"cleanup.policy": "compact"}
    assert specs["raw.commands"].config()["retention.ms"] == str(7 * 24 * 3_600_000)


def test_prefix_applies_to_every_topic(tmp_path: Path) -> None:
    names = [s.name for s in catalogue(make_settings(tmp_path, topics={"prefix": "plant7."}))]
    assert len(names) == len(set(names))
    assert all(n.startswith("plant7.") for n in names)
