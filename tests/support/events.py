"""A valid payload of every event kind, recent enough for the store's TTL; event models at a
fixed time for the steps that keep nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from streamtune.schemas.events import CommandEvent

RECENT = (datetime.now(UTC) - timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
"""Recent enough to outlive the store's 30-day TTL."""
ENVELOPE = {"event_time": RECENT.isoformat(), "source": "console", "session_id": "s-1"}

VALID: dict[str, dict[str, Any]] = {
    "command": {"raw_input": "restart pump 3", "command_type": "restart_device",
                "parameters": {"device": "pump 3"}, "success": True, "execution_time": 0.4},
    "error": {"failed_command": {"raw_input": "open valve 9"}, "error_type": "timeout",
              "error_message": "valve 9 did not answer", "recovery_steps": ["retry"],
              "success_indicator": False},
    "feedback": {"refers_to": "6a1d6f4e-3b1c-4a57-9a4f-1d2e3f4a5b6c", "user_id": "u1",
                 "rating": 4},
    "correction": {"refers_to": "6a1d6f4e-3b1c-4a57-9a4f-1d2e3f4a5b6c",
                   "original_input": "opn valve 9", "corrected_input": "open valve 9",
                   "corrected_command_type": "open_valve"},
    "trace": {"trace_id": "t1", "span_id": "a", "operation": "plc.write", "duration_ms": 12.5,
              "status": "ok"},
    "metric": {"host": "plc-1", "metric": "cpu", "value": 0.41, "unit": "ratio"},
    "performance": {"command_type": "open_valve", "interval_s": 60, "count": 12,
                    "latency_p50_ms": 10, "latency_p95_ms": 30, "latency_p99_ms": 45,
                    "throughput_per_s": 0.2},
    "error_state": {"component": "valve-bank", "state": "degraded", "severity_level": "medium"},
}


def payload(kind: str, **changes: Any) -> dict[str, Any]:
    return {"kind": kind, **ENVELOPE, **VALID[kind], **changes}


WHEN = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
"""A fixed event time, for steps that keep nothing (no store, no TTL)."""
FIXED_ENVELOPE: dict[str, Any] = {"event_time": WHEN, "source": "console", "session_id": "s-1"}
"""The envelope of an event model at :data:`WHEN`."""


def fixed_command(raw: str, command_type: str = "restart_device", **fields: Any) -> CommandEvent:
    """A successful command at :data:`WHEN`, as a producer sends it (not cleaned)."""
    return CommandEvent(raw_input=raw, command_type=command_type, success=True,
                        execution_time=0.5, **FIXED_ENVELOPE, **fields)
