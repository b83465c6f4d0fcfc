"""Text variation: catalogue-free techniques, their gates, and events nothing can augment."""

from __future__ import annotations

import dataclasses
import random
from collections import Counter
from datetime import UTC, datetime
from uuid import UUID

import pytest

from streamtune.config import AugmentationSettings
from streamtune.models.augmentation import (
    DEFAULT_GRAMMAR,
    TEXT_TECHNIQUES,
    AugmentedRow,
    Augmenter,
    ClassExamples,
    Unaugmentable,
    base_of,
    text_base_of,
    tokenize,
)
from streamtune.models.augmentation.examples import fixed
from streamtune.models.augmentation.quality import (
    score_text,
    text_dry_run_violations,
    text_semantic_confidence,
    text_syntax_error_share,
)
from streamtune.models.augmentation.text import TextBase, row_tokens
from streamtune.schemas.commands import COMMANDS
from streamtune.schemas.events import CommandEvent, ErrorEvent
from streamtune.schemas.text import normalize_text
from streamtune.simulator import Simulator
from streamtune.streams.worker.batch import BatchResult
from streamtune.transforms.annotation import annotate

START = datetime(2026, 3, 1, tzinfo=UTC)
TEXT_ONLY = AugmentationSettings(rate=1.0, seed=5, techniques=list(TEXT_TECHNIQUES))
PHRASES = {  # command types the catalogue does not know, as an imported corpus has them
    "find_lines": (["search", "look", "grep"],
                   ["for the word", "for lines with", "through logs for"],
                   ["error", "timeout", "denied"], ["in", "inside", "across"]),
    "copy_files": (["copy", "duplicate", "clone"], ["the file", "every file", "the folder"],
                   ["report.pdf", "notes.txt", "data.csv"], ["to", "into", "over to"]),
    "count_words": (["count", "tally", "measure"],
                    ["the words of", "the lines in", "characters of"],
                    ["summary.md", "readme.txt", "draft.doc"], ["quickly", "for me", "please"]),
}


def _event(i: int, command_type: str, text: str, params: dict[str, object] | None = None
           ) -> CommandEvent:
    return annotate(CommandEvent.model_validate({
        "event_id": UUID(int=i + 1, version=4), "event_time": START, "source": "import",
        "session_id": f"s-{i % 7}", "raw_input": text, "normalized_input": normalize_text(text),
        "command_type": command_type, "parameters": params or {}, "success": True,
        "execution_time": 0.2}))


def _corpus(n: int = 240) -> list[CommandEvent]:
    rng = random.Random(11)
    events = []
    for i in range(n):
        command_type = sorted(PHRASES)[i % len(PHRASES)]
        verbs, objects, values, tails = PHRASES[command_type]
        value = rng.choice(values)
        text = f"{rng.choice(verbs)} {rng.choice(objects)} {value} {rng.choice(tails)}"
        if command_type != "count_words":
            text += f" {rng.choice(['the archive', 'the server', 'my folder'])}"
        events.append(_event(i, command_type, text, {"target": value}))
    return events


@pytest.fixture(scope="module")
def corpus() -> list[CommandEvent]:
    assert not set(PHRASES) & set(COMMANDS)
    return _corpus()


@pytest.fixture(scope="module")
def augmented(corpus: list[CommandEvent]) -> tuple[Augmenter, list[AugmentedRow]]:
    augmenter = Augmenter(TEXT_ONLY, techniques_per_event=2)
    return augmenter, augmenter.augment(corpus).rows


# -- rows for unknown command types --------------------------------------------------------


def test_unknown_command_types_get_rows_that_pass_the_gates(
        corpus: list[CommandEvent], augmented: tuple[Augmenter, list[AugmentedRow]]) -> None:
    _, rows = augmented
    parents = {e.event_id: e for e in corpus}
    assert len(rows) > len(corpus)  # most parents give both rows
    assert set(Counter(r.technique for r in rows)) == set(TEXT_TECHNIQUES)
    for row in rows:
        parent, event = parents[row.parent_event_id], row.event
        assert isinstance(event, CommandEvent) and row.family == "text_variation"
        assert event.command_type == parent.command_type
        assert event.intent_labels == ["uncatalogued", parent.command_type]
        assert event.context["synthetic"] is True
        assert event.normalized_input != parent.normalized_input
        assert row.semantic_confidence >= 0.9 and row.syntax_ok and row.dry_run_ok
    per_parent = Counter(r.parent_event_id for r in rows)
    assert max(per_parent.values()) <= 2


