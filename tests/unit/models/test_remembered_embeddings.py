"""Sentence embeddings remembered on disk: a second run encodes only new texts, gets the
same rows, survives an unreadable chunk, and merges chunks past the limit, keeping the
latest texts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from streamtune.models.encoder import SentenceEncoder, remembered
from streamtune.models.encoder.remembered import MAX_CHUNKS, Remembered

TEXTS = ["open valve 3 on line b", "restart the pump", "show me boiler pressure"]


def test_a_second_encoder_encodes_only_texts_it_has_not_seen(tmp_path: Path) -> None:
    first = SentenceEncoder(threads=1, remember=tmp_path)
    rows = first.embed(TEXTS)
    second = SentenceEncoder(threads=1, remember=tmp_path)
    assert second.missing(TEXTS) == 0
    assert second.missing([*TEXTS, "stop the mixer"]) == 1
    np.testing.assert_array_equal(second.embed(TEXTS), rows)
    encoded: list[int] = []
    second.embed([*TEXTS, "stop the mixer"], on_batch=encoded.append)
    assert encoded == [1]
    assert SentenceEncoder(threads=1, remember=tmp_path).missing(["stop the mixer"]) == 0


def test_an_unreadable_chunk_is_skipped_and_its_texts_encoded_again(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    SentenceEncoder(threads=1, remember=tmp_path).embed(TEXTS[:1])
    store = Remembered(tmp_path)
    (store.directory / "broken.npz").write_bytes(b"not a numpy archive")
    assert list(store.load()) == TEXTS[:1]
    assert "broken.npz" in caplog.text
    assert SentenceEncoder(threads=1, remember=tmp_path).missing(TEXTS) == 2


def test_chunks_past_the_limit_are_merged_into_one(tmp_path: Path) -> None:
    store = Remembered(tmp_path)
    for i in range(MAX_CHUNKS + 1):
        store.add([f"text {i}"], np.full((1, 3), i, dtype=np.float32))
    assert len(list(store.directory.glob("*.npz"))) == 1
    assert not list(store.directory.glob("*.tmp"))
    loaded = store.load()
    assert sorted(loaded) == sorted(f"text {i}" for i in range(MAX_CHUNKS + 1))
    assert loaded["text 7"].tolist() == [7.0, 7.0, 7.0]


def test_a_merge_keeps_the_latest_texts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(remembered, "MAX_TEXTS", 10)
    store = Remembered(tmp_path)
    for i in range(MAX_CHUNKS + 1):
        store.add([f"text {i}"], np.full((1, 3), i, dtype=np.float32))
    assert sorted(store.load()) == sorted(f"text {i}" for i in range(MAX_CHUNKS - 9,
                                                                     MAX_CHUNKS + 1))
