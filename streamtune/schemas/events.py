"""Event models: one per data source of the control system.

Every event shares an envelope (``event_id``, ``kind``, ``event_time``,
``source``, ``session_id``, ``schema_version``); the ``kind`` field picks the
model. Unknown fields are rejected, so typos in producers surface at once.

Field types are strict: each takes the JSON type its JSON Schema names, and
nothing pydantic's lax mode would coerce (``"yes"``, ``1`` or ``"true"`` for
a boolean, ``"0.5"`` for a number, ``2.0`` for an integer, an epoch number for
a time). An integer is a number, so ``1`` is a valid float. (Strict field
types rather than a strict model: Python callers may still pass nested models
as dicts.)

Examples
--------
>>> from datetime import UTC, datetime
>>> e = CommandEvent(raw_input="restart pump 3", command_type="restart_device",
...                  success=True, execution_time=0.4, session_id="s1",
...                  source="console", event_time=datetime(2026, 1, 1, tzinfo=UTC))
>>> e.kind
'command'
"""

from __future__ import annotations

from collections.abc import Set
from typing import Annotated, Any, Literal, TypeVar
from uuid import uuid4

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    StrictBool,
    StrictInt,
    WithJsonSchema,
)

from streamtune.schemas.bounds import (
    Identifier,
    JsonObject,
    LongText,
    Measurement,
    Milliseconds,
    Name,
    Score,
    Seconds,
    Text,
    UtcTime,
    Uuid,
)

SCHEMA_VERSION = 2
"""Version producers write today; consumers also accept ``SCHEMA_VERSION - 1``."""

SchemaVersion = Annotated[StrictInt, Field(ge=SCHEMA_VERSION, le=SCHEMA_VERSION),
                          WithJsonSchema({"type": "integer", "const": SCHEMA_VERSION})]
"""The current version, as an integer (a strict ``Literal`` would still take ``2.0``)."""

Severity = Literal["low", "medium", "high", "critical"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_max_length=4000)


StrictT = TypeVar("StrictT", bound=_Strict)


ModelT = TypeVar("ModelT", bound=BaseModel)


def unvalidated(model: type[ModelT], values: dict[str, Any], fields_set: Set[str]) -> ModelT:
    """``model`` holding ``values`` (its field dict, taken as it is), not validated: for
    values already validated (``model_construct`` costs three times as much). Only for
    models with no extra fields and no private attributes."""
    built = object.__new__(model)
    object.__setattr__(built, "__dict__", values)
    object.__setattr__(built, "__pydantic_fields_set__", fields_set)
    object.__setattr__(built, "__pydantic_extra__", None)
    object.__setattr__(built, "__pydantic_private__", None)
    return built


def with_fields(model: StrictT, update: dict[str, Any]) -> StrictT:
    """``model.model_copy(update=update)`` without its overhead (the worker's batch writes
    into its own events instead: :func:`set_fields`).

    Like ``model_copy`` nothing is validated: ``update`` must hold valid values.
    Event models forbid extra fields and have no private attributes, so a copy
    is their field dict updated, and the updated names added to the fields set.
    """
    return unvalidated(type(model), {**model.__dict__, **update},
                       model.__pydantic_fields_set__ | update.keys())


def set_fields(model: StrictT, update: dict[str, Any]) -> StrictT:
    """:func:`with_fields` written into ``model`` itself: no copy (in a batch of thousands
    a copy costs about 3 µs, a fresh dict for each). Only for a model its caller alone
    holds, as the worker its freshly decoded events: frozen models are otherwise shared."""
    model.__dict__.update(update)
    model.__pydantic_fields_set__.update(update)
    return model


class EventBase(_Strict):
    """Envelope every event carries."""

    event_id: Uuid = Field(default_factory=uuid4)
    schema_version: SchemaVersion = SCHEMA_VERSION
    event_time: UtcTime
    source: Name
    session_id: Name


class ParameterSpan(_Strict):
    """Where a parameter's value sits in the command text (character offsets)."""

    name: Identifier
    start: StrictInt = Field(ge=0, le=2000)
    end: StrictInt = Field(ge=0, le=2000)
    value: Annotated[str, Field(max_length=500)]


class EntityTag(_Strict):
    """A labelled span of the command text (device, location, quantity, ...)."""

    label: Identifier
    start: StrictInt = Field(ge=0, le=2000)
    end: StrictInt = Field(ge=0, le=2000)
    text: Annotated[str, Field(max_length=500)]


