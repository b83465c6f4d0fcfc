"""Contract of every augmentation technique: the same checks over each one.

Like river's ``check_estimator``, the checks are written once and run over every
technique of ``TECHNIQUES`` (catalogue) and ``TEXT_TECHNIQUES`` (catalogue-free), so a
technique added to either table is checked without a new test. Each technique runs
alone (``techniques=[name]``) over one mixed batch, as the pipeline hands it over
(cleaned, then annotated): simulator command and error events, commands of types the
catalogue does not know, and commands with a planted secret (in the text of an unknown
type, in the context of a catalogue one).

Not here: the rules of each gate and technique (``test_augmentation.py``,
``test_text_augmentation.py``); the augment stage's budget (``streams/augment``).
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from datetime import UTC, datetime
from functools import cache
from uuid import UUID

import pytest

from streamtune.config import AugmentationSettings
from streamtune.models.augmentation import (
    FAMILIES_FOR_KIND,
    TECHNIQUES,
    TEXT_TECHNIQUES,
    AugmentationResult,
    AugmentedRow,
    Augmenter,
    augmented_id,
    score,
    text_base_of,
)
from streamtune.models.augmentation.quality import FAMILY_KIND, GATES, failed_gate, score_text
from streamtune.models.augmentation.rows import stable_unit
from streamtune.models.augmentation.text import TextBase
from streamtune.schemas.commands import COMMANDS
from streamtune.schemas.events import CommandEvent, ErrorEvent
from streamtune.simulator import Simulator
from streamtune.transforms.annotation import annotate
from streamtune.transforms.cleaning import clean_event
from streamtune.transforms.redaction import Redactor
from tests.support.secret_texts import SECRETS

ALL = [*TECHNIQUES, *TEXT_TECHNIQUES]
FAMILY = {**{n: t.family for n, t in TECHNIQUES.items()},
          **dict.fromkeys(TEXT_TECHNIQUES, "text_variation")}
START = datetime(2026, 2, 1, 6, 0, tzinfo=UTC)
SEED = 4
MIN_ROWS = 10
"""Rows each technique must generate from the batch (measured: 111-210 per technique)."""
MARKER = re.compile(r"\[REDACTED:[a-z_]+\]")
Parent = CommandEvent | ErrorEvent

# command types the catalogue does not know, with varied phrasings (for the text
# techniques); the tails share words, so a class paraphrase has more than one option
PHRASES = {
    "grep_logs": (["search", "scan", "grep"], ["the logs for", "every file for", "lines with"],
                  ["error", "timeout", "denied"], ["across the archive", "on the server",
                                                   "in the old folder", "for the team"]),
    "copy_files": (["copy", "duplicate", "clone"], ["the file", "every file", "the folder"],
                   ["report.pdf", "notes.txt", "data.csv"], ["into the backup", "onto the share",
                                                             "over to the server", "for me"]),
    "count_words": (["count", "tally", "measure"], ["the words of", "the lines in",
                                                    "characters of"],
                    ["summary.md", "readme.txt", "draft.doc"], ["quickly for me", "for the team",
                                                               "in the report", "please"]),
}
PLANTED_TYPE = "push_release"


def command(i: int, command_type: str, text: str, params: dict[str, object] | None = None,
            context: dict[str, object] | None = None) -> CommandEvent:
    return CommandEvent.model_validate({
        "event_id": UUID(int=i, version=4), "event_time": START, "source": "import",
        "session_id": f"s-{i % 7}", "raw_input": text, "command_type": command_type,
        "parameters": params or {}, "context": context or {}, "success": True,
        "execution_time": 0.2})


def prepared(event: Parent, redactor: Redactor) -> Parent:
    """What the augmenter receives: the event cleaned (secrets redacted), then annotated."""
    return annotate(clean_event(event, redactor=redactor)[0])


def command_type_of(event: Parent) -> object:
    return event.command_type if isinstance(event, CommandEvent) else \
        event.failed_command.get("command_type")


@cache
def batch() -> tuple[tuple[Parent, ...], frozenset[UUID]]:
    """The mixed batch and the ids of the parents that had a secret planted."""
    redactor = Redactor()
    simulated = [e for e in Simulator(21, start=START).events(260)
                 if isinstance(e, CommandEvent | ErrorEvent)]
    rng = random.Random(11)
    unknown = []
    for i in range(90):
        command_type = sorted(PHRASES)[i % len(PHRASES)]
        verbs, objects, values, tails = PHRASES[command_type]
        value = rng.choice(values)
        text = f"{rng.choice(verbs)} {rng.choice(objects)} {value} {rng.choice(tails)}"
        unknown.append(command(10_000 + i, command_type, text, {"target": value}))
    catalogued = [e for e in simulated if isinstance(e, CommandEvent)]
    planted = []
    for i, (text, _, _) in enumerate(SECRETS):
        tail = ("for the team", "to the old server", "on the cluster")[i % 3]
        planted.append(command(20_000 + i, PLANTED_TYPE,
                               f"push the release build with {text} {tail}"))
        host = catalogued[i % len(catalogued)]
        planted.append(host.model_copy(update={
            "event_id": UUID(int=30_000 + i, version=4),
            "context": {**host.context, "note": text}}))
    events = tuple(prepared(e, redactor) for e in [*simulated, *unknown, *planted])
    return events, frozenset(e.event_id for e in planted)


def settings(name: str, seed: int = SEED, rate: float = 1.0) -> AugmentationSettings:
    return AugmentationSettings(rate=rate, seed=seed, techniques=[name])


@cache
def run(name: str, seed: int = SEED, rate: float = 1.0) -> tuple[Augmenter, AugmentationResult]:
    augmenter = Augmenter(settings(name, seed, rate), techniques_per_event=1)
    return augmenter, augmenter.augment(list(batch()[0]))


def generated(result: AugmentationResult) -> list[AugmentedRow]:
    """Every row the technique produced, accepted or rejected."""
    return [*result.rows, *(row for row, _ in result.rejected)]


def parents() -> dict[UUID, Parent]:
    return {e.event_id: e for e in batch()[0]}


def test_the_family_is_complete() -> None:
    assert TECHNIQUES and TEXT_TECHNIQUES
    assert not set(TECHNIQUES) & set(TEXT_TECHNIQUES)
    assert set(AugmentationSettings().techniques) == set(ALL)  # each one on by default
    for name in ALL:  # each family produces a kind, and that kind's parents may use it
        assert FAMILY[name] in FAMILY_KIND, name
        assert FAMILY[name] in FAMILIES_FOR_KIND["command"], name


def test_the_batch_holds_what_the_contract_needs() -> None:
    events, planted = batch()
    assert len(planted) == 2 * len(SECRETS)
    dumped = json.dumps([e.model_dump(mode="json") for e in events if e.event_id in planted])
    assert not [s for _, s, _ in SECRETS if s in dumped]  # cleaning ran
    assert len(MARKER.findall(dumped)) >= len(planted)  # and left its markers
    kinds = Counter((e.kind, command_type_of(e) in COMMANDS) for e in events)
    assert kinds[("command", True)] and kinds[("command", False)] and kinds[("error", True)]


# -- determinism ------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ALL)
def test_the_same_seed_gives_the_same_rows_and_another_seed_other_rows(name: str) -> None:
    _, first = run(name)
    again = Augmenter(settings(name), techniques_per_event=1).augment(list(batch()[0]))
    assert len(generated(first)) >= MIN_ROWS
    assert [r.record() for r in again.rows] == [r.record() for r in first.rows]
    assert [(r.record(), g) for r, g in again.rejected] == [
        (r.record(), g) for r, g in first.rejected]
    assert (again.qc, again.selected, again.not_augmentable) == (
        first.qc, first.selected, first.not_augmentable)
    _, other = run(name, seed=SEED + 1)
    assert [r.record() for r in generated(other)] != [r.record() for r in generated(first)]


# -- what a row keeps -------------------------------------------------------------------------

@pytest.mark.parametrize("name", ALL)
def test_rows_keep_their_parents_command_type_and_name_their_lineage(name: str) -> None:
    _, result = run(name)
    known = parents()
    selected = set(result.selected)
    for row in generated(result):
        parent, event = known[row.parent_event_id], row.event
        assert row.parent_event_id in selected
        assert (row.technique, row.family) == (name, FAMILY[name])
        assert event.kind == FAMILY_KIND[row.family]
        assert command_type_of(event) == command_type_of(parent), (name, event)
        if row.family == "text_variation":
            assert isinstance(event, CommandEvent) and isinstance(parent, CommandEvent)
            assert event.parameters == parent.parameters
        assert event.event_id == row.augmented_id == augmented_id(parent.event_id, name)
        assert (event.session_id, event.event_time, event.source) == (
            parent.session_id, parent.event_time, parent.source)
        marks = event.context if isinstance(event, CommandEvent) else event.failed_command
        assert marks["synthetic"] is True
        assert marks["augmentation"] == {"family": FAMILY[name], "technique": name,
                                         "parent_event_id": str(parent.event_id)}
        assert type(event).model_validate(event.model_dump(mode="json")) == event


# -- quality gates ----------------------------------------------------------------------------

@pytest.mark.parametrize("name", ALL)
def test_every_row_is_gated_and_only_rows_that_pass_are_accepted(name: str) -> None:
    augmenter, result = run(name)
    known, config = parents(), augmenter.settings
    for row in generated(result):  # the verdicts on a row are the gates' own, recomputed
        if row.family == "text_variation":
            parent = known[row.parent_event_id]
            assert isinstance(parent, CommandEvent)
            base = text_base_of(parent)
            assert isinstance(base, TextBase)
            again = score_text(row, base, augmenter.examples, config)
        else:
            again = score(row, config, augmenter.grammar)
        assert (again.semantic_confidence, again.syntax_ok, again.dry_run_ok) == (
            row.semantic_confidence, row.syntax_ok, row.dry_run_ok)
    [qc] = [q for q in result.qc if q.technique == name]
    assert result.rows, f"{name}: no row passed the gates"
    assert all(failed_gate(r, config) is None for r in result.rows)
    assert not qc.batch_rejected
    for row, gate in result.rejected:
        assert gate in GATES
        assert gate == (failed_gate(row, config) or "batch")
    rows = generated(result)
    assert (qc.generated, qc.accepted) == (len(rows), len(result.rows))
    assert qc.semantic_passed == sum(
        r.semantic_confidence >= config.semantic_min_confidence for r in rows)
    assert (qc.syntax_passed, qc.dry_run_passed) == (
        sum(r.syntax_ok for r in rows), sum(r.dry_run_ok for r in rows))


# -- secrets ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ALL)
def test_no_planted_secret_survives_and_redaction_markers_are_kept(name: str) -> None:
    _, result = run(name)
    known, planted = parents(), batch()[1]
    secrets = [secret for _, secret, _ in SECRETS]
    from_planted = [r for r in generated(result) if r.parent_event_id in planted]
    assert from_planted, f"{name} never augmented a parent that held a secret"
    for row in generated(result):
        dumped = json.dumps(row.record())
        assert [s for s in secrets if s in dumped] == [], (name, row.parent_event_id)
    for row in from_planted:
        parent = json.dumps(known[row.parent_event_id].model_dump(mode="json"))
        kept = json.dumps(row.event.model_dump(mode="json"))
        assert set(MARKER.findall(parent)) <= set(MARKER.findall(kept)), (name, kept)


# -- nothing silent ---------------------------------------------------------------------------

UNAUGMENTABLE = [
    ("list_dir", "ls"),            # one word, type unknown to the catalogue
    ("list_dir", "?!"),            # punctuation only
    ("show_pid", "1042 42"),       # numbers only: nothing editable
    ("start_pump", "pump"),        # a catalogue type, a text its grammar cannot read
]


@pytest.mark.parametrize("name", ALL)
def test_an_unaugmentable_input_gives_an_explicit_reason(name: str) -> None:
    redactor = Redactor()
    events: list[Parent] = [prepared(command(40_000 + i, t, x), redactor)
                            for i, (t, x) in enumerate(UNAUGMENTABLE)]
    events.append(ErrorEvent.model_validate({
        "event_id": UUID(int=40_100, version=4), "event_time": START, "source": "import",
        "session_id": "s-1", "failed_command": {"command_type": "list_dir", "raw_input": "ls"},
        "error_type": "not_found", "error_message": "ls: no such file",
        "success_indicator": False}))
    result = Augmenter(settings(name), techniques_per_event=1).augment(events)
    assert generated(result) == []
    assert result.selected == [e.event_id for e in events]
    assert sum(u.events for u in result.not_augmentable) == len(events)
    for skipped in result.not_augmentable:
        assert skipped.reason.strip(), skipped
        record = skipped.qc_record()
        assert record["technique"] == f"not augmentable: {skipped.reason}"
        assert (record["generated"], record["accepted"]) == (0, 0)
    assert {u.command_type for u in result.not_augmentable} == {
        t for t, _ in UNAUGMENTABLE} | {"list_dir"}
    empty = Augmenter(settings(name)).augment([])
    assert (empty.rows, empty.rejected, empty.selected, empty.candidates) == ([], [], [], 0)
    assert [(q.technique, q.generated) for q in empty.qc] == [(name, 0)]


@pytest.mark.parametrize("name", ALL)
def test_every_selected_parent_gets_a_row_or_a_reason(name: str) -> None:
    _, result = run(name)
    with_rows = {r.parent_event_id for r in generated(result)}
    assert len(result.selected) == len(batch()[0])  # rate 1: every parent is offered
    assert len(with_rows) + sum(u.events for u in result.not_augmentable) == len(
        result.selected)


# -- limits -----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ALL)
def test_output_is_bounded_by_the_rate_and_rows_per_event(name: str) -> None:
    events = batch()[0]
    _, whole = run(name)
    per_parent = Counter(r.parent_event_id for r in generated(whole))
    assert max(per_parent.values()) == 1  # techniques_per_event=1, one technique
    rate = 0.25
    _, part = run(name, rate=rate)
    chosen = [e.event_id for e in events if stable_unit(f"{SEED}:{e.event_id}") < rate]
    assert part.selected == chosen
    assert 0 < len(chosen) < len(events) / 2
    rows = generated(part)
    assert {r.parent_event_id for r in rows} <= set(chosen)
    assert len(rows) <= len(chosen)
    # the rows of a selected parent do not depend on which others were selected
    assert {r.augmented_id: r.record() for r in rows} == {
        r.augmented_id: r.record() for r in generated(whole) if r.parent_event_id in chosen}
