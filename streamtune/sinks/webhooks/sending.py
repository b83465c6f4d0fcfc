"""What goes out besides queued deliveries: request headers, DLQ records, the test alert.

Examples
--------
>>> sorted(request_headers("id-1", b"{}", None))
['Content-Type', 'X-Streamtune-Alert-Id']
"""

from __future__ import annotations

import hashlib
import json
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from pydantic import SecretStr

from streamtune.config import Settings
from streamtune.schemas.alerts import Alert
from streamtune.sinks.webhooks.http import host_of, post
from streamtune.sinks.webhooks.payloads import CONTENT_TYPE, render
from streamtune.sinks.webhooks.queue import Delivery
from streamtune.sinks.webhooks.signing import ALERT_ID_HEADER, SIGNATURE_HEADER, sign


def request_headers(alert_id: str, body: bytes, secret: SecretStr | None) -> dict[str, str]:
    """Content type, idempotency key and (when a secret is set) the signature."""
    headers = {"Content-Type": CONTENT_TYPE, ALERT_ID_HEADER: alert_id}
    if secret is not None:
        headers[SIGNATURE_HEADER] = sign(body, secret.get_secret_value())
    return headers


def endpoint_ref(url: str) -> str:
    """A short stable name of an endpoint URL (sha256 prefix) that reveals none of it."""
    return hashlib.sha256(url.encode()).hexdigest()[:16]


def dlq_record(d: Delivery) -> dict[str, Any]:
    """The alerts-DLQ record of a dead delivery: the alert, where and why; no secret, no URL.

    ``endpoint_ref`` identifies the endpoint exactly (compare ``endpoint_ref(url)``
    for your configured URLs) without revealing tokens a URL may carry.
    """
    return {
        "alert": json.loads(d.alert),
        "endpoint": f"{urlsplit(d.url).scheme}://{host_of(d.url)}/…",
        "endpoint_host": host_of(d.url), "endpoint_ref": endpoint_ref(d.url),
        "error": d.last_error, "attempts": d.attempts,
        "dead_at": datetime.fromtimestamp(d.finished_at or time.time(), UTC).isoformat(),
    }


def send_test_alert(settings: Settings) -> list[tuple[str, int | str]]:
    """POST a test alert to every endpoint once (no Kafka); return (host, status or error)."""
    alert = Alert.raise_(kind="rollout", severity="info", title="streamtune test alert",
                         key=f"test/{time.time_ns()}", source=settings.worker_id,
                         summary="If you can read this, webhook delivery works.",
                         details={"test": True})
    results: list[tuple[str, int | str]] = []
    for endpoint in settings.webhooks.endpoints:
        body = render(alert, endpoint.format)
        headers = request_headers(str(alert.alert_id), body,
                                  endpoint.secret or settings.webhooks.signing_secret)
        result = post(endpoint.url, body, headers,
                      timeout_s=endpoint.timeout_s or settings.webhooks.timeout_s)
        results.append((host_of(endpoint.url),
                        result.status if result.status is not None else result.error))
    return results
