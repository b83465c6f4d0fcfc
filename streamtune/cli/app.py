"""The typer app, its sub-command groups, the consoles and settings loading."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from streamtune.config import Settings, get_settings
from streamtune.errors import StoreLocked, UsageError

if TYPE_CHECKING:
    from streamtune.sinks.store import ClickHouseStore

app = typer.Typer(
    help="streamtune: stream control-system events through Kafka into ClickHouse, and learn.",
    no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False,
)
config_app = typer.Typer(help="Inspect the effective configuration.", no_args_is_help=True)
schemas_app = typer.Typer(help="Event schemas for producers.", no_args_is_help=True)
topics_app = typer.Typer(help="Create and inspect the Kafka topics.", no_args_is_help=True)
broker_app = typer.Typer(help="The embedded dev broker (noida-db Kafka).", no_args_is_help=True)
db_app = typer.Typer(help="The ClickHouse store.", no_args_is_help=True)
dataset_app = typer.Typer(help="Versioned dataset snapshots (Parquet + manifest + card).",
                          no_args_is_help=True)
models_app = typer.Typer(help="The model registry: versions, champion, challenger.",
                         no_args_is_help=True)
alerts_app = typer.Typer(help="Alert webhooks.", no_args_is_help=True)
review_app = typer.Typer(help="Human review samples of live predictions.", no_args_is_help=True)
for sub, name in ((config_app, "config"), (schemas_app, "schemas"), (topics_app, "topics"),
                  (broker_app, "broker"), (db_app, "db"), (dataset_app, "dataset"),
                  (models_app, "models"), (alerts_app, "alerts"), (review_app, "review")):
    app.add_typer(sub, name=name)

console = Console()
err_console = Console(stderr=True)


def load_settings() -> Settings:
    settings = get_settings()
    logging.basicConfig(level=settings.log_level, format="%(levelname)s %(name)s: %(message)s")
    if settings.log_level != "DEBUG":  # libraries' retry chatter; we report failures ourselves
        for noisy in ("streamtune.rdkafka", "urllib3", "clickhouse_connect"):
            logging.getLogger(noisy).setLevel(logging.CRITICAL)
        for chatty in ("faust", "mode", "aiokafka"):  # start-up chatter above progress lines
            logging.getLogger(chatty).setLevel(logging.WARNING)
    return settings


def iso_time(text: str | None, option: str) -> datetime | None:
    """An ISO date/time option (UTC when it names no zone), or None when not given."""
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{option} {text!r} is not an ISO time (e.g. 2026-11-26T00:00)") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def open_store(settings: Settings, purpose: str) -> ClickHouseStore:
    """The store, or one line saying that a running worker owns the chdb path."""
    from streamtune.sinks.store import ClickHouseStore

    try:
        return ClickHouseStore.from_settings(settings)
    except StoreLocked:
        raise StoreLocked(f"the chdb store {settings.store_url} is owned by a running worker; "
                          f"stop it (or use a ClickHouse server) to {purpose}") from None
