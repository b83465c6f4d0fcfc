"""One POST with the standard library, classified for the retry policy, and the backoff.

2xx is delivered; 408, 429, 5xx and network errors are worth retrying (a
``Retry-After`` is honoured); any other status (4xx, and 3xx: redirects are not
followed, since urllib would turn the POST into a GET) fails for good. Error
texts name the status or the exception, never the URL.

Examples
--------
>>> rng = random.Random(0)
>>> 0 <= backoff(3, initial_s=1, max_s=60, rng=rng) <= 4
True
>>> classify(503, None).outcome, classify(404, None).outcome
('retry', 'dead')
"""

from __future__ import annotations

import email.utils
import http.client
import random
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal
from urllib.parse import urlsplit

Outcome = Literal["delivered", "retry", "dead"]
_RETRYABLE_4XX = frozenset({408, 429})
_USER_AGENT = "streamtune-webhooks/1"


@dataclass(frozen=True, slots=True)
class Result:
    """What one attempt came to: outcome, status (None on network errors), error text."""

    outcome: Outcome
    status: int | None
    error: str = ""
    retry_after_s: float | None = None


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def host_of(url: str) -> str:
    """``host[:port]`` of ``url``: the only part of an endpoint that is logged or labelled."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    return f"{host}:{parts.port}" if parts.port else host


def retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds asked for by a ``Retry-After`` header (delta seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - (now or datetime.now(UTC))).total_seconds(), 0.0)


def classify(status: int, retry_after_header: str | None) -> Result:
    """The outcome of an HTTP response with ``status``."""
    if 200 <= status < 300:
        return Result("delivered", status)
    error = f"HTTP {status}"
    if status >= 500 or status in _RETRYABLE_4XX:
        return Result("retry", status, error, retry_after(retry_after_header))
    if 300 <= status < 400:
        error += " (redirects are not followed: configure the final URL)"
    return Result("dead", status, error)


def post(url: str, body: bytes, headers: dict[str, str], *, timeout_s: float) -> Result:
    """POST ``body`` to ``url`` once and classify what came back."""
    request = urllib.request.Request(  # noqa: S310 - endpoint URLs are validated http(s)
        url, data=body, method="POST", headers={"User-Agent": _USER_AGENT, **headers})
    try:
        with _OPENER.open(request, timeout=timeout_s) as response:
            response.read(65_536)
            return classify(response.status, response.headers.get("Retry-After"))
    except urllib.error.HTTPError as exc:
        with exc:
            return classify(exc.code, exc.headers.get("Retry-After"))
    except urllib.error.URLError as exc:
        reason = exc.reason
        text = (f"{type(reason).__name__}: {reason}" if isinstance(reason, BaseException)
                else str(reason))
        return Result("retry", None, f"network error ({text})")
    except TimeoutError:
        return Result("retry", None, f"timed out after {timeout_s:g} s")
    except (OSError, http.client.HTTPException) as exc:  # resets, bad status lines, ...
        return Result("retry", None, f"{type(exc).__name__}: {exc}")
    except ValueError as exc:  # a URL http.client refuses; its message may quote the URL
        return Result("dead", None, f"{type(exc).__name__}: the URL was refused")


def backoff(attempt: int, *, initial_s: float, max_s: float, rng: random.Random) -> float:
    """Full-jitter delay before retry number ``attempt`` (1 = after the first failure).

    Uniform in ``[0, min(max_s, initial_s * 2 ** (attempt - 1))]``.
    """
    if attempt < 1:
        raise ValueError(f"attempt must be >= 1, not {attempt}")
    ceiling = min(max_s, initial_s * 2.0 ** min(attempt - 1, 64))
    return rng.uniform(0.0, ceiling)
