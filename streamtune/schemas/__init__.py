"""Event schemas, the dead-letter envelope, the topic catalogue and JSON Schema export."""

from streamtune.schemas.dead_letter import DeadLetter
from streamtune.schemas.decode import decode_batch, decode_event, validate_payload
from streamtune.schemas.events import (
    EVENT_MODELS,
    SCHEMA_VERSION,
    CommandEvent,
    CorrectionEvent,
    ErrorEvent,
    ErrorStateEvent,
    Event,
    EventBase,
    FeedbackEvent,
    MetricEvent,
    PerformanceEvent,
    TraceEvent,
)

__all__ = [
    "EVENT_MODELS",
    "SCHEMA_VERSION",
    "CommandEvent",
    "CorrectionEvent",
    "DeadLetter",
    "ErrorEvent",
    "ErrorStateEvent",
    "Event",
    "EventBase",
    "FeedbackEvent",
    "MetricEvent",
    "PerformanceEvent",
    "TraceEvent",
    "decode_batch",
    "decode_event",
    "validate_payload",
]
