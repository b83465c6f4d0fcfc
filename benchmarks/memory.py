"""What a long-running worker's bounded state weighs when full (printed figures, no assertions).

``benchmarks/pipeline.py`` measures a worker's peak over a short run; a worker that runs
for days also fills what it remembers up to each bound. Here each such structure is
filled in one process with objects of its own, its memory taken with ``tracemalloc``
once the events it read are gone, and divided by its entries:

- event ids for de-duplication (``RecentIds``, up to ``pipeline.dedup_max_ids``);
- per session, the next-command predictor's history (up to ``scoring.max_sessions``);
- per command, the served intent records kept until feedback or a correction may
  re-emit them (up to ``scoring.max_sessions``; only with an intent model served);
- the featurizer's cache of hashed ids per distinct text (with a model served);
- the template miner's caches, per stream (commands, errors): per distinct masked line,
  and per line as it came.

The last column is the memory each holds at its bound with the default settings.
Run: ``.venv/bin/python benchmarks/memory.py [--events 20000]`` (trains a small model
first, ~30 s).
"""

from __future__ import annotations

import argparse
import gc
import random
import string
import sys
import tempfile
import tracemalloc
from collections.abc import Callable, Sequence
from pathlib import Path
from uuid import uuid4

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from streamtune.config import Settings  # noqa: E402
from streamtune.models import features  # noqa: E402
from streamtune.models.detection.templates import (  # noqa: E402
    MAX_CACHE,
    MAX_LINES,
    TemplateMiner,
)
from streamtune.schemas.events import CommandEvent, Event  # noqa: E402
from streamtune.streams.live.scoring import InlineScorer  # noqa: E402
from streamtune.streams.live.serving import ServingTable  # noqa: E402
from streamtune.transforms.dedup import RecentIds  # noqa: E402
from tests.support.loop_models import (  # noqa: E402
    QUICK_TRAINING,
    clean,
    simulated,
    train_champions,
)
from tests.support.settings import make_settings  # noqa: E402


def held(fill: Callable[[], tuple[int, object]]) -> float:
    """Bytes kept per entry by what ``fill`` builds (it returns the entries it added and
    the structure holding them, alive until measured)."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    entries, structure = fill()
    gc.collect()
    kept = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    del structure
    return kept / entries


def own(events: Sequence[Event]) -> list[Event]:
    """Copies with objects of their own and new ids (as events read from Kafka)."""
    return [e.model_copy(update={"event_id": uuid4()}, deep=True) for e in events]


def scorer_for(settings: Settings) -> InlineScorer:
    table = ServingTable(settings, source="memory")
    table.load_champions()
    return InlineScorer(settings, table, worker="memory")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    args = parser.parse_args()
    console = Console()
    settings = make_settings(Path(tempfile.mkdtemp(prefix="st-memory-")),
                             training=QUICK_TRAINING,
                             scoring={"models": ["intent_classifier", "command_predictor"]})
    with console.status("training a small intent model and next-command predictor..."):
        train_champions(settings, clean(settings, simulated(5, 6000)),
                        ["intent_classifier", "command_predictor"])
        events = clean(settings, simulated(6, args.events))
    commands = [e for e in events if isinstance(e, CommandEvent)]
    rows: dict[str, tuple[int, float]] = {}

    def dedup() -> tuple[int, object]:
        recent = RecentIds(horizon_s=3600, max_ids=len(events))
        size = settings.pipeline.batch_max_events
        for i in range(0, len(events), size):
            batch = events[i:i + size]
            recent.see([e.event_id.bytes for e in batch], [hash(e.event_id) for e in batch],
                       now=i * 1e-3)
        return len(recent), recent

    rows["event ids (de-duplication)"] = (settings.pipeline.dedup_max_ids, held(dedup))

    def histories() -> tuple[int, object]:
        scorer = scorer_for(make_settings(Path(tempfile.mkdtemp(prefix="st-memory-")),
                                          scoring={"models": ["command_predictor"]}))
        scorer.score(own(commands))  # no model in that registry: the history alone
        return len(scorer._history), scorer  # noqa: SLF001 - what it keeps is measured

    rows["session histories (next-command predictor)"] = (
        settings.scoring.max_sessions, held(histories))
    scorer = scorer_for(make_settings(settings.data_dir, scoring={
        "models": ["intent_classifier"]}))
    scorer.score(commands)  # the featurizer's cache holds these texts from here on

    def intents() -> tuple[int, object]:
        before = len(scorer._intents)  # noqa: SLF001
        scorer.score(own(commands))
        return len(scorer._intents) - before, scorer  # noqa: SLF001

    rows["intent records awaiting feedback (model served)"] = (
        settings.scoring.max_sessions, held(intents))
    texts = list(dict.fromkeys(e.normalized_input or "" for e in commands))

    def featurizer_cache() -> tuple[int, object]:
        features._text_ids.cache_clear()
        features.Featurizer().batch([t.encode().decode() for t in texts])
        return features._text_ids.cache_info().currsize, None

    rows["featurizer cache, per distinct text (model served)"] = (
        features._text_ids.cache_info().maxsize or 0, held(featurizer_cache))
    rng = random.Random(3)  # noqa: S311 - benchmark data
    names = ["".join(rng.choice(string.ascii_lowercase) for _ in range(8)) for _ in texts]

    lines = [f"{text} by {name}" for name, text in zip(names, texts, strict=True)]
    miner = TemplateMiner()
    for line in lines:  # the templates first: the caches alone are measured
        miner.add(line)

    def miner_cache(kept: dict[str, int], other: dict[str, int]) -> tuple[int, object]:
        kept.clear()
        for line in lines:  # each line a kind of its own (a name the mask keeps)
            other.clear()  # each line goes through the cache measured
            miner.add(line.encode().decode())
        other.clear()
        return len(kept), miner

    keys, seen = miner._cache, miner._lines  # noqa: SLF001 - what it keeps is measured
    rows["template miner cache, per masked line (2 streams)"] = (
        2 * MAX_CACHE, held(lambda: miner_cache(keys, seen)))
    rows["template miner cache, per line as it came (2 streams)"] = (
        2 * MAX_LINES, held(lambda: miner_cache(seen, keys)))
    table = Table("structure", "bound (default)", "bytes per entry", "MB at the bound",
                  title=f"{len(events):,} simulated events", title_justify="left")
    total = 0.0
    for name, (bound, per_entry) in rows.items():
        mb = bound * per_entry / 1e6
        total += mb
        table.add_row(name, f"{bound:,}", f"{per_entry:,.0f}", f"{mb:,.0f}")
    table.add_row("total", "", "", f"{total:,.0f}")
    console.print(table)


if __name__ == "__main__":
    main()
