"""parameter_extractor: tokens, BIO tags, quality on unseen texts, ONNX export, scorer."""

from __future__ import annotations

import random
import subprocess
import sys
import zlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamtune.config import AugmentationSettings, TrainingSettings
from streamtune.models.augmentation import Augmenter
from streamtune.models.tagging import (
    TagScorer,
    bio_tags,
    decode,
    labelled,
    rule_spans,
    span_metrics,
    tokenize,
    with_typos,
)
from streamtune.models.tagging.export import PARITY_TOLERANCE, export_tagger, tagger_parity
from streamtune.models.tagging.training import TrainedTagger, train_tagger
from streamtune.schemas.commands import COMMANDS, fill_template, sample_parameters
from streamtune.schemas.events import CommandEvent
from streamtune.schemas.text import normalize_text
from streamtune.simulator import Simulator

SPECS = list(COMMANDS.values())


@st.composite
def rendered(draw: st.DrawFn) -> tuple[str, list[tuple[str, int, int]]]:
    spec = draw(st.sampled_from(SPECS))
    index = draw(st.integers(0, len(spec.phrasings) - 1))
    rng = random.Random(draw(st.integers(0, 2**32)))  # noqa: S311
    params = sample_parameters(spec, index, rng)
    text, spans = fill_template(spec, spec.phrasings[index], params)
    if draw(st.booleans()):
        text = text.upper()
    return text, spans


@given(rendered())
@settings(max_examples=300, deadline=None)
def test_bio_tags_round_trip_catalogue_spans(
        sample: tuple[str, list[tuple[str, int, int]]]) -> None:
    text, spans = sample
    tokens = tokenize(text)
    tags = bio_tags(tokens, spans)
    assert tags is not None, (text, spans, [t.text for t in tokens])
    assert sorted((s.name, s.start, s.end) for s in decode(text, tokens, tags)) == sorted(spans)


def test_tokens_keep_names_and_split_glued_values() -> None:
    assert [t.text for t in tokenize("position arm-2 at x=-3.5 y=4 z=0")] == [
        "position", "arm-2", "at", "x", "=", "-3.5", "y", "=", "4", "z", "=", "0"]
    assert [t.text for t in tokenize("scada-api x12, heat to 122C; v1.4.2 30s")] == [
        "scada-api", "x", "12", ",", "heat", "to", "122", "C", ";", "v", "1.4.2", "30", "s"]
    text = "  ack  ALM-1001 "
    assert all(text[t.start:t.end] == t.text for t in tokenize(text))
    assert bio_tags(tokenize("restart pump-3"), [("device", 9, 13)]) is None  # inside a token


def test_labelled_picks_the_text_the_spans_index_and_needs_required_params() -> None:
    row: dict[str, Any] = {"command_type": "restart_device", "raw_input": "  Restart PUMP-3",
                           "normalized_input": "restart pump-3",
                           "parameter_boundaries": [{"name": "device", "start": 8, "end": 14,
                                                     "value": "pump-3"}]}
    assert labelled(row) == ("restart pump-3", [("device", 8, 14)])
    assert labelled({**row, "parameter_boundaries": []}) is None  # device is required
    assert labelled({**row, "parameter_boundaries": None}) is None


@pytest.fixture(scope="module")
def data() -> dict[str, list[dict[str, Any]]]:
    """Simulator commands split by normalised text (test texts never seen in training)."""
    events = list(Simulator(7, start=datetime(2026, 1, 1, tzinfo=UTC)).events(3000))
    commands = [e for e in events if isinstance(e, CommandEvent)]
    held = {e.event_id for e in commands
            if zlib.crc32(normalize_text(e.raw_input).encode()) % 5 == 0}
    augmented = Augmenter(AugmentationSettings(rate=0.5, seed=1)).augment(events).rows
    test = [row for e in commands if e.event_id in held
            if labelled(row := e.model_dump(mode="json"))]
    unseen = {normalize_text(r["raw_input"]) for r in test}
    train = [e.model_dump(mode="json") for e in commands if e.event_id not in held]
    train += [r.event.model_dump(mode="json") | {"synthetic": True} for r in augmented
              if isinstance(r.event, CommandEvent) and r.parent_event_id not in held
              and r.family == "command_variation"
              and normalize_text(r.event.raw_input) not in unseen]
    seen = {normalize_text(r["raw_input"]) for r in train}
    assert not {normalize_text(r["raw_input"]) for r in test} & seen
    return {"train": train, "validation": test[:40], "test": test}


