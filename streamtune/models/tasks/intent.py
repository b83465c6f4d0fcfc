"""intent_classifier: the command type from the command text, plus its context when present.

Progressive fine-tuning in three stages (``total_epochs`` split 40/40/20):

1. base_model_adaptation: every row, augmented ones included, text only, so the
   embedding learns the domain's words, synonyms and styles;
2. intent_specialization: original rows only, text only, the real intent
   distribution;
3. context_integration: original rows with their context (previous command,
   site, host) as extra tokens, at half the learning rate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from streamtune.models.tasks.base import Example, Stage, context_fields

CONTEXT_FIELDS = ("previous_command", "site", "host")


class IntentTask:
    """Command text (+ context) -> command_type."""

    name: str = "intent_classifier"
    dataset: str = "commands"
    split_column: str = "split"
    heads: tuple[str, ...] = ("command_type",)

    def stages(self, epochs: Mapping[str, float]) -> list[Stage]:
        total = epochs["total_epochs"]
        return [
            Stage("base_model_adaptation", "all rows incl. augmented, text only",
                  0.4 * total, with_fields=False, synthetic=True),
            Stage("intent_specialization", "original rows, text only",
                  0.4 * total, with_fields=False),
            Stage("context_integration", "original rows, text + context tokens",
                  0.2 * total, lr_scale=0.5),
        ]

    def examples(self, rows: Sequence[Mapping[str, Any]], stage: Stage | None) -> list[Example]:
        synthetic = stage is not None and stage.synthetic
        with_fields = stage is None or stage.with_fields
        out = []
        for row in rows:
            if row.get("synthetic") and not synthetic:
                continue
            text, fields = self.inputs(row)
            out.append(Example(text, fields if with_fields else {},
                               {"command_type": row.get("command_type") or None}))
        return out

    def inputs(self, event: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        text = event.get("normalized_input") or event.get("raw_input") or ""
        return str(text), context_fields(event.get("context"), CONTEXT_FIELDS)
