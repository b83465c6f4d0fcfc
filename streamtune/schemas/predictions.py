"""The prediction record: one model's answer for one event, as on the ``scored`` topic.

The same fields are the columns of the ``predictions`` table. ``role`` says
how the answer was produced: ``champion`` (serving), ``challenger`` (serving
the rollout share of sessions) or ``shadow`` (scored beside the one that
served, for the canary). ``correct`` is 1 or 0 once the truth is known (a
command's executed type, the next command of the session, a corrected
recovery), else -1.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Role = Literal["champion", "challenger", "shadow"]


class PredictionRecord(BaseModel):
    """One scored event for one model version."""

    model_config = ConfigDict(extra="forbid")

    event_id: str
    session_id: str
    event_time: datetime
    kind: Literal["command", "error"]
    command_type: str = ""
    input: str = Field("", description="the redacted text the model read (not stored in the table)")
    model: str
    version: str
    role: Role
    served: bool
    label: str
    confidence: float = Field(ge=0.0, le=1.0)
    outputs: dict[str, Any] = Field(default_factory=dict)
    truth: str = ""
    correct: Literal[-1, 0, 1] = -1
    replaces: Literal[-1, 0, 1] = Field(
        -1, description="a re-emitted record's earlier outcome, which this one supersedes "
                        "(-1: none counted), so live counts stay one per event")
    reemitted: bool = Field(
        False, description="sent again with a truth given later (feedback, a correction); "
                           "not stored in the table")
    latency_us: int = Field(0, ge=0)
    worker: str = ""
