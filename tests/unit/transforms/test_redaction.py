"""Secret redaction: every kind is found, counted once, and ordinary text is left alone."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamtune.errors import ConfigError
from streamtune.schemas.commands import COMMANDS, render, sample_parameters
from streamtune.schemas.text import unhide
from streamtune.transforms.redaction import KINDS, Redactor, secret_key_kind
from tests.support.secret_texts import BENIGN, PEM, SECRETS

REDACTOR = Redactor()
@pytest.mark.parametrize(("text", "secret", "kind"), SECRETS)
def test_each_secret_kind_is_redacted_and_counted(text: str, secret: str, kind: str) -> None:
    out, counts = REDACTOR.redact(text)
    assert secret not in out
    assert f"[REDACTED:{kind}]" in out
    assert counts == Counter({kind: 1})



@pytest.mark.parametrize(("text", "kept"), [
    ("password=hunter2 (expires soon)", False),  # a secret followed by a parenthesis
    ("password: Hunter2{x}", False),
    ("Token: Token {", True),  # Hadoop: a type named after its key opens a structure
    ("wtoken = AppWindowToken{9f4ef63 token=Token{a64f992", True),  # Android
])
def test_a_structure_after_a_secret_key_is_a_value_unless_named_after_the_key(
        text: str, kept: bool) -> None:
    assert (Redactor().redact(text)[0] == text) is kept

def test_connection_string_keeps_scheme_user_and_host() -> None:
    out, _ = REDACTOR.redact("dsn is postgres://app:pw@db:5432/x ok")
    assert out == "dsn is postgres://app:[REDACTED:connection_string]@db:5432/x ok"


def test_pem_block_is_replaced_whole_and_text_around_kept() -> None:
    out, counts = REDACTOR.redact(f"before {PEM} after")
    assert out == "before [REDACTED:private_key] after"
    assert counts == {"private_key": 1}


def test_counts_add_up_over_several_secrets() -> None:
    text = "password=a1 token=b2 api_key=c3 password is d4 AKIAIOSFODNN7EXAMPLE"
    out, counts = REDACTOR.redact(text)
    assert counts == {"password": 2, "token": 1, "api_key": 2}
    assert out.count("[REDACTED:") == 5


@pytest.mark.parametrize("text", BENIGN)
def test_ordinary_text_is_unchanged(text: str) -> None:
    assert REDACTOR.redact(text) == (text, Counter())


def test_every_catalogue_phrasing_is_unchanged() -> None:
    rng = random.Random(20260101)
    checked = 0
    for spec in COMMANDS.values():
        for index in range(len(spec.phrasings)):
            for _ in range(5):
                text = render(spec, sample_parameters(spec, index, rng), index)
                assert REDACTOR.redact(text) == (text, Counter()), text
                checked += 1
    assert checked > 500


def test_redaction_is_idempotent_on_known_secrets() -> None:
    for text, _, _ in SECRETS:
        once, _ = REDACTOR.redact(text)
        assert REDACTOR.redact(once) == (once, Counter())


def test_secrets_hidden_by_width_or_invisible_characters_are_found() -> None:
    for text in ("ｐａｓｓｗｏｒｄ＝hunter2", "pass\u200bword=hunter2", "to\u00adken=hunter2"):
        out, counts = REDACTOR.redact(text)
        assert "hunter2" not in out
        assert sum(counts.values()) == 1


def test_unhide() -> None:
    assert unhide("plain text") == "plain text"
    assert unhide("a\x00b\u200bc \u201cq\u201d \u2018s\u2019 ｆｕｌｌ") == "abc \"q\" 's' full"


@pytest.mark.parametrize(("key", "kind"), [
    ("password", "password"), ("db_password", "password"), ("DB-PASSWD", "password"),
    ("pwd", "password"), ("token", "token"), ("githubToken", "token"),
    ("Authorization", "token"), ("auth", "token"), ("api_key", "api_key"),
    ("apiKey", "api_key"), ("x-api-key", "api_key"), ("AWS_SECRET_ACCESS_KEY", "api_key"),
    ("access_key", "api_key"), ("private_key", "private_key"),
    ("connection_string", "connection_string"), ("dsn", "connection_string"),
    ("secret", "secret"), ("client_secret", "secret"), ("credentials", "secret"),
])
def test_secret_naming_keys(key: str, kind: str) -> None:
    assert secret_key_kind(key) == kind


@pytest.mark.parametrize("key", ["user", "token_count", "max_tokens", "author", "oauth_provider",
                                 "password_policy", "keyboard", "host", "keep", "monkey"])
def test_ordinary_keys(key: str) -> None:
    assert secret_key_kind(key) is None


def test_redact_value_walks_nested_json() -> None:
    value = {
        "user": "jsmith",
        "db": {"password": "hunter2", "port": 5432, "options": ["ssl", "token=t0k3n99"]},
        "headers": [{"Authorization": "Bearer abcdefgh12345"}, {"apiKey": 12345678}],
        "credentials": {"user": "svc", "pass": "x"},
        "note": "dsn postgres://svc:pgpass1@db-01/app",
        "auth": None, "secret": "", "token": True,
    }
    out, counts = REDACTOR.redact_value(value)
    dumped = repr(out)
    for secret in ("hunter2", "t0k3n99", "abcdefgh12345", "12345678", "svc'", "pgpass1"):
        assert secret not in dumped
    assert counts == {"password": 1, "token": 2, "api_key": 1, "secret": 1,
                      "connection_string": 1}
    assert out["user"] == "jsmith" and out["db"]["port"] == 5432  # type: ignore[index]
    assert out["auth"] is None and out["secret"] == "" and out["token"] is True  # type: ignore[index]
    assert "hunter2" in repr(value)  # the input is left untouched


def test_redact_value_returns_the_same_object_when_clean() -> None:
    value = {"user": "jsmith", "hosts": ["app-01", "db-01"], "n": 3}
    out, counts = REDACTOR.redact_value(value)
    assert out is value and not counts


def test_custom_patterns() -> None:
    redactor = Redactor([r"OPS-\d{4}", r"badge (?P<secret>\d{6})"])
    out, counts = redactor.redact("ticket OPS-4711 opened with badge 123456 by jsmith")
    assert out == "ticket [REDACTED:custom] opened with badge [REDACTED:custom] by jsmith"
    assert counts == {"custom": 2}
    assert redactor.redact("restart pump-3") == ("restart pump-3", Counter())


@pytest.mark.parametrize("pattern", ["(unclosed", "a*"])
def test_bad_custom_pattern_is_a_config_error_naming_it(pattern: str) -> None:
    with pytest.raises(ConfigError, match=pattern.replace("(", r"\(").replace("*", r"\*")):
        Redactor([pattern])


def test_kinds_are_all_documented() -> None:
    found = {kind for _, _, kind in SECRETS} | {"custom"}
    assert found == set(KINDS)


_SECRET = st.from_regex(r"ZQX[A-Za-z0-9]{6,20}", fullmatch=True)
_FILLER = st.text(alphabet=st.characters(blacklist_characters="ZQX"), max_size=80)


@settings(max_examples=300, deadline=None)
@given(before=_FILLER, after=_FILLER, secret=_SECRET,
       form=st.sampled_from(["password={}", "token: {}", "api_key = '{}'",
                             "Authorization: Bearer {}", "https://u:{}@h/x", "--password {}",
                             "password is {}"]))
def test_planted_secret_never_survives(before: str, after: str, secret: str, form: str) -> None:
    out, counts = REDACTOR.redact(f"{before} {form.format(secret)} {after}")
    assert secret not in out
    assert sum(counts.values()) >= 1


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=120))
def test_redaction_is_idempotent(text: str) -> None:
    once, _ = REDACTOR.redact(text)
    twice, counts = REDACTOR.redact(once)
    assert twice == once and not counts
