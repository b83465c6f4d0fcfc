"""What each endpoint receives: which alerts (filters) and in which body format.

``json`` bodies are the Alert JSON itself (``schema_version`` 1, ``alert_id``
included), so receivers parse one stable schema. ``slack`` bodies are a Slack
incoming-webhook message: ``text`` (the fallback/notification line) and
``blocks``.

Examples
--------
>>> from streamtune.config import WebhookEndpoint
>>> a = Alert.raise_(kind="drift", severity="warning", title="error rate up", key="k")
>>> wants(WebhookEndpoint(url="http://h/x", min_severity="critical"), a)
False
>>> sorted(json.loads(render(a, "slack")))
['blocks', 'text']
"""

from __future__ import annotations

import json
from typing import Any

from streamtune.config import WebhookEndpoint
from streamtune.schemas.alerts import Alert

CONTENT_TYPE = "application/json"
_SEVERITY_MARK = {"info": ":information_source:", "warning": ":warning:",
                  "critical": ":rotating_light:"}
_SLACK_SECTION_MAX = 3000


def wants(endpoint: WebhookEndpoint, alert: Alert) -> bool:
    """Whether ``endpoint`` subscribes to ``alert`` (its kinds and minimum severity)."""
    kind_ok = not endpoint.kinds or alert.kind in endpoint.kinds
    return kind_ok and alert.at_least(endpoint.min_severity)


def render(alert: Alert, fmt: str) -> bytes:
    """The request body of ``alert`` for an endpoint of format ``fmt`` (json or slack)."""
    if fmt == "json":
        return alert.model_dump_json().encode()
    if fmt == "slack":
        return json.dumps(slack_message(alert), ensure_ascii=False).encode()
    raise ValueError(f"unknown webhook format {fmt!r} (json or slack)")


def _escape(text: str) -> str:
    """Slack mrkdwn control characters, escaped as Slack asks."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def slack_message(alert: Alert) -> dict[str, Any]:
    """A Slack incoming-webhook message (``text`` + ``blocks``) describing ``alert``."""
    headline = f"[{alert.severity.upper()}] {alert.kind}: {alert.title}"
    body = f"{_SEVERITY_MARK[alert.severity]} *{_escape(headline)}*"
    if alert.summary:
        body += "\n" + _escape(alert.summary)
    facts = [("signal", alert.signal), ("scope", alert.scope), ("model", alert.model),
             ("version", alert.version), ("source", alert.source)]
    context = " · ".join(f"{name}: `{_escape(value)}`" for name, value in facts if value)
    context += f"{' · ' if context else ''}raised {alert.raised_at.isoformat()}"
    context += f" · id `{alert.alert_id}`"
    return {
        "text": _clip(headline, _SLACK_SECTION_MAX),
        "blocks": [
            {"type": "section",
             "text": {"type": "mrkdwn", "text": _clip(body, _SLACK_SECTION_MAX)}},
            {"type": "context",
             "elements": [{"type": "mrkdwn", "text": _clip(context, _SLACK_SECTION_MAX)}]},
        ],
    }