@pytest.fixture(scope="module")
def trained(data: dict[str, list[dict[str, Any]]]) -> TrainedTagger:
    hp = TrainingSettings().parameter_extractor.model_copy(update={"epochs_per_stage": 5})
    return train_tagger(data["train"], data["validation"], hp)  # 5 epochs: ~35 s on 2 busy cores


def _score(trained: TrainedTagger, rows: list[dict[str, Any]]) -> tuple[float, float]:
    texts = [found[0] for r in rows if (found := labelled(r))]
    model = span_metrics(rows, trained.extract(texts))
    rules = span_metrics(rows, [rule_spans(r) for r in rows])
    return model["micro"]["f1"], rules["micro"]["f1"]


def test_tagger_finds_spans_in_unseen_texts(trained: TrainedTagger,
                                            data: dict[str, list[dict[str, Any]]]) -> None:
    model, rules = _score(trained, data["test"])
    typo_model, typo_rules = _score(trained, with_typos(data["test"], seed=3))
    assert model >= 0.95  # measured 0.977 on these 180 rows; the grammar: 1.0 on clean text
    assert rules == 1.0
    assert typo_model >= 0.88  # measured 0.90 (deterministic: seed, 1 thread); one slip per row
    assert typo_rules < 0.2    # the grammar needs exact phrasings (measured 0.04)
    assert [e["stage"] for e in trained.history] == ["broad_adaptation",
                                                    "original_specialization"]
    assert trained.history[-1]["validation_span_f1"] >= 0.9


def test_onnx_export_parity_and_scorer(trained: TrainedTagger, tmp_path: Path,
                                       data: dict[str, list[dict[str, Any]]]) -> None:
    files = export_tagger(trained, tmp_path)
    assert set(files) == {"model.onnx", "labels.json", "weights.pt"}
    assert tagger_parity(trained, files["model.onnx"]) <= PARITY_TOLERANCE
    texts = [found[0] for r in data["test"][:50] if (found := labelled(r))] + ["", "   "]
    scorer = TagScorer(tmp_path)
    got, want = scorer.extract(texts), trained.extract(texts)
    assert [[(s.name, s.start, s.end) for s in row] for row in got] == \
        [[(s.name, s.start, s.end) for s in row] for row in want]
    assert got[-2:] == [[], []]
    assert all(0.0 < s.confidence <= 1.0 and texts[i][s.start:s.end] == s.value
               for i, row in enumerate(got) for s in row)
    code = ("import sys; from pathlib import Path; "
            "from streamtune.models.tagging import TagScorer; "
            f"print(TagScorer(Path({str(tmp_path)!r})).extract(['restart pump-3'])); "
            "assert 'torch' not in sys.modules")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stderr
    assert "pump-3" in result.stdout


def test_warm_start_grows_labels_and_keeps_old_rows(
        trained: TrainedTagger, tmp_path: Path, data: dict[str, list[dict[str, Any]]]) -> None:
    export_tagger(trained, tmp_path)
    row = {"command_type": "open_hatch", "raw_input": "open hatch-4 by 30 degrees",
           "parameter_boundaries": [{"name": "hatch", "start": 5, "end": 12, "value": "hatch-4"},
                                    {"name": "angle", "start": 16, "end": 18, "value": "30"}]}
    hp = TrainingSettings().parameter_extractor.model_copy(update={"epochs_per_stage": 0.2})
    old_rows = data["train"][:200]
    grown = train_tagger([*old_rows, *[row] * 20], [], hp, warm_start_path=tmp_path / "weights.pt")
    assert grown.warm_started
    assert grown.labels[: len(trained.labels)] == trained.labels
    assert set(grown.labels[len(trained.labels):]) == {"B-angle", "I-angle", "B-hatch", "I-hatch"}
    before = trained.checkpoint().state_dict["head.weight"]
    after = grown.model.head.weight.detach()
    assert after.shape[0] == len(grown.labels)
    assert float((after[: len(trained.labels)] - before).abs().max()) < 0.1  # brief, low-rate
    model, _ = _score(grown, data["test"])
    assert model >= 0.9  # the old parameters are still found
