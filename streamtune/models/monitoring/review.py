"""Human evaluation: sample served command predictions, export them for reviewers, import scores.

Each review period the trainer feeds the ``scored`` records to a
:class:`ReviewSampler`, which keeps a uniform random sample (reservoir
sampling, seeded) of one model's served command predictions, labelled or not.
:meth:`ReviewSampler.export_sample` writes them as a CSV; reviewers fill in
accuracy, naturalness and effectiveness (integers 1..5), a comment and their
name; :func:`import_reviews` validates the whole file before returning any row
for the ``human_reviews`` table. Cells that a spreadsheet would run as a
formula (starting with ``= + - @``) are exported with a leading ``'`` that
the import removes again. ``input`` is redacted upstream.

Examples
--------
>>> sampler = ReviewSampler(100, seed=7, model="intent_classifier")
>>> sampler.observe(record)                                       # doctest: +SKIP
>>> sampler.export_sample(Path("review-2026w01.csv"), sample_id="2026w01")  # doctest: +SKIP
100
>>> summarise(import_reviews(Path("review-2026w01.csv")))         # doctest: +SKIP
{'n': 100, 'accuracy': 4.2, 'naturalness': 3.9, 'effectiveness': 4.0}
"""

from __future__ import annotations

import csv
import os
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid5

from streamtune.schemas.predictions import PredictionRecord

SCORES = ("accuracy", "naturalness", "effectiveness")
REVIEWER_COLUMNS = (*SCORES, "comment", "reviewer")
COLUMNS = ("sample_id", "event_id", "model", "version", "input", "prediction", "confidence",
           *REVIEWER_COLUMNS)
_NAMESPACE = UUID("a1e7c0de-5eed-4b1e-8a1e-57a7e0000002")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class ReviewSampler:
    """A seeded uniform sample of ``size`` served command predictions (of ``model`` if given).

    A record whose event is already in the sample (a replay) is not counted again.
    """

    def __init__(self, size: int, *, seed: int = 0, model: str | None = None) -> None:
        if size < 1:
            raise ValueError(f"sample size must be at least 1, not {size}")
        self.size = size
        self.model = model
        self.seen = 0
        self._rng = random.Random(seed)  # noqa: S311 - sampling, not security
        self._sample: list[PredictionRecord] = []
        self._ids: set[str] = set()

    def observe(self, record: PredictionRecord) -> bool:
        """Offer ``record`` to the sample; return whether it is in the sample now."""
        if (not record.served or record.kind != "command" or record.event_id in self._ids
                or self.model not in (None, record.model)):
            return False
        self.seen += 1
        if len(self._sample) < self.size:
            slot = len(self._sample)
            self._sample.append(record)
        else:
            slot = self._rng.randrange(self.seen)
            if slot >= self.size:
                return False
            self._ids.discard(self._sample[slot].event_id)
            self._sample[slot] = record
        self._ids.add(record.event_id)
        return True

    @property
    def sample(self) -> list[PredictionRecord]:
        """The sampled records, oldest event first."""
        return sorted(self._sample, key=lambda r: (r.event_time, r.event_id))

    def export_sample(self, path: Path, *, sample_id: str) -> int:
        """Write the sample as a reviewer CSV at ``path`` (atomically); return the row count."""
        if not sample_id.strip():
            raise ValueError("sample_id must not be empty")
        tmp = path.with_name(f".{path.name}.tmp")
        path.parent.mkdir(parents=True, exist_ok=True)
        with tmp.open("w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow(COLUMNS)
            for r in self.sample:
                writer.writerow([_escape(v) for v in (
                    sample_id, r.event_id, r.model, r.version, r.input, r.label,
                    f"{r.confidence:.4f}", "", "", "", "", "")])
        os.replace(tmp, path)
        return len(self._sample)


def import_reviews(path: Path, *, reviewed_at: datetime | None = None) -> list[dict[str, Any]]:
    """Rows for the ``human_reviews`` table from a reviewer-filled CSV.

    Rows whose reviewer columns are all empty were not reviewed and are skipped.
    Any bad cell raises a ValueError naming the line and column, and nothing is
    returned. ``reviewed_at`` defaults to the file's modification time.
    """
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise ValueError(f"{path}: missing columns {missing} (expected {list(COLUMNS)})")
            when = reviewed_at or datetime.fromtimestamp(path.stat().st_mtime, UTC)
            rows: list[dict[str, Any]] = []
            seen: set[str] = set()
            for cells in reader:
                row = _review_row(cells, when, where=f"{path}: line {reader.line_num}")
                if row is not None and row["review_id"] in seen:
                    raise ValueError(f"{path}: line {reader.line_num}: event "
                                     f"{row['event_id']} of sample {row['sample_id']} twice")
                if row is not None:
                    seen.add(row["review_id"])
                    rows.append(row)
    except (csv.Error, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not a readable review CSV ({exc})") from exc
    return rows


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """``n`` and the mean of each score (None when there are no rows)."""
    n = len(rows)
    return {"n": n, **{s: sum(r[s] for r in rows) / n if n else None for s in SCORES}}


def _review_row(cells: dict[str, Any], when: datetime, *, where: str) -> dict[str, Any] | None:
    if None in cells:
        raise ValueError(f"{where}: more cells than columns")
    values = {c: _unescape((cells.get(c) or "").strip()) for c in COLUMNS}
    if not any(values[c] for c in REVIEWER_COLUMNS):
        return None
    scores = {}
    for column in SCORES:
        text = values[column]
        if text not in {"1", "2", "3", "4", "5"}:
            raise ValueError(f"{where}, column {column!r}: {text!r} is not an integer 1..5")
        scores[column] = int(text)
    try:
        event_id = str(UUID(values["event_id"]))
    except ValueError:
        raise ValueError(f"{where}, column 'event_id': {values['event_id']!r} is not a UUID") \
            from None
    for column in ("sample_id", "model", "version"):
        if not values[column]:
            raise ValueError(f"{where}, column {column!r}: empty")
    review_id = str(uuid5(_NAMESPACE, f"{values['sample_id']}/{event_id}"))
    return {"review_id": review_id, "sample_id": values["sample_id"], "event_id": event_id,
            "model": values["model"], "version": values["version"], "input": values["input"],
            "prediction": values["prediction"], "reviewer": values["reviewer"], **scores,
            "comment": values["comment"], "reviewed_at": when.isoformat()}


def _escape(value: str) -> str:
    return f"'{value}" if value.startswith(_FORMULA_START) else value


def _unescape(value: str) -> str:
    return value[1:] if value.startswith("'") and value[1:].startswith(_FORMULA_START) else value
