"""The typer app, its sub-command groups, the consoles and settings loading."""

from __future__ import annotations

import logging

import typer
from rich.console import Console

from streamtune.config import Settings, get_settings

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
    return settings

