"""Event cleaning: no secret survives, text is normalised, missing parameters are filled."""

from __future__ import annotations

import random
from uuid import uuid4

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamtune.schemas.commands import COMMANDS, render, sample_parameters
from streamtune.schemas.events import (
    CommandEvent,
    CorrectionEvent,
    ErrorEvent,
    ErrorStateEvent,
    EventBase,
    FeedbackEvent,
    MetricEvent,
    PerformanceEvent,
    TraceEvent,
)
from streamtune.schemas.text import normalize_text
from streamtune.transforms.cleaning import clean_event, fill_parameters
from streamtune.transforms.redaction import Redactor
from tests.support.events import FIXED_ENVELOPE, WHEN, fixed_command

REDACTOR = Redactor()

# One secret of every kind: (text containing it, the secret, kind)
PLANTED = [
    ("password=Hunter2Secret", "Hunter2Secret", "password"),
    ("Authorization: Bearer TokSecret123456", "TokSecret123456", "token"),
    ("api_key=ApiSecret9876", "ApiSecret9876", "api_key"),
    ("-----BEGIN PRIVATE KEY-----\nPemSecretBody\n-----END PRIVATE KEY-----", "PemSecretBody",
     "private_key"),
    ("postgres://app:ConnSecret77@db:5432/x", "ConnSecret77", "connection_string"),
    ("client_secret=ClientSecret55", "ClientSecret55", "secret"),
]


def revalidates(event: EventBase) -> None:
    """The cleaned event still satisfies every bound of its model."""
    type(event).model_validate_json(event.model_dump_json())


# --- normalize_text -------------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "expected"), [
    ("  Restart   PUMP-3 now!! ", "restart pump-3 now"),
    ("restart pump-3.", "restart pump-3"),
    ("pump-1 status?", "pump-1 status?"),
    ("Set\tSpeed\nof fan-2", "set speed of fan-2"),
    ("say \u201cHello World\u201d to Ops", 'say "Hello World" to ops'),
    ("label it 'Line A' please", "label it 'Line A' please"),
    ("Take away JSmith's Operator Rights", "take away jsmith's operator rights"),
    ("re\u200bstart pu\u00admp-3", "restart pump-3"),
    ("\uff32\uff45\uff53\uff54\uff41\uff52\uff54 pump-3", "restart pump-3"),
    ("stop\u00a0pump-2\u2003now", "stop pump-2 now"),
    ("RESTART PUMP-3 [REDACTED:password]", "restart pump-3 [REDACTED:password]"),
    ("!!!", ""),
    ("restart\0pump", "restart pump"),
    ("stop\x7fpump-2\x9bnow\x01", "stop pump-2 now"),
    ("open\x00\x00valve\x1b[31m 9", "open valve [31m 9"),
    ("re\u202estart\u2066 pump-3", "restart pump-3"),
])
def test_normalize_text_examples(raw: str, expected: str) -> None:
    assert normalize_text(raw) == expected


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=80)
       | st.text(alphabet=st.sampled_from(list("aZ \"'.!?[]\u0130\u200b\uff21\u201c\u2019\t"
                                               "\x00\x85\x9f\x7f")),
                 max_size=30))
def test_normalize_text_is_idempotent(text: str) -> None:
    once = normalize_text(text)
    assert normalize_text(once) == once


def test_normalize_keeps_catalogue_text_parsable() -> None:
    rng = random.Random(7)
    for name, spec in COMMANDS.items():
        for index in range(len(spec.phrasings)):
            params = sample_parameters(spec, index, rng)
            text = render(spec, params, index)
            assert fill_parameters(name, normalize_text(text.upper() + "!")) == params, text


# --- commands ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "secret", "kind"), PLANTED)
def test_secret_in_any_command_field_is_gone(text: str, secret: str, kind: str) -> None:
    event = fixed_command(
        f"restart pump-3 {text}", normalized_input=f"restart pump-3 {text}",
        parameters={"device": "pump-3", "extra": {"nested": [f"x {text}"]}},
        context={"note": text, "deep": {"list": [{"value": text}]}},
    )
    cleaned, counts = clean_event(event, redactor=REDACTOR)
    assert secret not in cleaned.model_dump_json()
    assert counts == {kind: 5}
    assert cleaned.normalized_input is not None
    assert f"[REDACTED:{kind}]" in cleaned.normalized_input
    revalidates(cleaned)


