"""Events that follow a command: its error report, feedback, correction and trace spans."""

from __future__ import annotations

import random
from datetime import datetime
from typing import Any
from uuid import UUID

from streamtune.schemas.bounds import MAX_OBJECT_STRING_CHARS
from streamtune.schemas.commands import (
    COMMANDS,
    ERROR_TYPES,
    CommandSpec,
    ParamValue,
    fill_template,
    sample_parameters,
)
from streamtune.schemas.events import CorrectionEvent, ErrorEvent, FeedbackEvent, TraceEvent
from streamtune.simulator.scenario import FUTURE_COMMANDS
from streamtune.simulator.sessions import CommandRecord, Session

ROLES = ("operator", "engineer", "supervisor", "admin")
_GOOD_COMMENTS = ("worked fine", "quick, thanks", "done as asked", "", "perfect 👍",
                  "as expected", "fast this time")
_BAD_COMMENTS = ("did nothing", "failed again", "error message was unclear",
                 "took far too long", "wrong device reacted", "had to redo it by hand",
                 "ne marche pas", "funktioniert nicht 😞")
_LEAF_SPANS = {"equipment": "fieldbus.write", "process": "fieldbus.write",
               "monitoring": "query.read", "deployment": "orchestrator.apply",
               "data": "db.job", "maintenance": "scheduler.book", "security": "iam.update"}


_RELATED: dict[str, tuple[str, ...]] = {}
for _spec in COMMANDS.values():
    _RELATED[_spec.category] = (*_RELATED.get(_spec.category, ()), _spec.name)


