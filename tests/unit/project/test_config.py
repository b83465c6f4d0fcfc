"""Settings: environment, nesting, secrets, errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError

from streamtune.config import Settings, get_settings
from streamtune.errors import ConfigError
from tests.support.paths import REPO


def test_environment_with_nested_groups(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STREAMTUNE_KAFKA__BOOTSTRAP_SERVERS", "k1:9092,k2:9092")
    monkeypatch.setenv("STREAMTUNE_TOPICS__PARTITIONS", "12")
    monkeypatch.setenv("STREAMTUNE_STORE__URL", "https://ch.example:8443")
    monkeypatch.setenv("STREAMTUNE_WEBHOOKS__ENDPOINTS", '["https://hooks.example/a"]')
    settings = Settings()
    assert settings.kafka.servers == "k1:9092,k2:9092" and not settings.kafka.embedded
    assert settings.topics.partitions == 12
    assert settings.store_url == "https://ch.example:8443"
    assert [e.url for e in settings.webhooks.endpoints] == ["https://hooks.example/a"]
    assert settings.webhooks.endpoints[0].format == "json"


def test_one_model_setting_keeps_that_models_other_defaults(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    shipped, recovery = Settings().training.intent_classifier, Settings().training.error_recovery
    monkeypatch.setenv("STREAMTUNE_TRAINING__INTENT_CLASSIFIER__TOTAL_EPOCHS", "4")
    monkeypatch.setenv("STREAMTUNE_TRAINING__ERROR_RECOVERY__EPOCHS_PER_STAGE", "1")
    training = Settings().training
    assert training.intent_classifier.total_epochs == 4
    assert training.intent_classifier.model_copy(update={"total_epochs": shipped.total_epochs}
                                                 ) == shipped
    assert training.error_recovery == recovery.model_copy(update={"epochs_per_stage": 1})


def test_webhook_endpoints_with_filters(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STREAMTUNE_WEBHOOKS__ENDPOINTS", '[{"url": "http://h/slack", '
                       '"kinds": ["drift"], "min_severity": "warning", "format": "slack"}]')
    endpoint = Settings().webhooks.endpoints[0]
    assert (endpoint.kinds, endpoint.min_severity, endpoint.format) == (
        ["drift"], "warning", "slack")
    monkeypatch.setenv("STREAMTUNE_WEBHOOKS__ENDPOINTS", '[{"url": "ftp://h"}]')
    with pytest.raises(ValueError, match="url"):
        Settings()


def test_embedded_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    settings = Settings()
    assert settings.kafka.embedded and settings.kafka.servers == "127.0.0.1:19092"
    assert settings.store_url == f"chdb://{tmp_path / '.streamtune' / 'chdb'}"


def test_dotenv_file_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("STREAMTUNE_METRICS_PORT=9999\n")
    assert Settings().metrics_port == 9999


def test_secrets_are_masked(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STREAMTUNE_WEBHOOKS__SIGNING_SECRET", "hunter2-signing")
    monkeypatch.setenv("STREAMTUNE_STORE__PASSWORD", "hunter2-store")
    monkeypatch.setenv("STREAMTUNE_KAFKA__SASL_PASSWORD", "hunter2-kafka")
    settings = Settings()
    shown = str(settings.masked()) + repr(settings)
    assert "hunter2" not in shown
    assert settings.kafka.client_config()["sasl.password"] == "hunter2-kafka"


def test_settings_are_frozen(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path)  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        settings.metrics_port = 1  # type: ignore[misc]


def test_bad_values_become_one_line_config_errors(monkeypatch: pytest.MonkeyPatch,
                                                  tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STREAMTUNE_STORE__URL", "mysql://db")
    get_settings.cache_clear()
    with pytest.raises(ConfigError) as info:
        get_settings()
    get_settings.cache_clear()
    assert "store.url" in str(info.value) and "\n" not in str(info.value)


def test_configuration_page_documents_every_setting() -> None:
    page = (REPO / "docs" / "configuration.md").read_text()
    names = []
    for field, info in Settings.model_fields.items():
        group = info.annotation
        if isinstance(group, type) and issubclass(group, BaseModel):
            names += [f"STREAMTUNE_{field}__{sub}".upper() for sub in group.model_fields]
        else:
            names.append(f"STREAMTUNE_{field}".upper())
    missing = [n for n in names if f"`{n}`" not in page]
    assert not missing
