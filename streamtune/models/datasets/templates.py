"""Split units: the template a row belongs to.

Rows sharing a template always land in the same split, so a model is never
tested on a text it was trained on.

- A command's template is its ``normalized_input`` (the cleaning step's
  canonical text; :func:`~streamtune.schemas.text.normalize_text` of
  ``raw_input`` when a row has none): identical normalized commands never
  straddle splits.
- Error messages are grouped by the live new-pattern detector's
  :class:`~streamtune.models.detection.templates.TemplateMiner`, run over all of a
  dataset's messages (:func:`error_templates`), so splits and alerts agree on
  what one template is. :func:`error_template` is one message's template on its
  own: its tokens with every run holding a digit masked as ``<*>``.

Examples
--------
>>> error_template("press-1 did not answer (no ACK after 83 attempts)")
'<*> did not answer (no ACK after <*> attempts)'
>>> error_templates(["xinetd removing echo", "xinetd removing ftp", "xinetd removing time",
...                  "xinetd removing klogin", "xinetd removing chargen", "disk full"])[::5]
['xinetd removing <*>', 'disk full']
>>> command_template("", "  Start PUMP 3 ")
'start pump 3'
"""

from __future__ import annotations

from collections.abc import Iterable

from streamtune.models.detection.templates import WILDCARD, TemplateMiner, masked
from streamtune.schemas.text import normalize_text

__all__ = ["WILDCARD", "command_template", "error_template", "error_templates"]


def error_template(message: str) -> str:
    """One error message's template on its own (variable runs as ``<*>``)."""
    return masked(message)


def error_templates(messages: Iterable[str]) -> list[str]:
    """The template of each message, mined over all of them in order."""
    miner = TemplateMiner()
    ids = [miner.add(message).cluster_id for message in messages]
    return [miner.template(cluster_id) for cluster_id in ids]


def command_template(normalized_input: str, raw_input: str) -> str:
    """The template of a command: its normalized text (computed when absent)."""
    return normalized_input or normalize_text(raw_input)
