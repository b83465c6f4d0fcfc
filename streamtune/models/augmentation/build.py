"""Reading a parent's clean command, and building synthetic command and error events."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from pydantic import JsonValue

from streamtune.models.augmentation.grammar import Grammar
from streamtune.models.augmentation.rows import Base, Job, value_text
from streamtune.schemas.bounds import MAX_OBJECT_STRING_CHARS
from streamtune.schemas.commands import (
    COMMANDS,
    ERROR_TYPES,
    CommandSpec,
    ParamValue,
    fill_template,
    render,
    template_fields,
    validate_parameters,
)
from streamtune.schemas.events import CommandEvent, ErrorEvent

_NUMBER = r"(?<![\d._-]){}(?![\d_]|\.\d)"
_NAME = r"(?<![\w.-]){}(?![\w-]|\.\w)"


def _convert(spec: CommandSpec, raw: Mapping[str, str]) -> dict[str, ParamValue] | None:
    params: dict[str, ParamValue] = {}
    for name, text in raw.items():
        param = spec.param_index[name]
        try:
            if param.type == "int":
                params[name] = int(text)
            elif param.type == "float":
                params[name] = float(text)
            elif param.type == "enum":
                params[name] = next(c for c in param.choices if c.lower() == text.lower())
            else:
                params[name] = text
        except (ValueError, StopIteration):
            return None
    return params


def _clean(command_type: str, params: object) -> dict[str, ParamValue] | None:
    if not isinstance(params, dict) or validate_parameters(command_type, params):
        return None
    return {k: v for k, v in params.items() if isinstance(v, int | float | str)}


def _read(grammar: Grammar, spec: CommandSpec, texts: Sequence[object],
          declared: Sequence[object]) -> tuple[int, str, dict[str, ParamValue]] | None:
    for text in texts:
        if not isinstance(text, str) or not text.strip() or len(text) > MAX_OBJECT_STRING_CHARS:
            continue
        for params in declared:
            clean = _clean(spec.name, params)
            if clean is None:
                continue
            found = grammar.parse(spec.name, text, {k: value_text(v) for k, v in clean.items()})
            if found is not None and {k: v.lower() for k, v in found[1].items()} == {
                    k: value_text(v) for k, v in clean.items()}:
                return found[0], " ".join(text.split()), clean
        if not any(isinstance(p, dict) and p for p in declared):
            found = grammar.parse(spec.name, text)
            parsed = None if found is None else _convert(spec, found[1])
            if found is not None and parsed is not None and not validate_parameters(
                    spec.name, parsed):
                return found[0], " ".join(text.split()), parsed
    return None


def base_of(event: object, grammar: Grammar) -> Base | None:
    """The clean command behind a command or error event, or ``None``.

    A command event is clean when its ``normalized_input`` (else its
    ``raw_input``) parses as a phrasing of its ``command_type`` with values
    equal to its ``parameters`` (or, if those are empty, values that pass the
    catalogue dry run). An error event is clean when its correction (else its
    failed command) gives such a text and parameter set. Synthetic events
    (marked by an earlier augmentation) are never augmented again.
    """
    if isinstance(event, CommandEvent):
        spec = COMMANDS.get(event.command_type)
        if spec is None or event.context.get("synthetic") is True:
            return None
        found = _read(grammar, spec, (event.normalized_input, event.raw_input),
                      (event.parameters,))
        context = dict(event.context)
    elif isinstance(event, ErrorEvent):
        failed, fix = event.failed_command, event.correction
        spec = COMMANDS.get(str(failed.get("command_type")))
        if spec is None or failed.get("synthetic") is True:
            return None
        found = _read(grammar, spec, (fix.get("corrected_input"), failed.get("raw_input")),
                      (fix.get("parameters"), failed.get("parameters")))
        inner = failed.get("context")
        context = dict(inner) if isinstance(inner, dict) else {}
    else:
        return None
    if found is None:
        return None
    index, text, params = found
    wanted = text.lower()
    for i, template in enumerate(spec.phrasings):  # synonyms share one canonical pattern
        if set(template_fields(template)) == set(params) and fill(
                spec, template, params).lower() == wanted:
            index = i
            break
    return Base(event, spec, index, text, params, context)


@lru_cache(maxsize=8192)
def _value_regex(value: str, numeric: bool) -> re.Pattern[str]:
    """Compiled whole-value pattern (values repeat: compile each once)."""
    return re.compile((_NUMBER if numeric else _NAME).format(re.escape(value)))


def spans(spec: CommandSpec, text: str, params: Mapping[str, ParamValue]
          ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]] | None:
    """Parameter boundaries and entity tags of ``params`` in ``text`` (``None``: one missing).

    A value matches as a whole: a number not inside a longer number or a name
    (``1`` is not found in ``arm-1``), a name not inside a longer name.
    """
    lowered = text.lower()
    bounds: list[dict[str, Any]] = []
    tags: list[dict[str, Any]] = []
    for name, value in params.items():
        pattern = _value_regex(value_text(value), isinstance(value, int | float))
        taken = {(b["start"], b["end"]) for b in bounds}
        found = next((m.span() for m in pattern.finditer(lowered)
                      if m.span() not in taken), None)
        if found is None:
            return None
        start, end = found
        bounds.append({"name": name, "start": start, "end": end, "value": text[start:end]})
        tags.append({"label": spec.param_index[name].entity, "start": start, "end": end,
                     "text": text[start:end]})
    return bounds, tags


def command_event(job: Job, text: str, params: dict[str, ParamValue], *,
                  context: Mapping[str, JsonValue] | None = None,
                  execution_time: float | None = None) -> CommandEvent | None:
    """A synthetic command event derived from the job's (command) parent."""
    base, parent = job.base, job.base.parent
    if not isinstance(parent, CommandEvent) or len(text) > MAX_OBJECT_STRING_CHARS:
        return None
    spec = base.spec
    located = spans(spec, text, params)
    normal = render(spec, params, base.phrasing) if set(template_fields(
        spec.phrasings[base.phrasing])) == set(params) else text
    return CommandEvent(
        event_id=job.lineage.augmented_id, event_time=parent.event_time, source=parent.source,
        session_id=parent.session_id, raw_input=text, normalized_input=normal,
        command_type=spec.name, parameters=dict(params),
        context={**(base.context if context is None else context), **job.lineage.marks()},
        success=parent.success,
        execution_time=parent.execution_time if execution_time is None else execution_time,
        intent_labels=[spec.category, spec.name],
        parameter_boundaries=None if located is None else located[0],
        entity_tags=None if located is None else located[1],
        complexity_score=parent.complexity_score,
    )