def test_default_settings_augment_unknown_types(corpus: list[CommandEvent]) -> None:
    result = Augmenter(AugmentationSettings(rate=0.5, seed=2)).augment(corpus)
    assert len({r.parent_event_id for r in result.rows}) > 0.8 * len(result.selected)
    qc = {q.technique: q for q in result.qc if q.generated}
    assert set(qc) == set(TEXT_TECHNIQUES)
    assert all(q.accepted > 0 and not q.batch_rejected for q in qc.values())
    assert Counter(g for _, g in result.rejected)["semantic"] > 0  # the gates do judge


def test_protected_words_and_parameter_spans_survive(
        corpus: list[CommandEvent], augmented: tuple[Augmenter, list[AugmentedRow]]) -> None:
    _, rows = augmented
    parents = {e.event_id: e for e in corpus}
    for row in rows:
        parent, event = parents[row.parent_event_id], row.event
        assert isinstance(event, CommandEvent)
        assert fixed(row_tokens(event)) == fixed(tokenize(
            parent.normalized_input or "", parent.command_type, parent.parameters))
        assert event.parameters == parent.parameters
        (span,) = event.parameter_boundaries or []
        text = event.normalized_input or ""
        assert text[span.start:span.end] == parent.parameters["target"]


def test_quoted_text_numbers_and_values_are_never_edited() -> None:
    event = _event(1, "tag_release", 'please tag release "Alpha Build" as v1.4.2 on app-01 now',
                   {"tag": "v1.4.2"})
    tokens = tokenize(event.normalized_input or "", event.command_type, event.parameters)
    assert fixed(tokens) == ['"Alpha', 'Build"', "v1.4.2", "app-01"]
    assert [t.text for t in tokens if t.editable] == ["please", "tag", "release", "as", "on",
                                                      "now"]


def test_rows_are_deterministic(corpus: list[CommandEvent]) -> None:
    first = Augmenter(TEXT_ONLY).augment(corpus)
    replayed = Augmenter(TEXT_ONLY)
    again = replayed.augment(corpus)
    assert [r.record() for r in first.rows] == [r.record() for r in again.rows]
    assert first.qc == again.qc and first.not_augmentable == again.not_augmentable
    assert [r.record() for r in replayed.augment(corpus).rows] == [
        r.record() for r in first.rows]  # a Kafka replay to the same augmenter
    other = Augmenter(TEXT_ONLY.model_copy(update={"seed": 6})).augment(corpus)
    assert {r.event.raw_input for r in other.rows} != {r.event.raw_input for r in first.rows}


def test_catalogue_events_keep_their_catalogue_techniques() -> None:
    events = [e for e in Simulator(3, start=START).events(400)
              if isinstance(e, CommandEvent | ErrorEvent)]
    result = Augmenter(AugmentationSettings(rate=1.0, seed=1)).augment(events)
    readable = {e.event_id for e in events if base_of(e, DEFAULT_GRAMMAR) is not None}
    text_parents = {r.parent_event_id for r in result.rows if r.family == "text_variation"}
    assert readable and not text_parents & readable


# -- not augmentable ------------------------------------------------------------------------


def test_events_nothing_can_augment_are_counted_with_their_reason() -> None:
    events = [_event(i, "list_dir", "ls") for i in range(3)]
    events += [_event(10 + i, "show_pid", f"{1000 + i} 42") for i in range(2)]
    error = ErrorEvent.model_validate({
        "event_id": UUID(int=99, version=4), "event_time": START, "source": "import",
        "session_id": "s-1", "failed_command": {"command_type": "list_dir", "raw_input": "ls"},
        "error_type": "not_found", "error_message": "ls: no such file", "success_indicator": False})
    result = Augmenter(AugmentationSettings(rate=1.0)).augment([*events, error])
    assert result.rows == []
    assert result.not_augmentable == [
        Unaugmentable("list_dir", "error event whose command the catalogue cannot read", 1),
        Unaugmentable("list_dir", "fewer than two editable words", 3),
        Unaugmentable("show_pid", "fewer than two editable words", 2),
    ]
    record = result.not_augmentable[1].qc_record()
    assert record["technique"] == "not augmentable: fewer than two editable words"
    assert (record["command_type"], record["not_augmentable"], record["generated"]) == (
        "list_dir", 3, 0)
    qc_rows = [f for t, f in BatchResult(augmentation=result, batch_id="raw/0/7")
               .augmentation_rows() if t == "augmentation_qc"]
    assert [(f["technique"], f["command_type"], f["not_augmentable"], f["batch_id"])
            for f in qc_rows] == [
        ("not augmentable: error event whose command the catalogue cannot read", "list_dir", 1,
         "raw/0/7"),
        ("not augmentable: fewer than two editable words", "list_dir", 3, "raw/0/7"),
        ("not augmentable: fewer than two editable words", "show_pid", 2, "raw/0/7")]


