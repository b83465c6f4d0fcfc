"""Webhook delivery without Kafka: signatures, backoff, filters, payloads, the SQLite queue,
and single POSTs against a real local HTTP server."""

from __future__ import annotations

import hashlib
import hmac
import json
import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

from streamtune.config import WebhookEndpoint
from streamtune.schemas.alerts import Alert
from streamtune.sinks.webhooks import send_test_alert, sign, verify
from streamtune.sinks.webhooks.http import backoff, classify, host_of, post, retry_after
from streamtune.sinks.webhooks.payloads import render, slack_message, wants
from streamtune.sinks.webhooks.queue import DeliveryQueue, NewDelivery
from streamtune.sinks.webhooks.sending import dlq_record, endpoint_ref, request_headers
from tests.support.settings import free_port, make_settings
from tests.support.webhook_receiver import Receiver

BODY = b'{"alert_id":"x","severity":"critical"}'
T0 = 1_750_000_000


def _alert(kind: str = "drift", severity: str = "warning", **fields: object) -> Alert:
    return Alert.raise_(kind=kind, severity=severity, title=fields.pop("title", "error rate up"),
                        key=str(fields.pop("key", "k1")), **fields)  # type: ignore[arg-type]


# -- signatures ---------------------------------------------------------------------------

def test_signature_is_stripe_style_hmac_of_timestamp_dot_body() -> None:
    header = sign(BODY, "s3cret", now=T0)
    expected = hmac.new(b"s3cret", f"{T0}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert header == f"t={T0},v1={expected}"
    assert verify(BODY, header, "s3cret", now=T0 + 299)
    assert verify(BODY, header, b"s3cret", now=T0 - 299)  # clock skew either way


@pytest.mark.parametrize("body, secret, now", [
    (BODY.replace(b"critical", b"info"), "s3cret", T0),   # tampered body
    (BODY, "other", T0),                                   # wrong secret
    (BODY, "s3cret", T0 + 301),                            # too old: replay
    (BODY, "s3cret", T0 - 301),                            # from the future
])
def test_signature_rejects_tampering_wrong_secret_and_stale_timestamps(
        body: bytes, secret: str, now: int) -> None:
    assert not verify(body, sign(BODY, "s3cret", now=T0), secret, now=now)


def test_signature_with_forged_timestamp_is_rejected() -> None:
    digest = sign(BODY, "s3cret", now=T0).split("v1=")[1]
    assert not verify(BODY, f"t={T0 + 1000},v1={digest}", "s3cret", now=T0 + 1000)


@pytest.mark.parametrize("header", [
    "", "garbage", "t=,v1=", f"t={T0}", "v1=abcd", "t=²,v1=ab", f"t=-{T0},v1=ab",
    f"t={T0};v1=ab", "t=1e9,v1=00",
])
def test_malformed_signature_headers_are_false_not_errors(header: str) -> None:
    assert verify(BODY, header, "s3cret", now=T0) is False


def test_any_v1_entry_may_match_during_secret_rotation() -> None:
    old = sign(BODY, "old", now=T0)
    new_digest = sign(BODY, "new", now=T0).split("v1=")[1]
    header = f"{old},v1={new_digest}"
    assert verify(BODY, header, "new", now=T0) and verify(BODY, header, "old", now=T0)


# -- backoff and classification ---------------------------------------------------------

def test_backoff_is_full_jitter_doubling_to_the_cap() -> None:
    rng = random.Random(7)
    for attempt, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (5, 5.0), (30, 5.0)]:
        draws = [backoff(attempt, initial_s=0.5, max_s=5.0, rng=rng) for _ in range(400)]
        assert all(0.0 <= d <= ceiling for d in draws)
        assert max(draws) > 0.9 * ceiling and min(draws) < 0.1 * ceiling  # full jitter
    assert backoff(10_000, initial_s=1, max_s=60, rng=rng) <= 60
    with pytest.raises(ValueError, match="attempt must be >= 1"):
        backoff(0, initial_s=1, max_s=60, rng=rng)


@pytest.mark.parametrize("status, outcome", [
    (200, "delivered"), (204, "delivered"), (400, "dead"), (401, "dead"), (404, "dead"),
    (410, "dead"), (301, "dead"), (408, "retry"), (429, "retry"), (500, "retry"),
    (503, "retry"),
])
def test_status_classification(status: int, outcome: str) -> None:
    assert classify(status, None).outcome == outcome


def test_retry_after_seconds_and_http_dates() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert retry_after("7") == 7.0
    assert retry_after(format_datetime(now + timedelta(seconds=30), usegmt=True),
                       now=now) == 30.0
    assert retry_after(format_datetime(now - timedelta(seconds=30), usegmt=True), now=now) == 0
    assert retry_after("soon") is None and retry_after(None) is None
    assert classify(429, "12").retry_after_s == 12.0


