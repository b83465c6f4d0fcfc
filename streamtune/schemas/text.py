"""What ``normalized_input`` means: the canonical form of a command text.

Part of the stored contract: the clean topics and tables carry
``normalized_input`` as :func:`normalize_text` makes it, and the models, the
datasets and the template miner all read text in this form. :func:`unhide`
(invisible characters dropped, curly quotes straightened, NFKC) is its first
step; redaction uses it too, to see secrets hidden by look-alike characters.

Examples
--------
>>> normalize_text("  Restart   PUMP-3 “Now”!! ")
'restart pump-3 "Now"'
>>> unhide("pass\u200bword")
'password'
"""

from __future__ import annotations

import re
import unicodedata

# Invisible characters (controls, zero-width, bidi marks, BOM, tags) and quote look-alikes.
_INVISIBLE = [*range(0x00, 0x09), *range(0x0E, 0x20), *range(0x7F, 0xA0), 0xAD, 0x034F, 0x061C,
              0x180E, *range(0x200B, 0x2010), *range(0x202A, 0x202F), *range(0x2060, 0x2070),
              0xFEFF, *range(0xFFF9, 0xFFFC), *range(0xE0000, 0xE0080)]
_UNHIDE_TABLE: dict[int, str | None] = {cp: None for cp in _INVISIBLE}
_UNHIDE_TABLE.update({ord(c): "'" for c in "\u2018\u2019\u201a\u201b\u2032\u2035"})
_UNHIDE_TABLE.update({ord(c): '"' for c in "\u201c\u201d\u201e\u201f\u2033\u2036\xab\xbb"})
_ASCII_INVISIBLE = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")


def unhide(text: str) -> str:
    """Drop invisible characters, straighten curly quotes, then apply Unicode NFKC.

    Plain ASCII text without control characters is returned as it is.
    """
    if text.isascii():
        return _ASCII_INVISIBLE.sub("", text) if _ASCII_INVISIBLE.search(text) else text
    return unicodedata.normalize("NFKC", text.translate(_UNHIDE_TABLE))


_TRAILING = " .!,;:"
_WORDISH = r"\w\u0300-\u036f"  # combining marks count as word: "İ".lower() ends in one
_QUOTED = re.compile(
    "(\\[REDACTED:[a-z_]+\\]"
    f"|(?<![{_WORDISH}])\"[^\"]*\""
    f"|(?<![{_WORDISH}])'[^']*'(?![{_WORDISH}]))"
)
_CONTROLS_TO_SPACE = dict.fromkeys([*range(0x00, 0x20), *range(0x7F, 0xA0)], " ")


def normalize_text(text: str) -> str:
    """Canonical form of a command text.

    Control characters (C0, DEL and C1) become spaces (``restart\\0pump`` ->
    ``restart pump``); Unicode NFKC; zero-width and bidi characters removed;
    curly quotes straightened; whitespace runs collapsed to one space and the
    ends stripped; lower case except inside ``"quoted"`` or ``'quoted'`` segments
    and ``[REDACTED:kind]`` markers; trailing ``. ! , ; :`` removed (a
    trailing ``?`` stays: the catalogue has question phrasings). Idempotent.
    """
    out = _normalize_once(text)
    if not out.isascii():
        # Lower-casing non-ASCII text can leave text a second pass would change.
        for _ in range(3):
            again = _normalize_once(out)
            if again == out:
                break
            out = again
    return out


def _normalize_once(text: str) -> str:
    if not text.isprintable():  # a control character separates words: keep a space
        text = text.translate(_CONTROLS_TO_SPACE)
    text = " ".join(unhide(text).split())
    if '"' in text or "'" in text or "[" in text:
        parts = _QUOTED.split(text)
        text = "".join(part if i % 2 else part.lower() for i, part in enumerate(parts))
    else:
        text = text.lower()
    return text.rstrip(_TRAILING)