def test_text_techniques_off_is_a_reason(corpus: list[CommandEvent]) -> None:
    result = Augmenter(AugmentationSettings(rate=1.0, techniques=["synonym_replacement"])
                       ).augment(corpus[:30])
    assert result.rows == []
    assert {(u.command_type, u.reason) for u in result.not_augmentable} == {
        (t, "not in the catalogue's grammar, text techniques off") for t in PHRASES}
    assert sum(u.events for u in result.not_augmentable) == 30


# -- the text gates -------------------------------------------------------------------------


def _scored(parent: CommandEvent, text: str, examples: ClassExamples) -> AugmentedRow:
    event = annotate(parent.model_copy(update={
        "event_id": UUID(int=7, version=4), "raw_input": text,
        "normalized_input": normalize_text(text), "parameter_boundaries": None,
        "entity_tags": None}))
    row = AugmentedRow(event.event_id, parent.event_id, "text_variation", "token_drop", event)
    base = text_base_of(parent)
    assert isinstance(base, TextBase)
    return score_text(row, base, examples, AugmentationSettings())


@pytest.fixture(scope="module")
def examples(corpus: list[CommandEvent]) -> ClassExamples:
    memory = ClassExamples()
    for event in corpus:
        text = event.normalized_input or ""
        memory.add(event.command_type, text, tokenize(text, event.command_type, event.parameters))
    return memory


def test_gate_one_rejects_lost_or_foreign_cues(examples: ClassExamples) -> None:
    assert examples.is_cue("copy_files", "duplicate")
    assert not examples.is_cue("copy_files", "the")  # every type uses it
    parent = _event(500, "copy_files", "duplicate the file notes.txt into the server",
                    {"target": "notes.txt"})
    kept = _scored(parent, "duplicate file notes.txt into the server", examples)
    assert kept.semantic_confidence == 1.0 and kept.syntax_ok and kept.dry_run_ok
    lost = _scored(parent, "the file notes.txt into the server", examples)
    assert lost.semantic_confidence < 0.9
    foreign = _scored(parent, "duplicate the file notes.txt tally the server", examples)
    assert foreign.semantic_confidence == 0.0


def test_gate_two_allows_one_slip_and_nothing_else(examples: ClassExamples) -> None:
    parent = _event(501, "find_lines", "search for the word timeout inside the archive",
                    {"target": "timeout"})
    base = text_base_of(parent)
    assert isinstance(base, TextBase)

    def share(text: str) -> float:
        return text_syntax_error_share(tokenize(text, "find_lines", {"target": "timeout"}),
                                       base, examples)

    assert share("serach for the word timeout inside the archive") == 0.0  # one typo
    assert share("search forthe word timeout inside the archive") == 0.0  # two words joined
    assert share("serach fro the word timeout inside the archive") > 0  # two slips
    assert share("search for the word timeout inside the zorbly archive") > 0  # garbage
    assert share("search for for the word timeout inside the archive") > 0  # stutter
    assert share("look for the word timeout inside the archive") == 0.0  # a word of its type


def test_gate_three_catches_labels_that_no_longer_line_up(examples: ClassExamples) -> None:
    parent = _event(502, "copy_files", "copy the file data.csv to the archive",
                    {"target": "data.csv"})
    moved = _scored(parent, "copy the file data.tsv to the archive", examples)
    assert not moved.dry_run_ok
    base = text_base_of(parent)
    assert isinstance(base, TextBase)
    assert text_dry_run_violations(moved, row_tokens(moved.event), base) == [
        "protected words changed: ['data.csv'] -> ['data.tsv']",
        "parameter boundaries do not point at the parent's values"]
    event = parent.model_copy(update={"parameters": {"target": "other.csv"}})
    relabelled = dataclasses.replace(moved, event=event)
    assert "command type or parameters changed" in text_dry_run_violations(
        relabelled, row_tokens(event), base)
    assert text_semantic_confidence(row_tokens(parent), base, examples) == 1.0