def test_host_label_hides_path_query_and_credentials() -> None:
    assert host_of("https://user:pw@hooks.slack.com/services/T0/B0/SECRET?x=1") == \
        "hooks.slack.com"
    assert host_of("http://127.0.0.1:8080/hook?token=abc") == "127.0.0.1:8080"


# -- filters and payloads ---------------------------------------------------------------

@pytest.mark.parametrize("kinds, min_severity, kind, severity, wanted", [
    ([], "info", "drift", "info", True),
    (["drift"], "info", "new_pattern", "critical", False),
    (["drift", "rollout"], "info", "rollout", "info", True),
    ([], "warning", "drift", "info", False),
    ([], "warning", "drift", "critical", True),
    (["regression"], "critical", "regression", "warning", False),
])
def test_endpoint_filters(kinds: list[str], min_severity: str, kind: str, severity: str,
                          wanted: bool) -> None:
    endpoint = WebhookEndpoint(url="http://h/x", kinds=kinds, min_severity=min_severity)
    assert wants(endpoint, _alert(kind, severity)) is wanted


def test_json_body_is_the_stable_alert_schema() -> None:
    alert = _alert(summary="3 of 10 commands failed", details={"rate": 0.3})
    data = json.loads(render(alert, "json"))
    assert data["schema_version"] == 1 and data["alert_id"] == str(alert.alert_id)
    assert data["details"] == {"rate": 0.3} and data["kind"] == "drift"
    assert Alert.model_validate(data) == alert


def test_slack_message_shape_escaping_and_limits() -> None:
    alert = _alert("new_pattern", "critical", title="pattern <restart *> & co",
                   summary="x" * 3990, signal="template",
                   model="intent_classifier", version="v3")
    message = json.loads(render(alert, "slack"))
    assert set(message) == {"text", "blocks"}
    assert message["text"] == "[CRITICAL] new_pattern: pattern <restart *> & co"
    section, context = message["blocks"]
    assert section["type"] == "section" and section["text"]["type"] == "mrkdwn"
    assert "&lt;restart *&gt; &amp; co" in section["text"]["text"]
    assert len(section["text"]["text"]) <= 3000
    assert context["type"] == "context"
    assert str(alert.alert_id) in context["elements"][0]["text"]
    assert "`intent_classifier`" in context["elements"][0]["text"]
    assert slack_message(alert) == message


def test_unknown_format_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown webhook format 'xml'"):
        render(_alert(), "xml")


# -- the SQLite queue ---------------------------------------------------------------------

def _row(alert_id: str, url: str = "http://a/x") -> NewDelivery:
    return NewDelivery(alert_id, url, json.dumps({"alert_id": alert_id}), b"{}")


def test_queue_holds_each_alert_once_per_endpoint_across_reopen(tmp_path: Path) -> None:
    path = tmp_path / "alerts" / "deliveries.sqlite"
    queue = DeliveryQueue(path)
    assert queue.enqueue([_row("a1"), _row("a1", "http://b/y"), _row("a2")], now=100.0) == 3
    assert queue.enqueue([_row("a1"), _row("a1")], now=101.0) == 0
    queue.close()
    queue = DeliveryQueue(path)  # a restart
    assert queue.enqueue([_row("a1"), _row("a3")], now=102.0) == 1
    assert queue.counts() == {"pending": 4, "delivered": 0, "dead": 0}
    assert queue.counts(["http://b/y"])["pending"] == 1
    queue.close()


def test_queue_due_order_exclusion_and_outcomes(tmp_path: Path) -> None:
    queue = DeliveryQueue(tmp_path / "q.sqlite")
    queue.enqueue([_row("a1")], now=10.0)
    queue.enqueue([_row("a2")], now=20.0)
    queue.enqueue([_row("a3", "http://gone/x")], now=5.0)
    due = queue.due(now=30.0, urls=["http://a/x"], limit=10)
    assert [d.alert_id for d in due] == ["a1", "a2"]  # oldest first, configured URLs only
    assert queue.due(now=15.0, urls=["http://a/x"], limit=10)[0].alert_id == "a1"
    assert [d.alert_id for d in queue.due(now=30.0, urls=["http://a/x"], limit=10,
                                          exclude=[due[0].id])] == ["a2"]
    queue.record(due[0].id, state="pending", started_at=30.0, finished_at=31.0,
                 next_attempt_at=40.0, status=503, error="HTTP 503")
    assert [d.alert_id for d in queue.due(now=35.0, urls=["http://a/x"], limit=10)] == ["a2"]
    queue.record(due[0].id, state="dead", started_at=41.0, finished_at=42.0,
                 next_attempt_at=42.0, status=None, error="gave up")
    queue.record(due[1].id, state="delivered", started_at=41.0, finished_at=42.0,
                 next_attempt_at=42.0, status=200, error="")
    first = queue.get("a1", "http://a/x")
    assert first is not None
    assert (first.state, first.attempts, first.first_attempt_at, first.last_error) == \
        ("dead", 2, 30.0, "gave up")
    assert queue.due(now=100.0, urls=["http://a/x"], limit=10) == []
    assert [d.alert_id for d in queue.dead_not_sent()] == ["a1"]
    queue.mark_dlq_sent([first.id])
    assert queue.dead_not_sent() == []
    queue.close()


