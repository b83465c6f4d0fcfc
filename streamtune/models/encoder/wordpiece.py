"""BERT's uncased WordPiece tokenizer, in plain Python over the model's ``vocab.txt``.

The same steps as ``BertTokenizer(do_lower_case=True)``: drop control characters,
space out CJK ideographs, lower-case and strip accents, split on whitespace and
punctuation, then greedy longest-match sub-words (``##`` continuations).
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from pathlib import Path

MAX_WORD_CHARS = 100
"""Longer words become ``[UNK]``, as in BERT."""


def _is_punctuation(char: str) -> bool:
    code = ord(char)
    if 33 <= code <= 47 or 58 <= code <= 64 or 91 <= code <= 96 or 123 <= code <= 126:
        return True
    return unicodedata.category(char).startswith("P")


def _is_cjk(code: int) -> bool:
    return (0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF or 0x20000 <= code <= 0x2A6DF
            or 0x2A700 <= code <= 0x2B73F or 0x2B740 <= code <= 0x2B81F
            or 0x2B820 <= code <= 0x2CEAF or 0xF900 <= code <= 0xFAFF
            or 0x2F800 <= code <= 0x2FA1F)


def _clean(text: str) -> str:
    out: list[str] = []
    for char in text:
        code = ord(char)
        if code in (0, 0xFFFD):
            continue
        category = unicodedata.category(char)
        if char in "\t\n\r" or category == "Zs":
            out.append(" ")
        elif category.startswith("C"):
            continue
        elif _is_cjk(code):
            out.append(f" {char} ")
        else:
            out.append(char)
    return "".join(out)


def basic_words(text: str) -> list[str]:
    """Lower-cased, accent-stripped words and single punctuation marks."""
    words: list[str] = []
    for token in _clean(text).lower().split():
        token = "".join(c for c in unicodedata.normalize("NFD", token)
                        if unicodedata.category(c) != "Mn")
        start = 0
        for i, char in enumerate(token):
            if _is_punctuation(char):
                if start < i:
                    words.append(token[start:i])
                words.append(char)
                start = i + 1
        if start < len(token):
            words.append(token[start:])
    return words


class WordPiece:
    """Text -> BERT token ids, ``[CLS] ... [SEP]``, at most ``max_length`` ids."""

    def __init__(self, vocab_file: Path, *, max_length: int = 128) -> None:
        tokens = vocab_file.read_text(encoding="utf-8").splitlines()
        self.vocab = {token: i for i, token in enumerate(tokens)}
        self.max_length = max_length
        self.unk = self.vocab["[UNK]"]
        self.cls = self.vocab["[CLS]"]
        self.sep = self.vocab["[SEP]"]
        self.pad = self.vocab["[PAD]"]
        self._pieces = lru_cache(maxsize=65536)(self._word_pieces)

    def _word_pieces(self, word: str) -> tuple[int, ...]:
        if len(word) > MAX_WORD_CHARS:
            return (self.unk,)
        pieces: list[int] = []
        start = 0
        while start < len(word):
            end = len(word)
            while end > start:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self.vocab:
                    pieces.append(self.vocab[piece])
                    break
                end -= 1
            else:
                return (self.unk,)
            start = end
        return tuple(pieces)

    def encode(self, text: str) -> list[int]:
        """The ids of ``text`` with ``[CLS]`` first and ``[SEP]`` last."""
        ids = [self.cls]
        for word in basic_words(text):
            ids.extend(self._pieces(word))
        return ids[:self.max_length - 1] + [self.sep]
