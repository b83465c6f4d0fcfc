"""Stripe-style HMAC-SHA256 signatures of webhook bodies, replay-safe by timestamp.

The header is ``X-Streamtune-Signature: t=<unix seconds>,v1=<hex>`` where the hex
digest is ``HMAC-SHA256(secret, f"{t}.".encode() + body)``. Signing the
timestamp lets a receiver refuse old (replayed) requests.

Examples
--------
>>> header = sign(b'{"a":1}', "s3cret", now=1_700_000_000)
>>> header.startswith("t=1700000000,v1=")
True
>>> verify(b'{"a":1}', header, "s3cret", now=1_700_000_010)
True
>>> verify(b'{"a":2}', header, "s3cret", now=1_700_000_010)
False
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "X-Streamtune-Signature"
ALERT_ID_HEADER = "X-Streamtune-Alert-Id"


def _digest(body: bytes, secret: str | bytes, timestamp: int) -> str:
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def sign(body: bytes, secret: str | bytes, *, now: float | None = None) -> str:
    """The signature header value for ``body`` at ``now`` (default: the current time)."""
    timestamp = int(time.time() if now is None else now)
    return f"t={timestamp},v1={_digest(body, secret, timestamp)}"


def verify(body: bytes, header: str, secret: str | bytes, *, tolerance_s: float = 300,
           now: float | None = None) -> bool:
    """Whether ``header`` signs ``body`` with ``secret`` within ``tolerance_s`` of ``now``.

    Any ``v1`` entry may match (several appear while a secret is rotated); a
    malformed header, a missing timestamp or one further than ``tolerance_s``
    from ``now`` gives False.
    """
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        name, sep, value = part.strip().partition("=")
        if not sep:
            continue
        if name == "t" and value.isascii() and value.isdigit():
            timestamp = int(value)
        elif name == "v1":
            candidates.append(value)
    if timestamp is None or not candidates:
        return False
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_s:
        return False
    expected = _digest(body, secret, timestamp)
    return any(hmac.compare_digest(expected, c) for c in candidates)
