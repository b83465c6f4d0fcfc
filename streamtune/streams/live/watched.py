"""The fields of a clean event the detectors read, decoded alone from its JSON.

A detect stage reads clean-topic records a worker validated and wrote; decoding only
these fields (pydantic-core skips the rest of the record) costs a fifth of decoding the
whole event model. A worker's detectors read the same fields off its full events.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter


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