class _Fill(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return key


def error_event(job: Job, error_type: str, *, text: str, params: dict[str, ParamValue],
                context: Mapping[str, JsonValue], fill: Mapping[str, str],
                message: int | None = None, template: str | None = None) -> ErrorEvent:
    """A synthetic error event: ``text``/``params`` failed with ``error_type``.

    The correction holds the parent's clean command; ``fill`` completes the
    catalogue's message templates; ``message`` picks one (random if ``None``)
    unless ``template`` gives the message template itself.
    """
    base, rng, parent = job.base, job.rng, job.base.parent
    error = ERROR_TYPES[error_type]
    host = base.context.get("host")
    target = next((str(v) for k, v in base.params.items()
                   if base.spec.param_index[k].type == "str"),
                  host if isinstance(host, str) else "the controller")
    values = _Fill(target=target, command=base.spec.name, user=base.user, role="operator",
                   param="value", value="?", limit="its range", n=str(rng.randint(2, 99)))
    values.update(fill)
    if template is None:
        template = error.messages[rng.randrange(len(error.messages)) if message is None
                                  else message]
    failed: dict[str, JsonValue] = {
        "raw_input": text, "command_type": base.spec.name, "parameters": dict(params),
        "context": dict(context), **job.lineage.marks()}
    if isinstance(parent, CommandEvent):
        failed["command_event_id"] = str(parent.event_id)
    elif "command_event_id" in parent.failed_command:
        failed["command_event_id"] = parent.failed_command["command_event_id"]
    return ErrorEvent(
        event_id=job.lineage.augmented_id, event_time=parent.event_time, source=parent.source,
        session_id=parent.session_id, failed_command=failed, error_type=error.name,
        error_message=template.format_map(values),
        correction={"action": error.recovery_action,
                    "note": rng.choice(error.corrections).format_map(values),
                    "command_type": base.spec.name, "parameters": dict(base.params),
                    "corrected_input": base.text},
        recovery_steps=[step.format_map(values) for step in error.recovery_steps],
        success_indicator=rng.random() < error.recovery_success,
        error_category=error.category, severity_level=error.severity,
        recovery_complexity=round(min(1.0, len(error.recovery_steps) / 5 + rng.random() / 5), 3),
        root_cause=rng.choice(error.root_causes),
    )


def fill(spec: CommandSpec, template: str, params: Mapping[str, ParamValue]) -> str:
    """Fill ``template`` with ``params`` (only the placeholders it names)."""
    return fill_template(spec, template, dict(params))[0]
