"""The augment stage without Kafka: its budget, its rows from clean-topic records, the
outbox batch append."""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path
from uuid import uuid4

import pytest

from streamtune.config import AugmentationSettings, Settings
from streamtune.models.augmentation import Augmenter
from streamtune.schemas.commands import COMMANDS
from streamtune.schemas.events import CommandEvent, ErrorEvent
from streamtune.sinks import journal
from streamtune.sinks.outbox import StoreOutbox
from streamtune.sinks.rows import event_json
from streamtune.streams.augment.budget import TIERS, Budget, Parent
from streamtune.streams.augment.stage import Augmentation, decode
from tests.support.loop_models import clean, simulated

SETTINGS = AugmentationSettings(rate=0.2, seed=5, budget=0.3, rare_below=50)


@pytest.fixture(scope="module")
def parents() -> list[Parent]:
    events = clean(Settings(_env_file=None), simulated(11, 3000))  # type: ignore[call-arg]
    return [e for e in events if isinstance(e, CommandEvent | ErrorEvent)]


def batches(events: list[Parent], size: int = 500) -> list[list[Parent]]:
    return [events[i:i + size] for i in range(0, len(events), size)]


def test_the_budget_caps_each_batch_and_spends_it_on_the_highest_tiers_first(
        parents: list[Parent]) -> None:
    budget = Budget(SETTINGS)
    for batch in batches(parents):
        tiers = {e.event_id: budget.tier(e) for e in batch}
        plan = budget.plan(batch)
        assert plan.offered == len(batch)
        assert len(plan.chosen) <= math.ceil(SETTINGS.budget * len(batch))
        assert len(plan.chosen) + sum(plan.skipped.values()) == len(batch)
        chosen = {e.event_id for e in plan.chosen}
        worst_chosen = max(TIERS.index(tiers[i]) for i in chosen)
        over = [e for e in batch if e.event_id not in chosen
                and tiers[e.event_id] != "common"]
        # a left-out event of a priority tier was over budget, and nothing below it was taken
        assert all(TIERS.index(tiers[e.event_id]) >= worst_chosen for e in over)
        assert plan.chosen == [e for e in batch if e.event_id in chosen]  # input order


def test_errors_failures_and_new_types_come_before_common_commands(
        parents: list[Parent]) -> None:
    roomy = SETTINGS.model_copy(update={"budget": 1.0, "rare_below": 0})
    plan = Budget(roomy).plan(parents)
    chosen = {e.event_id for e in plan.chosen}
    for event in parents:
        priority = isinstance(event, ErrorEvent) or not event.success \
            or event.command_type not in COMMANDS
        drawn = Augmenter(roomy).selects(event.event_id)
        assert (event.event_id in chosen) == (priority or drawn)
    assert plan.tiers["error"] and plan.tiers["failed"] and plan.tiers["common"]
    common = sum(n for (_, why), n in plan.skipped.items() if why.startswith("not drawn"))
    assert common == sum(plan.skipped.values()) > 0


def test_a_command_type_is_rare_until_seen_rare_below_times(parents: list[Parent]) -> None:
    budget = Budget(SETTINGS)
    ok = next(e for e in parents if isinstance(e, CommandEvent) and e.success
              and e.command_type in COMMANDS)
    assert budget.tier(ok) == "rare"
    budget.plan([ok.model_copy(update={"event_id": uuid4()})
                 for _ in range(SETTINGS.rare_below)])
    assert budget.tier(ok) == "common"


def test_the_same_batch_after_the_same_history_gets_the_same_rows(
        parents: list[Parent]) -> None:
    first, second = Augmentation(SETTINGS), Augmentation(SETTINGS)
    for i, batch in enumerate(batches(parents)):
        a, _, _ = first.run(batch, f"clean.commands/0/{i}")
        b, _, _ = second.run(batch, f"clean.commands/0/{i}")
        assert json.dumps(a, default=str, sort_keys=True) == \
            json.dumps(b, default=str, sort_keys=True)


def test_rows_have_lineage_and_the_qc_table_says_what_was_skipped(
        parents: list[Parent]) -> None:
    rows, plan, result = Augmentation(SETTINGS).run(parents[:800], "clean.errors/2/100")
    tables = Counter(table for table, _ in rows)
    assert tables["augmented"] == len(result.rows) > 0
    chosen = {e.event_id for e in plan.chosen}
    augmented = [fields for table, fields in rows if table == "augmented"]
    assert all(f["parent_event_id"] in chosen and f["synthetic"] for f in augmented)
    assert all(f["augmented_id"] == f["event_id"] for f in augmented)
    qc = [fields for table, fields in rows if table == "augmentation_qc"]
    assert all(f["batch_id"] == "clean.errors/2/100" for f in qc)
    skipped = [f for f in qc if f["technique"].startswith("skipped: ")]
    assert sum(f["skipped"] for f in skipped) == sum(plan.skipped.values()) > 0
    assert all(f["generated"] == 0 and bool(f["command_type"]) != ("(common" in f["technique"])
               for f in skipped)
    techniques = [f for f in qc if f["generated"]]
    assert sum(f["accepted"] for f in techniques) == len(augmented)


def test_clean_topic_records_decode_and_a_bad_one_is_left_out(
        parents: list[Parent]) -> None:
    values = [event_json(e) for e in parents[:50]]
    events, bad = decode(values)
    assert events == parents[:50] and bad == []
    events, bad = decode([*values[:3], b'{"kind": "command"}', *values[3:5]])
    assert events == parents[:5] and [i for i, _ in bad] == [3]


def test_a_batch_goes_to_the_outbox_in_one_write_after_a_torn_line(
        parents: list[Parent], tmp_path: Path) -> None:
    outbox = StoreOutbox(Settings(_env_file=None, data_dir=tmp_path))  # type: ignore[call-arg]
    outbox.root.mkdir(parents=True)
    outbox.path.write_bytes(b'{"table": "augmented", "row": {"augm')  # a writer killed mid-line
    rows, _, _ = Augmentation(SETTINGS).run(parents[:300], "clean.commands/0/0")
    outbox.append_many(rows)
    records, end = journal.read_from(outbox.path, 0)
    assert end == outbox.path.stat().st_size
    assert [(r["table"], r["row"]["batch_id"] if r["table"] != "augmented"
             else r["row"]["augmented_id"]) for r in records] == \
        [(t, f["batch_id"] if t != "augmented" else str(f["augmented_id"])) for t, f in rows]
    with pytest.raises(ValueError, match="does not write"):
        outbox.append_many([("commands", {})])
