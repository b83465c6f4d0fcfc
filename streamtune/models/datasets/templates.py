"""Split units: the template a row belongs to.

Rows sharing a template always land in the same split, so a model is never
tested on a text it was trained on.

- A command's template is its ``normalized_input`` (the cleaning step's
  canonical text; :func:`~streamtune.streams.cleaning.normalize_text` of
  ``raw_input`` when a row has none): identical normalized commands never
  straddle splits.
- An error's template is its ``error_message`` with the variable tokens masked
  the way Drain masks log lines: UUIDs, IPv4 addresses (with port), HDFS block
  ids (``blk_-123``), hex numbers, file paths, and then any token that holds a
  digit (``pump-3``, ``83``, ``user-062``) become ``<*>``.

Examples
--------
>>> error_template("press-1 did not answer (no ACK after 83 attempts)")
'<*> did not answer (no ACK after <*> attempts)'
>>> error_template("Receiving block blk_-1608999687919862906 src: /10.250.19.102:54106")
'Receiving block <*> src: <*>'
>>> command_template("", "  Start PUMP 3 ")
'start pump 3'
"""

from __future__ import annotations

import re

from streamtune.streams.cleaning import normalize_text

WILDCARD = "<*>"

_MASKS = (
    re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"),
    re.compile(r"/?\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b"),
    re.compile(r"\bblk_-?\d+\b"),
    re.compile(r"\b0[xX][0-9a-fA-F]+\b"),
    re.compile(r"(?<![\w<])(?:/[\w.\-]+){2,}/?"),
    re.compile(r"[\w.\-:@]*\d[\w.\-:@]*"),
)
_RUNS = re.compile(r"<\*>(?:[\s,]*<\*>)+")


def error_template(message: str) -> str:
    """The Drain-style template of an error message (variable tokens as ``<*>``)."""
    text = " ".join(message.split())
    for pattern in _MASKS:
        text = pattern.sub(WILDCARD, text)
    return _RUNS.sub(WILDCARD, text)


def command_template(normalized_input: str, raw_input: str) -> str:
    """The template of a command: its normalized text (computed when absent)."""
    return normalized_input or normalize_text(raw_input)
