"""Augmentation: clean command and error events -> gated synthetic training rows.

Twelve catalogue techniques in three families derive synthetic events from a
parent event the command catalogue can read (see :mod:`.variation`,
:mod:`.simulation`, :mod:`.context`); five text techniques (:mod:`.text`)
augment command events of any other type, and a selected event that yields
nothing is counted as not augmentable, with its reason. Every row
is synthetic, names its family and technique, and keeps the parent's
``event_id`` (lineage); its own id is ``uuid5(parent id, technique, index)``.
Which events are augmented, and how, depends only on ``(seed, event_id)``,
so a Kafka replay gives identical rows.

Catalogue rows pass four gates whose exact rules are in :mod:`.quality`
(text rows pass the same four with catalogue-free rules): semantic
validity (expert-rule confidence >= ``semantic_min_confidence``), syntax
(share of text chunks the grammar cannot explain <= ``syntax_error_tolerance``),
a dry run against the catalogue (command rows must pass it, error rows must
fail it as their error claims), and per-technique batch rejection when the
dry-run success rate is below ``execution_min_success_rate``.

Examples
--------
>>> from datetime import UTC, datetime
>>> from streamtune.config import AugmentationSettings
>>> from streamtune.simulator import Simulator
>>> events = list(Simulator(2, start=datetime(2026, 1, 1, tzinfo=UTC)).events(500))
>>> result = Augmenter(AugmentationSettings(rate=0.3, seed=1)).augment(events)
>>> {row.parent_event_id for row in result.rows} <= {e.event_id for e in events}
True
>>> all(q.batch_rejected is False for q in result.qc)
True
"""

from streamtune.models.augmentation.augmenter import FAMILIES_FOR_KIND, TECHNIQUES, Augmenter
from streamtune.models.augmentation.build import base_of
from streamtune.models.augmentation.examples import ClassExamples, tokenize
from streamtune.models.augmentation.grammar import DEFAULT_GRAMMAR, Grammar, grammar_for
from streamtune.models.augmentation.lexicon import DEFAULT_SYNONYMS
from streamtune.models.augmentation.quality import (
    command_of,
    dry_run,
    dry_run_violations,
    gate_batch,
    score,
    semantic_confidence,
    syntax_check,
    syntax_error_share,
)
from streamtune.models.augmentation.rows import (
    AugmentationResult,
    AugmentedRow,
    TechniqueQC,
    Unaugmentable,
    augmented_id,
)
from streamtune.models.augmentation.simulation import TECHNIQUE_ERRORS
from streamtune.models.augmentation.text import TEXT_TECHNIQUES, text_base_of

__all__ = [
    "DEFAULT_GRAMMAR",
    "DEFAULT_SYNONYMS",
    "FAMILIES_FOR_KIND",
    "TECHNIQUES",
    "TECHNIQUE_ERRORS",
    "TEXT_TECHNIQUES",
    "AugmentationResult",
    "AugmentedRow",
    "Augmenter",
    "ClassExamples",
    "Grammar",
    "TechniqueQC",
    "Unaugmentable",
    "augmented_id",
    "base_of",
    "command_of",
    "dry_run",
    "dry_run_violations",
    "gate_batch",
    "grammar_for",
    "score",
    "semantic_confidence",
    "syntax_check",
    "syntax_error_share",
    "text_base_of",
    "tokenize",
]
