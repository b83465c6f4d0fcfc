"""The fields of a clean event the detectors read, decoded alone from its JSON.

A detect stage reads clean-topic records a worker validated and wrote; decoding only
these fields (pydantic-core skips the rest of the record) costs a fifth of decoding the
whole event model. A worker's detectors take the same fields off its full events
(:func:`watched_view`), so an event held for event-time order keeps only them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from streamtune.schemas.events import (
    CommandEvent,
    ErrorEvent,
    Event,
    MetricEvent,
    unvalidated,
)


class _Watched(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    event_id: str
    event_time: datetime


class WatchedCommand(_Watched):
    kind: Literal["command"]
    command_type: str
    success: bool
    execution_time: float
    raw_input: str
    normalized_input: str | None = None


class WatchedError(_Watched):
    kind: Literal["error"]
    error_type: str
    error_message: str


class WatchedMetric(_Watched):
    kind: Literal["metric"]
    metric: str
    value: float
    host: str


Watched = WatchedCommand | WatchedError | WatchedMetric
WATCHED: TypeAdapter[Watched] = TypeAdapter(
    Annotated[WatchedCommand | WatchedError | WatchedMetric, Field(discriminator="kind")])
"""``WATCHED.validate_json(record)``: a clean command, error or metric record's watched fields."""


W = TypeVar("W", bound=_Watched)
_FIELDS: dict[type[_Watched], frozenset[str]] = {
    model: frozenset(model.model_fields) for model in (WatchedCommand, WatchedError, WatchedMetric)}
"""Each view's fields set, shared (a view sets every field)."""


def _view(model: type[W], fields: dict[str, Any]) -> W:
    """``model`` holding ``fields``, taken from an event already validated."""
    return unvalidated(model, fields, _FIELDS[model])


def watched_view(event: Event, event_id: str) -> Watched | None:
    """What the detectors read of a worker's clean event (``event_id``: its id as text);
    ``None`` for kinds they do not read."""
    if isinstance(event, CommandEvent):
        return _view(WatchedCommand, {
            "event_id": event_id, "event_time": event.event_time, "kind": "command",
            "command_type": event.command_type, "success": event.success,
            "execution_time": event.execution_time, "raw_input": event.raw_input,
            "normalized_input": event.normalized_input})
    if isinstance(event, ErrorEvent):
        return _view(WatchedError, {
            "event_id": event_id, "event_time": event.event_time, "kind": "error",
            "error_type": event.error_type, "error_message": event.error_message})
    if isinstance(event, MetricEvent):
        return _view(WatchedMetric, {
            "event_id": event_id, "event_time": event.event_time, "kind": "metric",
            "metric": event.metric, "value": event.value, "host": event.host})
    return None