class CommandEvent(EventBase):
    """A command a user gave the control system, and how its execution went."""

    kind: Literal["command"] = "command"
    raw_input: Text
    normalized_input: Text | None = None
    command_type: Identifier
    parameters: JsonObject = Field(default_factory=dict)
    context: JsonObject = Field(default_factory=dict)
    success: StrictBool
    execution_time: Seconds
    intent_labels: list[Identifier] | None = Field(None, max_length=16)
    parameter_boundaries: list[ParameterSpan] | None = Field(None, max_length=64)
    entity_tags: list[EntityTag] | None = Field(None, max_length=64)
    complexity_score: Score | None = None


class ErrorEvent(EventBase):
    """A failed command with its error, the correction and the recovery taken."""

    kind: Literal["error"] = "error"
    failed_command: JsonObject
    error_type: Identifier
    error_message: LongText
    correction: JsonObject = Field(default_factory=dict)
    recovery_steps: list[Annotated[str, Field(max_length=500)]] = Field(
        default_factory=list, max_length=32
    )
    success_indicator: StrictBool
    error_category: Identifier | None = None
    severity_level: Severity | None = None
    recovery_complexity: Score | None = None
    root_cause: Annotated[str, Field(max_length=500)] | None = None


class FeedbackEvent(EventBase):
    """A user's verdict on a command's outcome or on a suggestion."""

    kind: Literal["feedback"] = "feedback"
    refers_to: Uuid = Field(description="event_id of the command the feedback is about")
    user_id: Name
    rating: StrictInt | None = Field(None, ge=1, le=5)
    helpful: StrictBool | None = None
    comment: LongText = ""
    actual_command_type: Identifier | None = Field(
        None, description="what the user meant, when it differs from what ran"
    )


class CorrectionEvent(EventBase):
    """A user's correction of a command: what was typed and what was meant."""

    kind: Literal["correction"] = "correction"
    refers_to: Uuid
    original_input: Text
    corrected_input: Text
    original_command_type: Identifier | None = None
    corrected_command_type: Identifier
    corrected_parameters: JsonObject = Field(default_factory=dict)


class TraceEvent(EventBase):
    """One span of a command's execution trace."""

    kind: Literal["trace"] = "trace"
    trace_id: Name
    span_id: Name
    parent_span_id: Name | None = None
    command_event_id: Uuid | None = None
    operation: Name
    duration_ms: Milliseconds
    status: Literal["ok", "error"]
    attributes: JsonObject = Field(default_factory=dict)


MetricUnit = Literal["percent", "bytes", "bytes_per_s", "count", "ms", "s", "celsius", "ratio"]


class MetricEvent(EventBase):
    """A resource measurement (CPU, memory, disk, network, queue depth...)."""

    kind: Literal["metric"] = "metric"
    host: Name
    metric: Identifier
    value: Measurement
    unit: MetricUnit
    labels: dict[Identifier, Annotated[str, Field(max_length=128)]] = Field(
        default_factory=dict, max_length=16
    )


class PerformanceEvent(EventBase):
    """Performance of a command type over an interval the control system measured."""

    kind: Literal["performance"] = "performance"
    command_type: Identifier
    interval_s: Seconds
    count: StrictInt = Field(ge=0, le=10_000_000)
    latency_p50_ms: Milliseconds
    latency_p95_ms: Milliseconds
    latency_p99_ms: Milliseconds
    throughput_per_s: Annotated[float, Strict(), Field(ge=0.0, le=1e9, allow_inf_nan=False)]


class ErrorStateEvent(EventBase):
    """A component of the control system entering or leaving an error state."""

    kind: Literal["error_state"] = "error_state"
    component: Name
    state: Literal["healthy", "degraded", "failed", "recovering"]
    previous_state: Literal["healthy", "degraded", "failed", "recovering"] | None = None
    error_code: Identifier | None = None
    message: LongText = ""
    severity_level: Severity


Event = Annotated[
    CommandEvent
    | ErrorEvent
    | FeedbackEvent
    | CorrectionEvent
    | TraceEvent
    | MetricEvent
    | PerformanceEvent
    | ErrorStateEvent,
    Field(discriminator="kind"),
]
"""Any event, chosen by its ``kind``."""

EVENT_MODELS: dict[str, type[EventBase]] = {
    "command": CommandEvent,
    "error": ErrorEvent,
    "feedback": FeedbackEvent,
    "correction": CorrectionEvent,
    "trace": TraceEvent,
    "metric": MetricEvent,
    "performance": PerformanceEvent,
    "error_state": ErrorStateEvent,
}
"""Model per ``kind``, in catalogue order."""