def test_secret_naming_keys_in_parameters_and_context() -> None:
    event = fixed_command(
        "restart pump-3", parameters={"device": "pump-3", "password": "pw-Abc123"},
        context={"apiKey": "key-Def456", "auth": {"user": "u", "pass": "ghi789"}})
    cleaned, counts = clean_event(event, redactor=REDACTOR)
    dumped = cleaned.model_dump_json()
    for secret in ("pw-Abc123", "key-Def456", "ghi789"):
        assert secret not in dumped
    assert counts == {"password": 1, "api_key": 1, "token": 1}
    assert cleaned.parameters["device"] == "pump-3"


def test_secrets_never_reach_normalized_input_or_parameters() -> None:
    github = "ghp_abcdefghijklmnopqrstuvwxyz0123456789"
    assert fill_parameters("restart_device", f"restart {github}") == {"device": github}
    cleaned, counts = clean_event(fixed_command(f"restart {github}"), redactor=REDACTOR)
    assert github not in cleaned.model_dump_json()
    assert counts == {"token": 1}
    assert cleaned.normalized_input == "restart [REDACTED:token]"
    assert cleaned.parameters == {}


def test_hidden_secret_is_found_in_raw_input() -> None:
    event = fixed_command(
        "restart pump-3 \uff50\uff41\uff53\uff53\uff57\uff4f\uff52\uff44=Sneaky99")
    cleaned, counts = clean_event(event, redactor=REDACTOR)
    assert "Sneaky99" not in cleaned.model_dump_json()
    assert counts == {"password": 1}


def test_normalized_input_is_filled_or_normalised() -> None:
    missing, _ = clean_event(fixed_command("  Restart PUMP-3 Now! "), redactor=REDACTOR)
    assert missing.normalized_input == "restart pump-3 now"
    sent, _ = clean_event(fixed_command("Restart PUMP-3", normalized_input="Reboot  PUMP-3."),
                          redactor=REDACTOR)
    assert sent.normalized_input == "reboot pump-3"
    empty, _ = clean_event(fixed_command("!!!"), redactor=REDACTOR)
    assert empty.normalized_input is None


def test_parameters_filled_from_every_catalogue_phrasing() -> None:
    rng = random.Random(11)
    for name, spec in COMMANDS.items():
        for index in range(len(spec.phrasings)):
            params = sample_parameters(spec, index, rng)
            raw = render(spec, params, index)
            cleaned, counts = clean_event(fixed_command(raw.upper(), command_type=name),
                                          redactor=REDACTOR)
            assert not counts
            assert cleaned.parameters == params, (name, raw)


def test_sent_parameters_are_kept() -> None:
    sent = {"device": "conveyor-1", "rpm": 900}
    cleaned, _ = clean_event(fixed_command("set speed of conveyor-2 to 1200 rpm",
                                     command_type="set_speed", parameters=sent),
                             redactor=REDACTOR)
    assert cleaned.parameters == sent


def test_unknown_command_type_keeps_empty_parameters() -> None:
    cleaned, _ = clean_event(fixed_command("frobnicate pump-3", command_type="frobnicate"),
                             redactor=REDACTOR)
    assert cleaned.parameters == {}
    assert cleaned.normalized_input == "frobnicate pump-3"


def test_unmatched_text_keeps_empty_parameters() -> None:
    cleaned, _ = clean_event(fixed_command("pls do the thing to pump-3"), redactor=REDACTOR)
    assert cleaned.parameters == {}


def test_example_spelling_is_restored() -> None:
    cleaned, _ = clean_event(fixed_command("ack alm-1005", command_type="acknowledge_alarm"),
                             redactor=REDACTOR)
    assert cleaned.parameters == {"alarm": "ALM-1005"}


def test_redaction_growth_is_cut_to_the_field_bound() -> None:
    raw = " ".join(["pwd=x"] * 330)  # 1979 chars; each secret grows by 18
    nested = " ".join(["pwd=x"] * 160)  # within the 1000-char string bound, not after
    cleaned, counts = clean_event(fixed_command(raw, context={"n": nested}), redactor=REDACTOR)
    assert counts == {"password": 330 + 160}
    assert len(cleaned.raw_input) == 2000
    revalidates(cleaned)


def test_nfkc_growth_is_cut_and_stays_normal() -> None:
    cleaned, _ = clean_event(fixed_command("\u337f" * 1000 + " 'QUOTED \u0130 TEXT'"),
                             redactor=REDACTOR)  # each U+337F becomes four characters
    assert cleaned.normalized_input is not None and len(cleaned.normalized_input) == 2000
    assert normalize_text(cleaned.normalized_input) == cleaned.normalized_input
    assert clean_event(cleaned, redactor=REDACTOR)[0] is cleaned
    revalidates(cleaned)