class _Fill(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return key


def _fields(
    record: CommandRecord, spec: CommandSpec, session: Session, rng: random.Random
) -> _Fill:
    target = next((record.parameters[p.name] for p in spec.params if p.type == "str"
                   and p.entity not in ("version", "alarm") and p.name in record.parameters),
                  record.host)
    fill = _Fill(target=str(target), command=record.command_type, user=session.user_id,
                 role=rng.choice(ROLES), param="value", value="?", limit="its range",
                 n=str(rng.randint(2, 99)))
    fill.update(record.detail)
    return fill


def fixed_parameters(record: CommandRecord, spec: CommandSpec) -> dict[str, ParamValue]:
    """The parameters the user meant: out-of-range or misspelled values put right."""
    fixed = dict(record.parameters)
    if "param" in record.detail and "fixed" in record.detail:
        value = record.detail["fixed"]
        param = spec.param_index[record.detail["param"]]
        fixed[param.name] = (int(value) if param.type == "int" else
                             float(value) if param.type == "float" else value)
    elif "original" in record.detail:
        fixed[record.detail["original_param"]] = record.detail["original"]
    return fixed


def build_error(
    record: CommandRecord, spec: CommandSpec, session: Session, rng: random.Random,
    event_id: UUID, when: datetime,
) -> ErrorEvent:
    """The error report of a failed command, with correction and recovery steps."""
    error = ERROR_TYPES[record.error_type or "timeout"]
    fill = _fields(record, spec, session, rng)
    corrected = fixed_parameters(record, spec)
    raw = record.raw_input[:MAX_OBJECT_STRING_CHARS]  # JSON objects bound their strings
    failed: dict[str, Any] = {"raw_input": raw, "command_type": record.command_type,
                              "parameters": dict(record.parameters)}
    if record.logged:
        failed["command_event_id"] = str(record.event_id)
    return ErrorEvent(
        event_id=event_id, event_time=when, source=session.source,
        session_id=session.session_id, failed_command=failed, error_type=error.name,
        error_message=rng.choice(error.messages).format_map(fill),
        correction={
            "action": error.recovery_action,
            "note": rng.choice(error.corrections).format_map(fill),
            "command_type": record.command_type,
            "parameters": corrected,
            "corrected_input": fill_template(spec, record.template, corrected)[0],
        },
        recovery_steps=[step.format_map(fill) for step in error.recovery_steps],
        success_indicator=rng.random() < error.recovery_success,
        error_category=error.category,
        severity_level=error.severity,
        recovery_complexity=round(min(1.0, len(error.recovery_steps) / 5 + rng.random() / 5), 3),
        root_cause=rng.choice(error.root_causes),
    )


def recent(session: Session, rng: random.Random) -> CommandRecord:
    """One of the last five commands of a session that has a history."""
    depth = min(5, len(session.history))
    return session.history[-1 - int(rng.random() * depth)]


def build_feedback(
    session: Session, rng: random.Random, event_id: UUID, when: datetime
) -> FeedbackEvent:
    """A user's rating of one of their recent commands."""
    record = recent(session, rng)
    good = record.success and rng.random() < 0.9
    rating = rng.choice((3, 4, 5, 5, 5)) if good else rng.choice((1, 1, 2, 2, 3))
    actual = None
    if rating <= 2 and rng.random() < 0.3:
        guess = session.habit.next(record.command_type, rng)
        actual = guess if guess != record.command_type else None
    return FeedbackEvent(
        event_id=event_id, event_time=when, source=session.source,
        session_id=session.session_id, refers_to=record.event_id, user_id=session.user_id,
        rating=rating if rng.random() < 0.85 else None,
        helpful=None if rng.random() < 0.3 else rating >= 3,
        comment=rng.choice(_GOOD_COMMENTS if good else _BAD_COMMENTS),
        actual_command_type=actual,
    )


def build_correction(
    session: Session, rng: random.Random, event_id: UUID, when: datetime
) -> CorrectionEvent:
    """A user fixing a mistyped or misunderstood command."""
    record = session.noisy.pop() if session.noisy else recent(session, rng)
    spec = COMMANDS.get(record.command_type) or FUTURE_COMMANDS[record.command_type]
    meant, params = record.command_type, fixed_parameters(record, spec)
    text = fill_template(spec, record.template, params)[0]
    if text == record.raw_input or rng.random() < 0.2:  # misunderstood: a related command
        related = _RELATED.get(spec.category, ())
        meant = related[int(rng.random() * len(related))] if len(related) > 1 else meant
        if meant == record.command_type:
            meant = session.habit.next(record.command_type, rng)
        spec = COMMANDS[meant]
        index = int(rng.random() * len(spec.phrasings))
        params = sample_parameters(spec, index, rng)
        for name, value in record.parameters.items():  # the user still means the same asset
            if name in params and spec.param_index[name].type == "str":
                params[name] = value
        text = fill_template(spec, spec.phrasings[index], params)[0]
    return CorrectionEvent(
        event_id=event_id, event_time=when, source=session.source,
        session_id=session.session_id, refers_to=record.event_id,
        original_input=record.raw_input, corrected_input=text,
        original_command_type=record.command_type if rng.random() < 0.9 else None,
        corrected_command_type=meant, corrected_parameters=dict(params),
    )


def build_spans(
    record: CommandRecord, category: str, rng: random.Random, factor: float
) -> list[dict[str, Any]]:
    """The spans of one command's execution trace, root first."""
    trace_id = f"{rng.getrandbits(128):032x}"
    ids = [f"{rng.getrandbits(64):016x}" for _ in range(5)]
    total = record.execution_time * 1000.0
    parse = rng.uniform(0.3, 12.0) * factor
    check = rng.uniform(0.1, 3.0) * factor
    status = "ok" if record.success else "error"
    base = {"trace_id": trace_id, "command_event_id": record.event_id}
    error = {} if record.success else {"error_type": record.error_type or "timeout"}
    root = {"command_type": record.command_type, "host": record.host, **error}
    return [
        {**base, "span_id": ids[0], "parent_span_id": None, "operation": "command.handle",
         "duration_ms": total + parse + check, "status": status, "attributes": root},
        {**base, "span_id": ids[1], "parent_span_id": ids[0], "operation": "command.parse",
         "duration_ms": parse, "status": "ok", "attributes": {}},
        {**base, "span_id": ids[2], "parent_span_id": ids[0], "operation": "catalogue.validate",
         "duration_ms": check, "status": "ok", "attributes": {}},
        {**base, "span_id": ids[3], "parent_span_id": ids[0], "operation": f"dispatch.{category}",
         "duration_ms": total * 0.97, "status": status, "attributes": {}},
        {**base, "span_id": ids[4], "parent_span_id": ids[3],
         "operation": _LEAF_SPANS.get(category, "task.execute"),
         "duration_ms": total * rng.uniform(0.6, 0.95), "status": status,
         "attributes": {"host": record.host, **error}},
    ]


def build_trace(
    session: Session, span: dict[str, Any], event_id: UUID, when: datetime
) -> TraceEvent:
    """One span as an event."""
    return TraceEvent(
        event_id=event_id, event_time=when, source="tracer", session_id=session.session_id,
        trace_id=span["trace_id"], span_id=span["span_id"],
        parent_span_id=span["parent_span_id"], command_event_id=span["command_event_id"],
        operation=span["operation"], duration_ms=round(min(span["duration_ms"], 8.64e7), 3),
        status=span["status"], attributes=span["attributes"],
    )
