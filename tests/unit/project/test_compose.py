"""docker-compose.yml and the files it mounts: complete, consistent with each other and
with streamtune's settings. No Docker here, so the shell snippets and healthchecks of
the streamtune services are run as they are, with a stand-in ``streamtune``."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry, start_http_server

from streamtune.config import Settings
from tests.support.paths import REPO
from tests.support.settings import free_port

ROOT = REPO
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
ONE_SHOT = {"streamtune-init", "simulator"}


def load(relative: str) -> Any:
    return yaml.safe_load((ROOT / relative).read_text())


def bind_mounts(service: str) -> dict[str, tuple[Path, str]]:
    """Container path -> (host path, mode) of a service's bind mounts."""
    mounts = {}
    for volume in SERVICES[service].get("volumes", []):
        source, target, *mode = volume.split(":")
        if source.startswith(("./", "/")):
            mounts[target] = (ROOT / source, mode[0] if mode else "rw")
    return mounts


def shell_script(service: str) -> str:
    """The ``sh -c`` script of a service as the shell sees it (compose unescapes $$)."""
    assert SERVICES[service]["entrypoint"] == ["sh", "-c"]
    raw: str = SERVICES[service]["command"][0]
    assert "$" not in raw.replace("$$", ""), "a single $ would be compose interpolation"
    return raw.replace("$$", "$")


