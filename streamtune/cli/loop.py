"""Commands of the real-time loop: the trainer process, alerts, human reviews."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from streamtune.cli.app import alerts_app, app, console, load_settings, models_app, review_app
from streamtune.errors import InputFileError


@app.command("trainer")
def trainer() -> None:
    """Run the trainer: retrain on alerts, canary, roll out or back, evaluate continuously."""
    from streamtune.models.loop.trainer import Trainer
    from streamtune.processes import stop_on_signals
    from streamtune.streams.kafka.admin import create_topics

    settings = load_settings()
    create_topics(settings)

    def report(what: str, line: str) -> None:
        console.print(f"[bold cyan]{what:>10}[/] {line}")

    loop = Trainer(settings, report=report)
    stop_on_signals(loop.stop)
    console.print(f"trainer {loop.source}: waiting for alerts and scored events (Ctrl-C stops)")
    loop.run()


@models_app.command("status")
def models_status(
    name: Annotated[str | None, typer.Argument(help="one model; every rollout if left out")]
    = None,
    as_json: Annotated[bool, typer.Option("--json", help="every figure, as JSON")] = False,
) -> None:
    """Rollouts in progress: each one's stage and the running evidence of its test."""
    from streamtune.models.loop.trainer import saved_rollouts

    settings = load_settings()
    rollouts = {m: c for m, c in saved_rollouts(settings).items() if name in (None, m)}
    if as_json:
        console.print_json(data={m: c.metrics() for m, c in rollouts.items()})
        return
    if not rollouts:
        console.print(f"no rollout in progress{f' for {name}' if name else ''} (the trainer's "
                      f"state, {settings.data_dir / 'loop'})")
        return
    table = Table("model", "candidate vs champion", "stage", "pairs (stage / test)",
                  "difference, interval (points)", "evidence not worse / worse", "verdict",
                  "p99 µs cand / champ", "unscored cand / champ")
    for model, controller in rollouts.items():
        m = controller.metrics()
        low, high = m["diff_interval"]
        estimate = "-" if m["diff_estimate"] is None else f"{m['diff_estimate'] * 100:+.2f}"
        table.add_row(
            model, f"{controller.candidate} vs {controller.champion}",
            f"{m['stage']} ({m['percent']:.0f} %)",
            f"{m['stage_paired']} (min {m['stage_min_events']}) / {m['pairs']}",
            f"{estimate} [{low * 100:+.1f}, {high * 100:+.1f}]",
            f"{m['evidence_not_worse']:.3g} / {m['evidence_worse']:.3g} "
            f"(need {m['thresholds'][0]:.3g} / {m['thresholds'][1]:.3g})",
            m["verdict"] or "undecided",
            f"{m['candidate_p99_us'] or 0:.0f} / {m['champion_p99_us'] or 0:.0f}",
            f"{m['candidate_unscored']} / {m['champion_unscored']}")
    console.print(table)
    console.print(f"margin {m['margin'] * 100:.1f} points; the test promotes a candidate "
                  f"{2 * m['margin'] * 100:.0f} points worse at most "
                  f"{m['alpha_false_promotion']:.0%} of the time and rolls back one no worse at "
                  f"most {m['beta_false_rollback']:.0%} ({m['test']})")


@alerts_app.command("test")
def alerts_test() -> None:
    """Post a test alert to every configured webhook endpoint and show what each answered."""
    from streamtune.sinks.webhooks import send_test_alert

    results = send_test_alert(load_settings())
    if not results:
        console.print("no webhook endpoints configured (STREAMTUNE_WEBHOOKS__ENDPOINTS)")
        raise typer.Exit(1)
    table = Table("endpoint", "answer")
    for host, answer in results:
        table.add_row(host, str(answer))
    console.print(table)
    if any(not (isinstance(a, int) and 200 <= a < 300) for _, a in results):
        raise typer.Exit(1)


@review_app.command("export")
def review_export(
    out: Annotated[Path, typer.Option(help="CSV file for the reviewers")],
    model: Annotated[str, typer.Option(help="model whose answers are reviewed")]
    = "intent_classifier",
    recent: Annotated[int, typer.Option(help="scored records to sample from")] = 20_000,
) -> None:
    """Sample recent served predictions for human review (accuracy, naturalness, effectiveness)."""
    from datetime import UTC, datetime

    from streamtune.models.loop.recent import read_tail
    from streamtune.models.monitoring import ReviewSampler
    from streamtune.schemas.predictions import PredictionRecord
    from streamtune.schemas.topics import loop_topic

    settings = load_settings()
    values, _ = read_tail(settings, loop_topic("scored", settings.topics.prefix), limit=recent)
    sampler = ReviewSampler(settings.loop.review_sample, model=model)
    for raw in values:
        sampler.observe(PredictionRecord.model_validate_json(raw))
    sample_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    count = sampler.export_sample(out, sample_id=sample_id)
    console.print(f"{count} events of {model} to review in {out} (sample {sample_id}); "
                  f"fill the 1-5 columns, then: streamtune review import {out}")


@review_app.command("import")
def review_import(
    path: Annotated[Path, typer.Argument(help="the filled CSV")],
) -> None:
    """Import reviewed scores into ClickHouse (human_reviews) and print their means."""
    from streamtune.models.monitoring import import_reviews, summarise
    from streamtune.sinks.outbox import StoreOutbox

    settings = load_settings()
    try:
        rows = import_reviews(path)
    except FileNotFoundError:
        raise InputFileError(f"{path}: no such file") from None
    except ValueError as exc:
        raise InputFileError(str(exc)) from None
    outbox = StoreOutbox(settings)
    for row in rows:
        outbox.append("human_reviews", row)
    summary = summarise(rows)
    console.print_json(data=summary)
    console.print(f"{len(rows)} reviews queued for the store (a running worker imports them "
                  "within seconds; otherwise at its next start)")
