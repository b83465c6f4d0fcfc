"""error_recovery: the recovery action and error category of a failed command.

Inputs are the error message's words plus the error type and the failed
command's type as tokens. Two heads: ``recovery_action`` (the correction's
action class) and ``error_category``. A row without a label for a head (the
Loghub samples have no corrections) simply does not train that head.

Stages (``epochs_per_stage`` each): all rows with augmented ones (broad
vocabulary of messages), then original rows only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from streamtune.models.tasks.base import Example, Stage


class RecoveryTask:
    """Error message + type + failed command -> recovery action, error category."""

    name: str = "error_recovery"
    dataset: str = "errors"
    split_column: str = "split"

    def __init__(self, heads: tuple[str, ...] = ("recovery_action", "error_category"),
                 type_as_input: bool = True) -> None:
        self.heads = heads
        self.type_as_input = type_as_input

    def stages(self, epochs: Mapping[str, float]) -> list[Stage]:
        each = epochs["epochs_per_stage"]
        return [
            Stage("broad_adaptation", "all rows incl. augmented", each, synthetic=True),
            Stage("recovery_specialization", "original rows", each, lr_scale=0.5),
        ]

    def examples(self, rows: Sequence[Mapping[str, Any]], stage: Stage | None) -> list[Example]:
        synthetic = stage is not None and stage.synthetic
        out = []
        for row in rows:
            if row.get("synthetic") and not synthetic:
                continue
            text, fields = self.inputs(row)
            out.append(Example(text, fields, {head: _label(row, head) for head in self.heads}))
        return out

    def inputs(self, event: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        failed = event.get("failed_command") or {}
        fields = {"failed_type": failed.get("command_type") if isinstance(failed, dict) else None}
        if self.type_as_input:
            fields["error_type"] = event.get("error_type")
        return str(event.get("error_message") or ""), {k: v for k, v in fields.items() if v}


def _label(row: Mapping[str, Any], head: str) -> str | None:
    if head == "recovery_action":
        correction = row.get("correction") or {}
        action = correction.get("action") if isinstance(correction, dict) else None
        return str(action) if action else None
    value = row.get(head)
    return str(value) if value not in (None, "") else None