def test_services_and_images() -> None:
    images = {name: s.get("image", "") for name, s in SERVICES.items()}
    assert images["kafka"].startswith("apache/kafka:")
    assert SERVICES["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert images["clickhouse"].startswith("clickhouse/clickhouse-server:")
    assert images["grafana"].startswith("grafana/grafana:")
    assert images["prometheus"].startswith("prom/prometheus:")
    for name in ("streamtune-init", "worker", "trainer", "simulator", "augment", "detect",
                 "second-opinion"):
        assert images[name] == "streamtune:local", name
    assert SERVICES["simulator"]["profiles"] == ["simulator"]
    for command in ("trainer", "augment", "detect", "second-opinion"):
        assert SERVICES[command]["command"] == [command]


def test_drift_is_watched_once_by_the_detect_stage() -> None:
    """Workers with ``DETECTION__STAGE`` on raise no alert: the detect service must run."""
    env = SERVICES["worker"]["environment"]
    assert env["STREAMTUNE_DETECTION__STAGE"] == "true"
    assert SERVICES["detect"]["environment"] == env
    assert "profiles" not in SERVICES["detect"]  # started by a plain `docker compose up`


def test_referenced_files_and_volumes_exist() -> None:
    declared = set(COMPOSE["volumes"])
    for name, service in SERVICES.items():
        if build := service.get("build"):
            assert (ROOT / build["context"] / build["dockerfile"]).is_file(), name
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source == "./deploy/grafana/dashboards":
                continue  # test_dashboards_folder_has_dashboards
            if source.startswith(("./", "/")):
                assert (ROOT / source).exists(), f"{name} mounts missing {source}"
            else:
                assert source in declared, f"{name} uses undeclared volume {source}"


def test_dependencies_wait_for_health_or_completion() -> None:
    for name, service in SERVICES.items():
        for dep, spec in service.get("depends_on", {}).items():
            condition = spec["condition"]
            if condition == "service_healthy":
                assert "healthcheck" in SERVICES[dep], f"{name} waits on {dep}'s health"
            else:
                assert condition == "service_completed_successfully", (name, dep)
                assert SERVICES[dep]["restart"] == "no", dep


def test_every_long_running_service_has_a_healthcheck() -> None:
    for name, service in SERVICES.items():
        if name not in ONE_SHOT:
            assert service["healthcheck"]["test"], name
            assert service["restart"] == "unless-stopped", name
        else:
            assert service["restart"] == "no", name


def test_worker_is_scalable_and_trainer_is_one() -> None:
    worker = SERVICES["worker"]
    assert "container_name" not in worker and "ports" not in worker
    assert "hostname" not in worker
    assert "streamtune-data:/var/lib/streamtune" in worker["volumes"]
    for reader in ("trainer", "second-opinion"):  # the registry's versions
        assert "streamtune-data:/var/lib/streamtune" in SERVICES[reader]["volumes"]


@pytest.mark.parametrize("service", ["streamtune-init", "worker", "trainer", "simulator",
                                     "augment", "detect", "second-opinion"])
def test_streamtune_settings_are_accepted(service: str, monkeypatch: pytest.MonkeyPatch,
                                          tmp_path: Path) -> None:
    env = SERVICES[service]["environment"]
    anchor = SERVICES["streamtune-init"]["environment"]
    assert {k: env[k] for k in anchor} == anchor, "every service shares x-streamtune-env"
    for key in list(os.environ):
        if key.startswith("STREAMTUNE_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    for key, value in env.items():
        if key.startswith("STREAMTUNE_"):
            monkeypatch.setenv(key, re.sub(r"\$\{CLICKHOUSE_PASSWORD:-[^}]*\}", "pw", str(value)))
    settings = Settings()
    assert settings.kafka.servers == "kafka:9092"
    assert settings.store_url == "http://clickhouse:8123"
    assert settings.store.password is not None
    assert settings.topics.prefix == "" and settings.topics.partitions == 6
    assert settings.data_dir == Path("/var/lib/streamtune")
    assert settings.metrics_port == 9108


def test_prometheus_scrapes_every_worker_and_stage_and_loads_the_rules() -> None:
    config = load("deploy/prometheus/prometheus.yml")
    mounts = bind_mounts("prometheus")
    for rule_file in config["rule_files"]:
        host, mode = mounts[rule_file]
        assert host == ROOT / "deploy/prometheus/alerts.yml" and mode == "ro"
    assert mounts["/etc/prometheus/prometheus.yml"][0] == ROOT / "deploy/prometheus/prometheus.yml"
    port = int(SERVICES["worker"]["environment"]["STREAMTUNE_METRICS_PORT"])
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    for service in ("worker", "augment", "detect", "second-opinion"):
        (sd,) = jobs[f"streamtune-{service}"]["dns_sd_configs"]
        assert sd["names"] == [service] and sd["type"] == "A" and sd["port"] == port


def test_grafana_datasources_and_dashboard_provider() -> None:
    grafana = SERVICES["grafana"]
    env = grafana["environment"]
    assert "grafana-clickhouse-datasource" in env["GF_INSTALL_PLUGINS"].split(",")
    mounts = bind_mounts("grafana")
    provisioning, mode = mounts["/etc/grafana/provisioning"]
    assert provisioning == ROOT / "deploy/grafana/provisioning" and mode == "ro"
    sources = {d["uid"]: d for d in load(
        "deploy/grafana/provisioning/datasources/datasources.yml")["datasources"]}
    assert set(sources) == {"clickhouse", "prometheus"}
    clickhouse = sources["clickhouse"]
    assert clickhouse["type"] == "grafana-clickhouse-datasource"
    assert clickhouse["jsonData"]["host"] == "clickhouse"
    assert clickhouse["jsonData"]["port"] == 8123
    assert clickhouse["jsonData"]["protocol"] == "http"
    assert clickhouse["jsonData"]["defaultDatabase"] == "streamtune"
    streamtune_env = SERVICES["worker"]["environment"]
    assert clickhouse["jsonData"]["username"] == streamtune_env["STREAMTUNE_STORE__USERNAME"]
    # Grafana expands $VAR in provisioning from its own environment
    assert clickhouse["secureJsonData"]["password"] == "$CLICKHOUSE_PASSWORD"  # noqa: S105
    assert env["CLICKHOUSE_PASSWORD"] == SERVICES["clickhouse"]["environment"][
        "CLICKHOUSE_PASSWORD"] == streamtune_env["STREAMTUNE_STORE__PASSWORD"]
    assert sources["prometheus"]["type"] == "prometheus"
    assert sources["prometheus"]["url"] == "http://prometheus:9090"
    (provider,) = load("deploy/grafana/provisioning/dashboards/dashboards.yml")["providers"]
    assert provider["type"] == "file"
    host, mode = mounts[provider["options"]["path"]]
    assert host == ROOT / "deploy/grafana/dashboards" and mode == "ro"


def test_dashboards_folder_has_dashboards() -> None:
    folder = ROOT / "deploy/grafana/dashboards"
    assert folder.is_dir() and sorted(folder.glob("*.json")), f"no dashboards in {folder}"


# -- the streamtune services' shell snippets and healthchecks, run for real ------------

FAKE_STREAMTUNE = """#!/bin/sh
printf '%s\n' "$STREAMTUNE_WORKER_ID" "$STREAMTUNE_DATA_DIR" "$@" > "$REPORT.tmp"
if [ -n "$STREAMTUNE_WORKER_ID" ]; then
  touch "$STREAMTUNE_DATA_DIR/models/by-$STREAMTUNE_WORKER_ID"
fi
mv "$REPORT.tmp" "$REPORT"
exec sleep 30
"""


def start(service: str, tmp_path: Path, name: str,
          **env: str) -> tuple[subprocess.Popen[bytes], list[str]]:
    """Run a service's script with a stand-in streamtune; return it and what it was given."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    fake = bin_dir / "streamtune"
    fake.write_text(FAKE_STREAMTUNE)
    fake.chmod(0o755)
    report = tmp_path / f"{name}.out"
    base = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "REPORT": str(report),
            "STREAMTUNE_DATA_DIR": str(tmp_path / "data")}
    proc = subprocess.Popen(["sh", "-c", shell_script(service)], env={**base, **env})
    deadline = time.monotonic() + 10
    while not (report.exists() and report.read_text().strip()):
        assert proc.poll() is None and time.monotonic() < deadline, f"{service} did not start"
        time.sleep(0.02)
    return proc, report.read_text().splitlines()


def test_worker_replicas_claim_distinct_slots_and_share_the_registry(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first, (id1, dir1, *args1) = start("worker", tmp_path, "w1")
    second, (id2, dir2, *_) = start("worker", tmp_path, "w2")
    try:
        assert (id1, id2) == ("worker-1", "worker-2") and args1 == ["worker"]
        assert (Path(dir1), Path(dir2)) == (data / "workers/worker-1", data / "workers/worker-2")
        assert (data / "models/by-worker-1").is_file()
        assert (data / "models/by-worker-2").is_file()
        assert (Path(dir2) / "outbox").resolve() == (data / "outbox").resolve()
        first.kill()
        first.wait()
        third, (id3, dir3, *_) = start("worker", tmp_path, "w3")  # a replaced container
        third.kill()
        third.wait()
        assert (id3, Path(dir3)) == ("worker-1", data / "workers/worker-1")
    finally:
        for proc in (first, second):
            proc.kill()
            proc.wait()


def test_simulator_command(tmp_path: Path) -> None:
    proc, given = start("simulator", tmp_path, "sim", SIMULATOR_RATE="50",
                        SIMULATOR_EVENTS="1000", SIMULATOR_SEED="")
    proc.kill()
    proc.wait()
    assert given[:2] == ["", str(tmp_path / "data")]  # no worker identity, the shared dir
    assert given[2:8] == ["produce", "--synthetic", "1000", "--rate", "50", "--seed"]
    assert abs(int(given[8]) - time.time()) < 60  # a fresh seed per run
    proc, given = start("simulator", tmp_path, "sim7", SIMULATOR_SEED="7")
    proc.kill()
    proc.wait()
    assert given[2:] == ["produce", "--synthetic", "1000000", "--rate", "50", "--seed", "7"]


def healthcheck(service: str, env: dict[str, str]) -> int:
    kind, *command = SERVICES[service]["healthcheck"]["test"]
    assert kind == "CMD" and command[0] == "python"
    return subprocess.run([sys.executable, *command[1:]], env=env, timeout=20,
                          capture_output=True).returncode


def test_worker_healthcheck_reads_the_metrics_endpoint() -> None:
    port = free_port()
    assert healthcheck("worker", {"STREAMTUNE_METRICS_PORT": str(port)}) != 0
    server, thread = start_http_server(port, addr="127.0.0.1", registry=CollectorRegistry())
    try:
        assert healthcheck("worker", {"STREAMTUNE_METRICS_PORT": str(port)}) == 0
    finally:
        server.shutdown()
        thread.join()


def test_trainer_healthcheck_wants_fresh_state(tmp_path: Path) -> None:
    env = {"STREAMTUNE_DATA_DIR": str(tmp_path)}
    assert healthcheck("trainer", env) != 0
    state = tmp_path / "loop" / "trainer.json"
    state.parent.mkdir()
    state.write_text("{}")
    assert healthcheck("trainer", env) == 0
    old = time.time() - 600
    os.utime(state, (old, old))
    assert healthcheck("trainer", env) != 0
