"""docker-compose.yml parses, its files exist, and its settings are ones streamtune accepts."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from streamtune.config import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_compose_file_is_valid_and_complete(monkeypatch: pytest.MonkeyPatch,
                                            tmp_path: Path) -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"kafka", "clickhouse", "streamtune-init"} <= set(services)
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    for name, service in services.items():
        build = service.get("build")
        if build:
            assert (ROOT / build["context"] / build["dockerfile"]).is_file(), name
        for dep in service.get("depends_on", {}):
            assert dep in services and "healthcheck" in services[dep]
    env = services["streamtune-init"]["environment"]
    monkeypatch.chdir(tmp_path)
    for key, value in env.items():
        monkeypatch.setenv(key, str(value).replace("${CLICKHOUSE_PASSWORD:-change-me}", "pw"))
    settings = Settings()
    assert settings.kafka.servers == "kafka:9092"
    assert settings.store_url == "http://clickhouse:8123"
    assert settings.store.password is not None
