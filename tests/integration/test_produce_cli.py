"""`streamtune produce --file`: bad lines reported by number, the valid rest sent, exit 1
when any line was rejected."""

from __future__ import annotations

import json
from pathlib import Path

from streamtune.config import Settings
from streamtune.schemas.topics import raw_topic
from streamtune.streams.kafka.admin import create_topics, describe_topics
from tests.support.cli import run_cli
from tests.support.events import payload


def _env(settings: Settings) -> dict[str, str]:
    return {"STREAMTUNE_KAFKA__DEV_BROKER_PORT": str(settings.kafka.dev_broker_port),
            "STREAMTUNE_TOPICS__PREFIX": settings.topics.prefix}


def test_jsonl_import_reports_bad_lines_sends_the_rest_and_fails(settings: Settings,
                                                                 tmp_path: Path) -> None:
    create_topics(settings)
    lines = [json.dumps(payload("command")), "{not json", json.dumps(payload("metric")), "",
             json.dumps(payload("command", execution_time=-5)),
             json.dumps(payload("error_state")), json.dumps({"kind": "gossip"})]
    source = tmp_path / "events.jsonl"
    source.write_text("\n".join(lines) + "\n")
    result = run_cli("produce", "--file", str(source), cwd=tmp_path, env=_env(settings))
    assert result.returncode == 1, result.stderr
    bad = [line for line in result.stderr.splitlines() if line.startswith(str(source))]
    assert [line.split(":")[1] for line in bad] == ["2", "5", "7"]
    assert "execution_time" in bad[1] and "kind" in bad[2]
    assert f"{source}: 3 lines accepted, 3 rejected" in result.stdout
    assert "3 events sent, 3 delivered (acknowledged), 0 failed" in result.stdout
    counts = {s.spec.name: s.messages for s in describe_topics(settings)}
    prefix = settings.topics.prefix
    assert counts[raw_topic("command", prefix)] == 1
    assert counts[raw_topic("metric", prefix)] == 1
    assert counts[raw_topic("error_state", prefix)] == 1
    assert sum(counts.values()) == 3


def test_a_file_of_misnamed_fields_fails_with_the_names_meant(settings: Settings,
                                                            tmp_path: Path) -> None:
    create_topics(settings)
    command = payload("command")
    renamed = {("event_time", "time"), ("raw_input", "command"), ("kind", "type")}
    lines = []
    for i in range(7):  # more than the summary names
        event = dict(command, session_id=f"s{i}")
        for right, wrong in renamed:
            event[wrong] = event.pop(right)
        lines.append(json.dumps(event))
    source = tmp_path / "misnamed.jsonl"
    source.write_text("\n".join(lines) + "\n")
    result = run_cli("produce", "--file", str(source), cwd=tmp_path, env=_env(settings))
    assert result.returncode == 1, result.stderr
    assert f"{source}: 0 lines accepted, 7 rejected" in result.stdout
    named = [line for line in result.stderr.splitlines() if line.startswith(f"{source}:")]
    assert [line.split(":")[1] for line in named] == ["1", "2", "3", "4", "5"]
    for wrong, right in (("time", "event_time"), ("command", "raw_input"), ("type", "kind")):
        assert f'"{right}" instead of "{wrong}"' in named[0]
    assert "... and 2 more rejected lines" in result.stderr
    assert sum(s.messages for s in describe_topics(settings)) == 0