def test_cleaning_is_idempotent_and_clean_events_come_back_as_is() -> None:
    event = fixed_command("Restart PUMP-3 token=abc123XYZ", context={"password": "p"})
    once, first = clean_event(event, redactor=REDACTOR)
    twice, second = clean_event(once, redactor=REDACTOR)
    assert twice is once
    assert first == {"token": 1, "password": 1} and not second


# --- other kinds ------------------------------------------------------------------------------

def _error(text: str) -> ErrorEvent:
    return ErrorEvent(failed_command={"raw_input": f"restart pump-3 {text}"},
                      error_type="timeout", error_message=f"failed: {text}",
                      correction={"raw_input": text, "params": {"device": "pump-3"}},
                      recovery_steps=[f"retry with {text}", "check pump-3"],
                      success_indicator=False, root_cause=f"bad {text}", **FIXED_ENVELOPE)


@pytest.mark.parametrize(("text", "secret", "kind"), PLANTED)
def test_secret_in_every_kind_is_gone(text: str, secret: str, kind: str) -> None:
    events: list[tuple[EventBase, int]] = [
        (_error(text), 5),
        (CorrectionEvent(refers_to=uuid4(), original_input=f"restart {text}",
                         corrected_input=f"reboot {text}", corrected_command_type="restart_device",
                         corrected_parameters={"device": "pump-3", "note": text},
                         **FIXED_ENVELOPE), 3),
        (FeedbackEvent(refers_to=uuid4(), user_id="jsmith", comment=f"it leaked {text}",
                       **FIXED_ENVELOPE), 1),
        (TraceEvent(trace_id="t", span_id="s", operation="exec", duration_ms=3.0, status="ok",
                    attributes={"cmd": text, "nested": {"x": [text]}}, **FIXED_ENVELOPE), 2),
        (ErrorStateEvent(component="gw", state="failed", message=f"crash {text}",
                         severity_level="high", **FIXED_ENVELOPE), 1),
    ]
    for event, expected in events:
        cleaned, counts = clean_event(event, redactor=REDACTOR)
        assert secret not in cleaned.model_dump_json(), event.kind  # type: ignore[attr-defined]
        assert counts[kind] == expected, event.kind  # type: ignore[attr-defined]
        revalidates(cleaned)


def test_error_secret_naming_keys_are_counted() -> None:
    event = _error("ok").model_copy(update={"correction": {"params": {"token": "t"}}})
    cleaned, counts = clean_event(event, redactor=REDACTOR)
    assert cleaned.correction["params"] == {"token": "[REDACTED:token]"}
    assert counts == {"token": 1}


def test_metric_labels_and_plain_kinds() -> None:
    metric = MetricEvent(host="db-01", metric="cpu", value=0.5, unit="ratio",
                         labels={"dsn": "postgres://u:LabelPw1@db/x", "zone": "a"},
                         **FIXED_ENVELOPE)
    cleaned, counts = clean_event(metric, redactor=REDACTOR)
    assert "LabelPw1" not in cleaned.model_dump_json() and counts == {"connection_string": 1}
    perf = PerformanceEvent(command_type="restart_device", interval_s=60, count=3,
                            latency_p50_ms=1, latency_p95_ms=2, latency_p99_ms=3,
                            throughput_per_s=0.05, **FIXED_ENVELOPE)
    assert clean_event(perf, redactor=REDACTOR) == (perf, {})
    plain = FeedbackEvent(refers_to=uuid4(), user_id="u", comment="worked fine", **FIXED_ENVELOPE)
    assert clean_event(plain, redactor=REDACTOR)[0] is plain


def test_simulated_stream_cleans_to_valid_events() -> None:
    simulator = pytest.importorskip("streamtune.simulator")
    sim = simulator.Simulator(3, start=WHEN)
    kinds = set()
    for event in sim.events(1500):
        cleaned, _ = clean_event(event, redactor=REDACTOR)
        revalidates(cleaned)
        kinds.add(cleaned.kind)
        if isinstance(cleaned, CommandEvent) and cleaned.command_type in COMMANDS:
            assert cleaned.normalized_input is None or cleaned.normalized_input == \
                normalize_text(cleaned.normalized_input)
    assert {"command", "error"} <= kinds


def test_control_characters_separate_words_and_raw_input_keeps_them() -> None:
    event, _ = clean_event(fixed_command("Restart\x00pump-3\x1b now"), redactor=REDACTOR)
    assert event.raw_input == "Restart\x00pump-3\x1b now"
    assert event.normalized_input == "restart pump-3 now"