def test_dlq_record_names_the_endpoint_without_its_url() -> None:
    queue = DeliveryQueue(Path(":memory:"))
    url = "https://hooks.slack.com/services/T0/B0/SECRETTOKEN"
    queue.enqueue([NewDelivery("a1", url, _alert().model_dump_json(), b"{}")], now=1.0)
    row = queue.get("a1", url)
    assert row is not None
    record = dlq_record(row)
    text = json.dumps(record)
    assert "SECRETTOKEN" not in text and "services" not in text
    assert record["endpoint_host"] == "hooks.slack.com"
    assert record["endpoint_ref"] == hashlib.sha256(url.encode()).hexdigest()[:16]
    assert record["endpoint_ref"] == endpoint_ref(url)
    assert record["alert"]["kind"] == "drift"


def test_headers_sign_only_with_a_secret() -> None:
    from pydantic import SecretStr

    plain = request_headers("id-1", BODY, None)
    assert plain == {"Content-Type": "application/json", "X-Streamtune-Alert-Id": "id-1"}
    signed = request_headers("id-1", BODY, SecretStr("k"))
    assert verify(BODY, signed["X-Streamtune-Signature"], "k")
    assert not verify(BODY, signed["X-Streamtune-Signature"], "other")


# -- one POST against a real local server -------------------------------------------------

def test_post_outcomes_against_a_real_server() -> None:
    with Receiver(status=204) as rx:
        result = post(rx.url(), BODY, {"Content-Type": "application/json"}, timeout_s=2)
        assert (result.outcome, result.status) == ("delivered", 204)
        assert rx.received[0].body == BODY and rx.received[0].path == "/hook"
        rx.status, rx.headers = 503, {"Retry-After": "3"}
        result = post(rx.url(), BODY, {}, timeout_s=2)
        assert (result.outcome, result.status, result.retry_after_s) == ("retry", 503, 3.0)
        rx.status, rx.headers = 302, {"Location": "http://127.0.0.1:1/elsewhere"}
        result = post(rx.url(), BODY, {}, timeout_s=2)
        assert result.outcome == "dead" and "redirects are not followed" in result.error
        assert len(rx.received) == 3  # the redirect was not followed
        rx.status, rx.headers = 200, {}
        rx.hang()  # the answer (a 200) comes only when the receiver closes
        result = post(rx.url("/hook?token=SECRET"), BODY, {}, timeout_s=0.2)
        # the POST gave up before the answer: it did not wait for it
        assert result.outcome == "retry" and result.status is None
        assert "SECRET" not in result.error and "timed out" in result.error


def test_post_to_a_closed_port_is_a_retryable_network_error() -> None:
    result = post(f"http://127.0.0.1:{free_port()}/hook?token=SECRET", BODY, {}, timeout_s=1)
    assert result.outcome == "retry" and result.status is None
    assert "network error" in result.error and "SECRET" not in result.error


def test_send_test_alert_reports_each_endpoint(tmp_path: Path) -> None:
    closed = free_port()
    with Receiver(status=200) as ok, Receiver(status=410) as gone:
        settings = make_settings(tmp_path, webhooks={
            "signing_secret": "shared",
            "endpoints": [{"url": ok.url(), "kinds": ["drift"]},
                          {"url": gone.url(), "format": "slack", "secret": "own"},
                          {"url": f"http://127.0.0.1:{closed}/x", "timeout_s": 1}]})
        results = send_test_alert(settings)
        assert results[0] == (f"127.0.0.1:{ok.port}", 200)
        assert results[1] == (f"127.0.0.1:{gone.port}", 410)
        assert results[2][0] == f"127.0.0.1:{closed}" and "network error" in str(results[2][1])
        sent = ok.received[0]
        alert = Alert.model_validate_json(sent.body)
        assert alert.title == "streamtune test alert"
        assert sent.headers["X-Streamtune-Alert-Id"] == str(alert.alert_id)
        assert verify(sent.body, sent.headers["X-Streamtune-Signature"], "shared")
        slack = gone.received[0]
        assert set(json.loads(slack.body)) == {"text", "blocks"}
        assert verify(slack.body, slack.headers["X-Streamtune-Signature"], "own")
