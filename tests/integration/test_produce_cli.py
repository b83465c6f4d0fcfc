"""`streamtune produce --file`: bad lines reported by number, the valid rest sent."""

from __future__ import annotations

import json
from pathlib import Path

from streamtune.config import Settings
from streamtune.schemas.topics import raw_topic
from streamtune.streams.admin import create_topics, describe_topics
from tests.unit.test_cli import run_cli
from tests.unit.test_schemas import payload


def test_jsonl_import_reports_bad_lines_and_sends_the_rest(settings: Settings,
                                                           tmp_path: Path) -> None:
    create_topics(settings)
    lines = [json.dumps(payload("command")), "{not json", json.dumps(payload("metric")), "",
             json.dumps(payload("command", execution_time=-5)),
             json.dumps(payload("error_state")), json.dumps({"kind": "gossip"})]
    source = tmp_path / "events.jsonl"
    source.write_text("\n".join(lines) + "\n")
    env = {"STREAMTUNE_KAFKA__DEV_BROKER_PORT": str(settings.kafka.dev_broker_port),
           "STREAMTUNE_TOPICS__PREFIX": settings.topics.prefix}
    result = run_cli("produce", "--file", str(source), cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    bad = [line for line in result.stderr.splitlines() if line.startswith(str(source))]
    assert [line.split(":")[1] for line in bad] == ["2", "5", "7"]
    assert "execution_time" in bad[1] and "kind" in bad[2]
    assert "sent 3 events, skipped 3 invalid lines" in result.stdout
    counts = {s.spec.name: s.messages for s in describe_topics(settings)}
    prefix = settings.topics.prefix
    assert counts[raw_topic("command", prefix)] == 1
    assert counts[raw_topic("metric", prefix)] == 1
    assert counts[raw_topic("error_state", prefix)] == 1
    assert sum(counts.values()) == 3
