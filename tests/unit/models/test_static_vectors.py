"""The static sub-word table distilled from MiniLM and the student's second bag that reads it."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.metrics import f1_score

from streamtune.config import Settings, TrainingSettings
from streamtune.models.encoder import WordPiece, model_dir
from streamtune.models.encoder.static import static_vectors
from streamtune.models.export import PARITY_TOLERANCE, export_model, parity
from streamtune.models.features import Featurizer
from streamtune.models.networks import BagClassifier
from streamtune.models.scoring import Scorer
from streamtune.models.tasks import TASKS
from streamtune.models.training.trainer import train

TLDR = Path(__file__).resolve().parents[4] / "shared" / "data" / "corpora" / "tldr" / "pairs.jsonl"
SMALL = {"buckets": 4096, "dim": 32, "hidden": 32, "teacher": False, "static": True}


@pytest.fixture(scope="module")
def cache() -> Path:
    """The user's cache, shared by every process of the suite (a table takes ~35 s on 2 cores)."""
    return Settings().cache_dir


@pytest.fixture(scope="module")
def table(cache: Path) -> np.ndarray:
    return static_vectors(128, cache=cache, threads=2)


def test_related_words_are_closer_than_unrelated_ones(table: np.ndarray) -> None:
    tokenizer = WordPiece(model_dir() / "vocab.txt")
    assert table.shape == (len(tokenizer.vocab), 128) and not table[0].any()

    def cosine(a: str, b: str) -> float:
        x, y = (table[tokenizer.vocab[w]] for w in (a, b))
        return float(x @ y / np.linalg.norm(x) / np.linalg.norm(y))

    for word, related, unrelated in (("restart", "reset", "banana"), ("copy", "clone", "river"),
                                     ("network", "internet", "potato"),
                                     ("remove", "erase", "kitchen")):
        assert cosine(word, related) > cosine(word, unrelated) + 0.2, word


def test_the_table_is_read_back_from_the_cache(cache: Path, table: np.ndarray) -> None:
    static_vectors.cache_clear()
    assert list(cache.glob("*.npy")) and np.array_equal(static_vectors(128, cache=cache), table)


def test_sub_word_ids_come_after_the_buckets_without_importing_torch() -> None:
    code = ("import json, sys; from streamtune.models.features import Featurizer;"
            "print(json.dumps([Featurizer(buckets=4096, max_tokens=16, subwords=30522).ids("
            "'Restart pump', {'site': 'a'}), 'torch' in sys.modules]))")
    there, torch_imported = json.loads(subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    tokenizer = WordPiece(model_dir() / "vocab.txt")
    ids = Featurizer(buckets=4096, max_tokens=16, subwords=30522).ids("Restart pump",
                                                                      {"site": "a"})
    assert ids[1:3] == [4096 + i for i in tokenizer.encode("restart pump")[1:-1]]
    assert ids[0] < 4096 and all(0 < i < 4096 for i in ids[3:])
    assert ids == there and not torch_imported


def test_padding_and_hashed_ids_leave_the_static_bag_alone() -> None:
    torch.manual_seed(0)
    model = BagClassifier(512, 8, 16, {"a": 3}, skip=True, pooling="sqrt", subwords=100,
                          static_dim=4).eval()
    model.load_static(torch.randn(100, 4))
    with torch.no_grad():
        plain = model(torch.tensor([[5, 9, 512 + 7]]))[0]
        assert torch.allclose(plain, model(torch.tensor([[5, 9, 512 + 7, 0, 0]]))[0], atol=1e-6)
        assert not torch.allclose(plain, model(torch.tensor([[5, 9, 512 + 8]]))[0])
    assert BagClassifier.from_architecture(model.architecture).architecture == model.architecture
    with pytest.raises(ValueError, match="does not fit"):
        model.load_static(torch.zeros(100, 5))


@pytest.mark.parametrize("factor", [0.0, 0.1])
def test_the_table_is_frozen_or_fine_tuned(factor: float, commands: list[dict[str, object]],
                                           cache: Path) -> None:
    hp = TrainingSettings().intent_classifier.model_copy(
        update={**SMALL, "total_epochs": 1, "static_lr_factor": factor})
    trained = train(TASKS["intent_classifier"], commands, commands[:50], hp)
    assert trained.model.static is not None
    changed = not np.array_equal(trained.model.static.weight.detach().numpy(),
                                 static_vectors(32, cache=cache))
    assert changed == (factor > 0)


@pytest.fixture(scope="module")
def commands() -> list[dict[str, object]]:
    from streamtune.simulator import Simulator

    return [{"normalized_input": e.raw_input.lower(), "command_type": e.command_type}
            for e in Simulator(5).events(800) if e.kind == "command"]


def test_onnx_export_of_the_two_bags_matches_torch(tmp_path: Path,
                                                   commands: list[dict[str, object]]) -> None:
    hp = TrainingSettings().intent_classifier.model_copy(update={**SMALL, "total_epochs": 1})
    trained = train(TASKS["intent_classifier"], commands, commands[:50], hp)
    files = export_model(trained, tmp_path)
    assert parity(trained, files["model.onnx"]) <= PARITY_TOLERANCE
    scorer = Scorer(tmp_path)
    assert scorer.featurizer == trained.featurizer and scorer.featurizer.subwords == 30522
    texts = [str(r["normalized_input"]) for r in commands[:20]]
    with torch.no_grad():
        expected = trained.model(torch.from_numpy(trained.featurizer.batch(texts)))[0]
    got = scorer.probabilities_of(texts, [None] * len(texts))["command_type"]
    assert np.array_equal(got.argmax(axis=1), expected.argmax(dim=1).numpy())


@pytest.mark.skipif(not TLDR.exists(), reason="needs ../shared/data/corpora")
def test_the_static_bag_helps_on_real_text() -> None:
    """tldr descriptions -> utility, unseen descriptions: pretrained sub-words generalise."""
    by_page: dict[str, set[str]] = defaultdict(set)
    for line in TLDR.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        by_page[row["page"]].add(row["description"].strip())
    pages = sorted(p for p, texts in by_page.items() if len(texts) >= 8)
    rng = random.Random(0)
    fit: list[dict[str, str]] = []
    test: list[tuple[str, str]] = []
    for page in pages:
        texts = sorted(by_page[page])
        rng.shuffle(texts)
        test += [(t, page) for t in texts[:2]]
        fit += [{"raw_input": t, "command_type": page} for t in texts[2:]]
    scores = {}
    for static in (False, True):
        hp = TrainingSettings().intent_classifier.model_copy(
            update={**SMALL, "static": static, "total_epochs": 10})
        trained = train(TASKS["intent_classifier"], fit, fit[:20], hp, threads=1)
        with torch.no_grad():
            logits = trained.model(torch.from_numpy(trained.featurizer.batch(
                [t for t, _ in test])))[0]
        labels = trained.labels["command_type"]
        scores[static] = f1_score([y for _, y in test],
                                      [labels[i] for i in logits.argmax(dim=1).numpy()],
                                      average="macro")
    assert scores[True] > scores[False] + 0.03, scores
