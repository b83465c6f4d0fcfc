"""``streamtune dataset import``: a labelled text file as a commands snapshot.

The texts are cleaned here, in the command line, with the worker's own
redactor and normaliser (``streams``), so the dataset code stays free of the
stream side: :func:`text_cleaner` is what it is handed.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from streamtune.cli.app import console, dataset_app, load_settings
from streamtune.config import Settings

if TYPE_CHECKING:
    from streamtune.models.datasets import Cleaned, Cleaner, Imported


def text_cleaner(settings: Settings) -> Cleaner:
    """Redact secrets, then normalise the redacted text, as the worker's cleaning step does."""
    from streamtune.models.datasets import Cleaned
    from streamtune.schemas.text import normalize_text
    from streamtune.transforms.redaction import Redactor

    redactor = Redactor(settings.pipeline.redaction_patterns)

    def clean(text: str) -> Cleaned:
        counts: Counter[str] = Counter()
        raw = redactor.redact_into(text, counts)
        return Cleaned(raw, normalized=normalize_text(raw), redactions=counts)

    return clean


@dataset_app.command("import")
def dataset_import(
    file: Annotated[Path, typer.Argument(help="a .jsonl, .csv or .parquet file")],
    text: Annotated[str, typer.Option(help="column holding the text")] = "text",
    label: Annotated[str, typer.Option(help="column holding the label")] = "label",
    split: Annotated[str | None, typer.Option(
        help="column holding train/validation/test (val, valid, dev = validation); "
             "default: split by template")] = None,
    time: Annotated[str | None, typer.Option(
        help="column holding the event time (ISO 8601 or epoch seconds)")] = None,
) -> None:
    """Make a commands snapshot from FILE's labelled texts (redacted, normalised, split)."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from streamtune.models.datasets import ImportColumns, import_commands

    settings = load_settings()
    columns = (TextColumn("{task.description}"), BarColumn(),
               TextColumn("{task.percentage:>3.0f}%"), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        result = import_commands(
            settings, file, columns=ImportColumns(text, label=label, split=split, time=time),
            clean=text_cleaner(settings), progress=progress)
    for line in summary(result, file, split_given=split is not None):
        console.print(line, soft_wrap=True)


def summary(result: Imported, file: Path, *, split_given: bool) -> list[str]:
    """What the import made: rows per split, classes (renamed ones), redactions, the id."""
    snap = result.snapshot
    splits = snap.manifest["dataset_stats"]["splits"]
    renamed = [f"{original!r} -> {name}" for name, original in result.label_map.items()
               if name != original]
    kinds = ", ".join(f"{kind} {n}" for kind, n in result.redactions.items())
    return [
        f"commands snapshot {snap.id} from {file.name} "
        f"({'split as the file says' if split_given else 'split by template'}): "
        + ", ".join(f"{s} {splits[s]['rows']}" for s in ("train", "validation", "test")),
        f"classes: {len(result.label_map)}" + (f"; renamed to command types: "
                                                f"{', '.join(renamed[:5])}"
                                                + (", ..." if len(renamed) > 5 else "")
                                                if renamed else ""),
        f"secrets redacted: {sum(result.redactions.values())}" + (f" ({kinds})" if kinds else ""),
        f"in {snap.path}; train with `streamtune train --model intent_classifier "
        f"--dataset {snap.id}`",
    ]
