"""command_predictor: the next command type of a session, and its key parameters.

The input is the session's last ``HISTORY`` commands: their types as
positional tokens (``h1`` the latest), the latest pair as one token, whether
the latest succeeded, the latest command's text, and the shift from the
context. Parameters are predicted by carrying forward, for each parameter of
the predicted command type, the latest value of that parameter in the history
(:func:`carry_parameters`); where the history has none, none is predicted.

Gradual fine-tuning in three stages (``epochs_per_stage`` each):

1. domain_adaptation: every transition, history types only (the grammar of sessions);
2. task_specific_tuning: every transition with all inputs;
3. error_recovery_specialization: all inputs, transitions that follow a failed
   command repeated 3x (what users do after a failure), at half the rate.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from streamtune.models.tasks.base import Example, Stage
from streamtune.schemas.commands import COMMANDS

HISTORY = 4


class PredictorTask:
    """Session history -> next command_type."""

    name: str = "command_predictor"
    dataset: str = "commands"
    split_column: str = "session_split"
    heads: tuple[str, ...] = ("next_command",)

    def stages(self, epochs: Mapping[str, float]) -> list[Stage]:
        each = epochs["epochs_per_stage"]
        return [
            Stage("domain_adaptation", "every transition, history types only", each),
            Stage("task_specific_tuning", "every transition, all inputs", each),
            Stage("error_recovery_specialization",
                  "all inputs, transitions after a failure x3", each, lr_scale=0.5, oversample=3.0),
        ]

    def examples(self, rows: Sequence[Mapping[str, Any]], stage: Stage | None) -> list[Example]:
        out = []
        types_only = stage is not None and stage.name == "domain_adaptation"
        repeat = int(stage.oversample) if stage is not None else 1
        for history, target in transitions(rows):
            text, fields = self.inputs({"history": history, "context": target.get("context")})
            if types_only:
                text, fields = "", {k: v for k, v in fields.items() if k.startswith("h")}
            example = Example(text, fields, {"next_command": target.get("command_type")})
            failed = history[-1].get("success") is False
            out.extend([example] * (repeat if failed else 1))
        return out

    def inputs(self, event: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        history = list(event.get("history") or [])[-HISTORY:]
        fields: dict[str, Any] = {}
        for back, command in enumerate(reversed(history), start=1):
            fields[f"h{back}"] = command.get("command_type")
        if len(history) >= 2:
            fields["h12"] = f"{history[-1].get('command_type')}>{history[-2].get('command_type')}"
        if history:
            fields["h1_ok"] = str(history[-1].get("success"))
        context = event.get("context") or {}
        if isinstance(context, Mapping) and context.get("shift"):
            fields["shift"] = str(context["shift"])
        text = str(history[-1].get("normalized_input") or "") if history else ""
        return text, {k: v for k, v in fields.items() if v}


def transitions(rows: Sequence[Mapping[str, Any]]) -> list[tuple[list[Mapping[str, Any]],
                                                                  Mapping[str, Any]]]:
    """(history, next command) of every original command after the first of its session."""
    sessions: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for row in rows:
        if not row.get("synthetic"):
            sessions[str(row.get("session_id"))].append(row)
    out = []
    for session in sessions.values():
        session.sort(key=lambda r: (str(r.get("event_time")), str(r.get("event_id"))))
        for i in range(1, len(session)):
            out.append((session[max(0, i - HISTORY):i], session[i]))
    return out


def carry_parameters(history: Sequence[Mapping[str, Any]], command_type: str) -> dict[str, Any]:
    """The predicted command's parameters that the history already named, latest value first."""
    spec = COMMANDS.get(command_type)
    if spec is None:
        return {}
    wanted = set(spec.param_index)
    found: dict[str, Any] = {}
    for command in reversed(history):
        for name, value in (command.get("parameters") or {}).items():
            if name in wanted and name not in found:
                found[name] = value
    return found
