"""Durable, signed webhook delivery of alerts (see ``docs/webhooks.md`` for receivers).

``AlertDispatcher`` moves alerts from the alerts topic through a SQLite
delivery queue to every endpoint that wants them; ``verify`` checks a
signature on the receiving side; ``send_test_alert`` posts a test alert.
"""

from streamtune.sinks.webhooks.dispatcher import AlertDispatcher
from streamtune.sinks.webhooks.metrics import WebhookMetrics
from streamtune.sinks.webhooks.sending import send_test_alert
from streamtune.sinks.webhooks.signing import sign, verify

__all__ = ["AlertDispatcher", "WebhookMetrics", "send_test_alert", "sign", "verify"]
