"""The alert envelope: drift, new patterns, regressions and rollout steps, one schema.

Alerts go to the ``alerts`` topic, the ``alerts`` table, Prometheus counters and
webhooks. ``alert_id`` is deterministic (a UUIDv5 of what raised it), so an
alert raised again after a replay keeps its id and is delivered once.

Examples
--------
>>> a = Alert.raise_(kind="drift", severity="warning", title="error rate up",
...                  signal="success", scope="global", key="evt-42", source="w1")
>>> a.alert_id == Alert.raise_(kind="drift", severity="warning", title="x",
...                            signal="success", scope="global", key="evt-42", source="w2").alert_id
True
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from uuid import UUID, uuid5

from pydantic import BaseModel, ConfigDict, Field

from streamtune.schemas.bounds import UtcTime

AlertKind = Literal["drift", "new_pattern", "regression", "rollout"]
AlertSeverity = Literal["info", "warning", "critical"]
SEVERITY_ORDER: dict[str, int] = {"info": 0, "warning": 1, "critical": 2}
ALERT_KINDS: tuple[str, ...] = ("drift", "new_pattern", "regression", "rollout")
_NAMESPACE = UUID("a1e7c0de-5eed-4b1e-8a1e-57a7e0000001")


class Alert(BaseModel):
    """One alert. ``details`` holds the numbers behind it (JSON object)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1] = 1
    alert_id: UUID
    kind: AlertKind
    severity: AlertSeverity
    title: Annotated[str, Field(max_length=300)]
    summary: Annotated[str, Field(max_length=4000)] = ""
    signal: Annotated[str, Field(max_length=100)] = ""
    scope: Annotated[str, Field(max_length=200)] = "global"
    model: Annotated[str, Field(max_length=100)] = ""
    version: Annotated[str, Field(max_length=100)] = ""
    raised_at: UtcTime
    source: Annotated[str, Field(max_length=200)] = ""
    details: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def raise_(cls, *, kind: AlertKind, severity: AlertSeverity, title: str, key: str,
               signal: str = "", scope: str = "global", **fields: Any) -> Alert:
        """A new alert whose id derives from ``kind/signal/scope/key``."""
        alert_id = uuid5(_NAMESPACE, f"{kind}/{signal}/{scope}/{key}")
        fields.setdefault("raised_at", datetime.now(UTC))
        return cls(alert_id=alert_id, kind=kind, severity=severity, title=title,
                   signal=signal, scope=scope, **fields)

    def at_least(self, severity: str) -> bool:
        """Whether this alert is at least as severe as ``severity``."""
        return SEVERITY_ORDER[self.severity] >= SEVERITY_ORDER[severity]
