"""Secret redaction for command text and free-form JSON values.

A :class:`Redactor` replaces each secret it recognises with ``[REDACTED:<kind>]``
and counts the replacements per kind:

=================  ======================================================================
kind               recognised forms
=================  ======================================================================
password           ``password=..``, ``pwd: ..``, ``"passwd": ".."``, ``-p x`` /
                   ``--password x`` CLI flags, ``password is x``, ``with password x``
token              ``Authorization: Bearer ..``, ``bearer <token>``, ``token=..``, GitHub
                   ``ghp_``/``gho_``/``github_pat_``, Slack ``xox[abposr]-``, JWTs ``eyJ..``
api_key            ``api_key=..``, ``access key: ..``, AWS ``AKIA``/``ASIA`` key ids,
                   ``aws_secret_access_key=..``, ``sk-..``/``sk_live_..``, Google ``AIza..``
private_key        PEM ``-----BEGIN .. PRIVATE KEY-----`` blocks (to the end if unterminated)
connection_string  ``scheme://user:password@host``: only the password goes
secret             ``secret=..``, ``client_secret: ..``, ``credentials=..``
custom             matches of extra patterns (``PipelineSettings.redaction_patterns``)
=================  ======================================================================

In JSON objects a key naming a secret (``password``, ``db_password``, ``apiKey``,
``client-secret``, ``Authorization``, ``dsn``, ...) has its whole value replaced
(``None``, booleans and empty strings are kept: they hold no secret).

Text is first checked for cheap gate substrings (``=``, ``:``, ``pass``, ``bearer``...)
and each rule runs only when its own trigger words are present, so ordinary
command text costs a microsecond or two. Secrets hidden by look-alike or
invisible characters (full-width letters, zero-width spaces) are found too:
such text comes back in :func:`~streamtune.schemas.text.unhide` form, redacted.

A batch is first screened as a whole: :meth:`Redactor.screen` runs one secret
*gate* regex (RE2) over all its texts and JSON values' serialised forms at
once, joined in one buffer; only what the gate flags needs the rules.
The gate is a necessary condition of every built-in rule (and of every key
naming a secret), so a value it passes is one the rules would leave as it is.

Examples
--------
>>> text, counts = Redactor().redact("login with password=hunter2")
>>> text, dict(counts)
('login with password=[REDACTED:password]', {'password': 1})
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeVar

import re2
from mypy_extensions import mypyc_attr
from pydantic import JsonValue

from streamtune import json_bytes
from streamtune.errors import ConfigError
from streamtune.schemas.bounds import MAX_OBJECT_KEY_CHARS
from streamtune.schemas.text import unhide

PLACEHOLDER = "[REDACTED:{kind}]"
"""Replacement text; ``kind`` is one of :data:`KINDS`."""

KINDS = ("password", "token", "api_key", "private_key", "connection_string", "secret", "custom")
"""Every kind of secret a :class:`Redactor` counts."""
_PLACEHOLDERS = {kind: PLACEHOLDER.format(kind=kind) for kind in KINDS}

_GATE_SEPARATORS = ("=", ":")
_GATE_UNDERSCORED = ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "sk_", "rk_")
_GATE_WORDS = ("pass", "bearer", "-p", "-----", "sk-", "rk-", "xox")
_GATE_CASED = ("eyJ", "AKIA", "ASIA", "AGPA", "AIDA", "AROA", "ANPA", "ANVA", "AIPA", "AIza")


def _may_hold_secret(text: str) -> bool:
    """Cheap test: False when no built-in rule can match ``text`` (each needs a gate string)."""
    if "=" in text or ":" in text:
        return True
    lowered = text.lower()
    for word in _GATE_WORDS + _GATE_UNDERSCORED if "_" in text else _GATE_WORDS:
        if word in lowered:
            return True
    if not text.islower():
        for word in _GATE_CASED:
            if word in text:
                return True
    return False


_SEPARATOR = b"\x00"
"""Stands between the values the gate screens at once: no gate match crosses it."""
_LETTERS_APART = '[^a-zA-Z0-9"\\x00]*'
"""What may stand between the letters of a key's words (``api-key``, ``p.w.d``, ``apiKey``)."""
_TEXT_GATE = "|".join((
    r"[^\x20-\x7e\x00]",  # not plain ASCII: the rules run on its unhidden form too
    r"(?i:-----begin)",  # private_key
    r"://[^\s:/@\"'\x00]*:[^\s@/\"'\x00]+@",  # connection_string
    r"(?i:authorization|bearer)",  # Authorization header, bearer token
    r"gh[pousr]_|github_pat_|xox[abposr]-|eyJ|AIza",  # GitHub, Slack, JWT, Google
    r"(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}",  # AWS key ids
    r"\b[sr]k[-_]",  # sk-/rk- keys
    # key=value with a key ending in a secret name (the assignment rule's ends)
    r"(?i:(?:passw(?:or)?d|pwd|phrase|token|key(?:[-_]id)?|str(?:ing)?|dsn|secret"
    r"|credentials?)[\"']?[ \t]*[:=])",
    r"(?i:pass(?:word|wd|phrase)|--pass|--pwd|-p[=\s])",  # "password is x", CLI flags
))
"""RE2 pattern every built-in rule's match needs, in plain ASCII text (the rest it flags,
and so does :func:`_flags` a text holding the separator, ``\\x00``)."""
_JSON_GATE = "|".join((
    _TEXT_GATE, r"\\",  # an escape in the serialised value: the text differs from it
    f'"[^"\\x00]{{{MAX_OBJECT_KEY_CHARS + 1},}}":',  # a key the redactor cuts to its bound
    # a key naming a secret: its words' letters hold one of these, in order
    "(?i:" + "|".join(_LETTERS_APART.join(word) for word in (
        "pass", "pwd", "token", "bearer", "auth", "cookie", "key", "conn", "dsn", "secret",
        "credential")) + ")",
))
"""RE2 pattern a serialised JSON value (orjson) needs for :meth:`Redactor.redact_value` to
change it: the text rules' gate over its keys and strings, or a key naming a secret."""


_GATE_ALONE_CHARS = 1024
"""From this length on a text is screened alone before the rules run over it (dead-letter
records, up to 128 KB): one RE2 call costs less than the rules' word checks."""


def _serialised(value: Any) -> bytes | None:
    """``value`` as compact JSON bytes, ``None`` if orjson cannot write it."""
    try:
        return json_bytes.dumps(value)  # kept for the batch: its own size
    except TypeError:  # orjson.JSONEncodeError: beyond 64-bit integers, lone surrogates
        return None


def _compiled(gate: str) -> Any:
    options = re2.Options()
    options.max_mem = 64 << 20  # the DFA's cache: the gate's alternation outgrows the default
    return re2.compile(gate.encode(), options)


_GATES = {gate: _compiled(gate) for gate in (_TEXT_GATE, _JSON_GATE)}


def _flags(items: list[bytes], gate: str) -> list[bool]:
    """Per ASCII value, whether ``gate`` matches it: one RE2 scan over all of them joined
    by the separator, resumed after each match at the next value."""
    flags = [False] * len(items)
    if not items:
        return flags
    starts = []
    at = 0
    for item in items:
        starts.append(at)
        at += len(item) + 1
    joined = _SEPARATOR.join(items)
    search, last, at = _GATES[gate].search, len(items) - 1, 0
    while (found := search(joined, at)) is not None:
        i = bisect_right(starts, found.start()) - 1
        flags[i] = True
        if i == last:
            break
        at = starts[i + 1]
    if joined.count(_SEPARATOR) != last:  # a value holds the separator: flagged
        for i, item in enumerate(items):
            flags[i] = flags[i] or _SEPARATOR in item
    return flags


_JSON_ESCAPE = re.compile(
    r"\\(?:u([dD][89abAB][0-9a-fA-F]{2})\\u([dD][c-fC-F][0-9a-fA-F]{2})"
    r"|u([0-9a-fA-F]{4})|([\"\\/bfnrt]))")
_SIMPLE_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n",
                   "r": "\r", "t": "\t"}


def _unescape(match: re.Match[str]) -> str:
    high, low, single, simple = match.groups()
    if high is not None:
        return chr(0x10000 + ((int(high, 16) - 0xD800) << 10) + int(low, 16) - 0xDC00)
    if single is not None:
        code = int(single, 16)
        return "\ufffd" if 0xD800 <= code <= 0xDFFF else chr(code)
    return _SIMPLE_ESCAPES[simple]


def reader_view(text: str) -> str:
    """What a reader of ``text`` sees: JSON escapes resolved, then :func:`unhide`.

    Secrets written as ``\\u0041KIA...`` or in full-width letters are plain in
    this view; text that is not JSON is only unhidden. Lone surrogates become
    U+FFFD.

    >>> reader_view('{"key": "\\\\u0041KIA", "pw": "\uff50\uff57"}')
    '{"key": "AKIA", "pw": "pw"}'
    """
    if "\\" in text:
        text = _JSON_ESCAPE.sub(_unescape, text)
    return unhide(text)


_KEY_SUFFIXES: dict[str, str] = {
    **dict.fromkeys(("password", "passwd", "pwd", "passphrase", "pass_phrase"), "password"),
    **dict.fromkeys(("token", "access_token", "refresh_token", "id_token", "auth_token",
                     "bearer", "auth", "authorization", "cookie", "session_token"), "token"),
    **dict.fromkeys(("api_key", "apikey", "access_key", "accesskey", "secret_key", "secretkey",
                     "access_key_id", "secret_access_key", "x_api_key"), "api_key"),
    **dict.fromkeys(("private_key", "privatekey", "ssh_key"), "private_key"),
    **dict.fromkeys(("connection_string", "conn_string", "conn_str", "connstr", "dsn",
                     "connectionstring"), "connection_string"),
    **dict.fromkeys(("secret", "client_secret", "credential", "credentials",
                     "signing_secret"), "secret"),
}
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_KEY_SEPARATORS = re.compile(r"[^a-z0-9]+")


@lru_cache(maxsize=4096)
def secret_key_kind(key: str) -> str | None:
    """The kind of secret a JSON key (or ``key=`` name) names, or ``None``.

    The key is split into snake_case words (camelCase, dashes, dots and spaces
    count as separators); it names a secret when its last one, two or three
    words are a known secret name: ``db_password``, ``githubToken``,
    ``AWS_SECRET_ACCESS_KEY``, ``x-api-key``. ``token_count`` or
    ``max_tokens`` do not.
    """
    words = [w for w in _KEY_SEPARATORS.split(_CAMEL.sub("_", key).lower()) if w]
    for size in (3, 2, 1):
        if len(words) >= size and (kind := _KEY_SUFFIXES.get("_".join(words[-size:]))):
            return kind
    if words and (kind := _KEY_SUFFIXES.get("".join(words))):
        return kind
    return None


_NOT_PLACEHOLDER = r"(?!\[REDACTED)"
_WORDS_AFTER_PASSWORD_IS = frozenset((
    "a", "an", "the", "not", "too", "wrong", "incorrect", "invalid", "expired", "required", "set",
    "missing", "empty", "blank", "weak", "correct", "changed", "reset", "locked", "none", "null",
    "unknown", "needed", "valid", "same", "different", "being", "about"))


@dataclass(frozen=True, slots=True)
class _Rule:
    """Replace ``group`` (0: the whole match) of each match with a placeholder.

    The rule runs only when the lower-cased text holds one word of every
    group in ``needs``; ``keep`` vetoes a match.
    """

    kind: str
    pattern: re.Pattern[str]
    group: int | str = 0
    needs: tuple[tuple[str, ...], ...] = ()
    keep: Callable[[re.Match[str]], bool] | None = None

    def wanted(self, lowered: str) -> bool:
        for group in self.needs:
            for word in group:
                if word in lowered:
                    break
            else:
                return False
        return True

    def apply(self, text: str, counts: Counter[str]) -> str:
        def replace(match: re.Match[str]) -> str:
            if self.keep is not None and self.keep(match):
                return match.group(0)
            counts[self.kind] += 1
            start, end = match.span(self.group)
            whole, offset = match.group(0), match.start()
            return whole[: start - offset] + _PLACEHOLDERS[self.kind] + whole[end - offset:]

        return self.pattern.sub(replace, text)


def _rx(pattern: str, flags: int = re.IGNORECASE) -> re.Pattern[str]:
    return re.compile(pattern, flags)


_ASSIGNMENT_SEPARATOR = re.compile(r"=>|[:=]")
_ASSIGNMENT_VALUE = _rx(
    r"\s*" + _NOT_PLACEHOLDER
    + r"(?:\"(?P<dq>[^\"]*)\"|'(?P<sq>[^']*)'|(?P<bare>[^\s,;&\"'<>{}\[\]]+))")
_SECRET_KEY_ENDINGS = tuple(key for key in _KEY_SUFFIXES
                            if key not in ("auth", "authorization", "bearer", "cookie"))
_KEY_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
_TWO_WORD_TAILS = frozenset(("key", "secret", "string", "str", "key_id"))


def _key_before(text: str, sep: int) -> str:
    """The key written just before a separator: ``api_key``, ``"pwd"``, ``api key``."""
    end = sep
    while end > 0 and text[end - 1] in " \t":
        end -= 1
    if end > 0 and text[end - 1] in "\"'":
        end -= 1
    start = end
    while start > 0 and text[start - 1] in _KEY_CHARS and end - start < 64:
        start -= 1
    key = text[start:end]
    if key.lower() in _TWO_WORD_TAILS and start > 1 and text[start - 1] == " ":
        first = start - 1
        while first > 0 and text[first - 1].isalpha():
            first -= 1
        key = text[first:start - 1] + "_" + key
    return key


class _AssignmentRule(_Rule):
    """``key=value``, ``key: value``, ``"key": "value"`` with a secret key (linear scan)."""

    def apply(self, text: str, counts: Counter[str]) -> str:
        parts: list[str] = []
        done = 0
        for match in self.pattern.finditer(text):
            if match.start() < done:
                continue
            key = _key_before(text, match.start())
            normal = key.lower().replace("-", "_")
            if not normal.endswith(_SECRET_KEY_ENDINGS):
                continue
            value = _ASSIGNMENT_VALUE.match(text, match.end())
            if value is None:
                continue
            group = value.lastindex or 0
            if value.start(group) == value.end(group) or \
                    text.startswith("[REDACTED:", value.start(group)):
                continue
            kind = secret_key_kind(key) or next(  # or glued: "mysecretpassword"
                _KEY_SUFFIXES[end] for end in _SECRET_KEY_ENDINGS if normal.endswith(end))
            if _not_a_value(text, text.rfind(key, 0, match.start()), value, group, kind):
                continue
            counts[kind] += 1
            start, end = value.span(group)
            parts += (text[done:start], _PLACEHOLDERS[kind])
            done = end
        if not parts:
            return text
        parts.append(text[done:])
        return "".join(parts)


_OBJECT_REF = re.compile(r"[A-Za-z_$][\w.$]*@[0-9a-fA-F]+")
_OPENS_STRUCTURE = re.compile(r"\s*[{(]")


def _not_a_value(text: str, key_start: int, value: re.Match[str], group: int,
                 kind: str) -> bool:
    """Log structure that only looks like ``key: secret`` (found on real logs).

    A type named after its key opening a structure (Hadoop ``Token: Token {``,
    Android ``token=Token{78af589``, ``wtoken = AppWindowToken{9f4ef63``; but
    ``password=hunter2 (expires soon)`` is a secret), a Java object reference
    (``BinderProxy@2bd79ce``),
    a path segment as key (``stream/token: ...``) and a "connection string" with
    none of ``:/@=`` (sendmail's ``dsn=4.0.0``) are not secrets.
    """
    if key_start > 0 and text[key_start - 1] == "/":
        return True
    found = value.group(group)
    if kind == "connection_string" and not any(c in found for c in ":/@="):
        return True
    if group != value.re.groupindex["bare"]:
        return False
    key = text[key_start:value.start(group)].rstrip(" \t:=\"'").lower()
    names_its_key = key in found.lower()
    return bool(names_its_key and _OPENS_STRUCTURE.match(text, value.end(group))
                or _OBJECT_REF.fullmatch(found))


_PASSWORD_WORDS = ("password", "passwd", "passphrase")
_RULES: tuple[_Rule, ...] = (
    _Rule("private_key", _rx(
        r"-----BEGIN[A-Z0-9 ]*PRIVATE KEY-----.*?(?:-----END[A-Z0-9 ]*PRIVATE KEY-----|\Z)",
        re.IGNORECASE | re.DOTALL), needs=(("-----",),)),
    _Rule("connection_string", _rx(
        r"\b[a-z][a-z0-9+.-]*://[^\s:/@\"']*:(?P<pw>" + _NOT_PLACEHOLDER + r"[^\s@/\"']+)@"),
        "pw", needs=(("://",), ("@",))),
    _Rule("token", _rx(
        r"\b(?:proxy-)?authorization[\"']?\s*[:=]\s*[\"']?"
        r"(?:(?:bearer|basic|token|digest|negotiate|apikey)\s+)?+"
        r"(?P<tok>" + _NOT_PLACEHOLDER + r"[^\s,;\"']+)"), "tok", needs=(("authorization",),)),
    _Rule("token", _rx(r"\b(?:gh[pousr]_[A-Za-z0-9]{20,255}|github_pat_[A-Za-z0-9_]{22,255})",
                       0), needs=(_GATE_UNDERSCORED[:6],)),
    _Rule("token", _rx(r"\bxox[abposr]-[A-Za-z0-9-]{10,}", 0), needs=(("xox",),)),
    _Rule("token", _rx(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*", 0),
          needs=(("eyj",),)),
    _Rule("api_key", _rx(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}\b", 0),
          needs=(tuple(w.lower() for w in _GATE_CASED[1:9]),)),
    _Rule("api_key", _rx(r"\bAIza[0-9A-Za-z_-]{35}", 0), needs=(("aiza",),)),
    _Rule("api_key", _rx(r"\b(?:sk|rk)[-_](?:live_|test_|proj-|ant-)?"
                         r"(?=[A-Za-z0-9_-]*\d)(?=[A-Za-z0-9_-]*[A-Za-z])[A-Za-z0-9_-]{20,}", 0),
          needs=(("sk-", "sk_", "rk-", "rk_"),)),
    _AssignmentRule("assignment", _ASSIGNMENT_SEPARATOR, needs=(
        _GATE_SEPARATORS, ("pass", "pwd", "secret", "token", "key", "cred", "conn", "dsn"))),
    _Rule("password", _rx(
        r"\bpass(?:word|wd|phrase)(?:\s+(?:for|of)\s+[\w.@-]+)?\s+(?:is|was)\s+[\"']?"
        r"(?P<pw>" + _NOT_PLACEHOLDER + r"[^\s\"']+)"), "pw",
        needs=(_PASSWORD_WORDS, (" is ", " was ")),
        keep=lambda m: m.group("pw").lower().rstrip(".,;:!") in _WORDS_AFTER_PASSWORD_IS),
    _Rule("password", _rx(
        r"\b(?:with|using|use|new)\s+(?:the\s+)?pass(?:word|wd|phrase)\s+[\"']?"
        r"(?P<pw>" + _NOT_PLACEHOLDER + r"[^\s\"']+)"), "pw", needs=(_PASSWORD_WORDS,),
        keep=lambda m: m.group("pw").lower() in _WORDS_AFTER_PASSWORD_IS | {"for", "to"}),
    _Rule("password", _rx(
        r"(?:^|(?<=\s))(?:--pass(?:word|wd)?|--pwd|-p)(?:=|\s+)[\"']?"
        r"(?P<pw>" + _NOT_PLACEHOLDER + r"[^\s\"']+)"), "pw", needs=(("-p",),),
        keep=lambda m: m.group(0).startswith("-p") and m.group("pw").isdigit()),
    _Rule("token", _rx(r"\bbearer\s+(?P<tok>" + _NOT_PLACEHOLDER
                       + r"[A-Za-z0-9][A-Za-z0-9\-._~+/]{7,}=*)(?![\w=])"), "tok",
          needs=(("bearer",),)),
)
"""Built-in rules, applied in order; later rules skip text already redacted."""


JsonT = TypeVar("JsonT", bound=JsonValue)


@mypyc_attr(allow_interpreted_subclasses=True)  # compiled (native.py), still extensible
class Redactor:
    """Find and replace secrets in text and JSON values.

    Parameters
    ----------
    extra_patterns
        Regular expressions (Python syntax) whose matches are redacted as
        ``custom``, after the built-in rules. A pattern with a named group
        ``secret`` redacts only that group.

    Raises
    ------
    ConfigError
        If an extra pattern does not compile, or matches the empty string.
    """

    def __init__(self, extra_patterns: Sequence[str] = ()) -> None:
        custom: list[_Rule] = []
        for source in extra_patterns:
            try:
                compiled = re.compile(source)
            except re.error as exc:
                raise ConfigError(f"bad redaction pattern {source!r}: {exc}") from None
            if compiled.fullmatch(""):
                raise ConfigError(f"bad redaction pattern {source!r}: it matches empty text")
            group: int | str = "secret" if "secret" in compiled.groupindex else 0
            custom.append(_Rule("custom", compiled, group))
        self._custom = tuple(custom)

    def screen(self, values: Sequence[Any], *,
               serialised: dict[int, tuple[Any, bytes]] | None = None) -> list[bool]:
        """Per value (a string or a JSON value), whether it may hold a secret.

        One gate regex runs over all of them (strings as they are, other values
        serialised), so a batch costs two RE2 scans. ``False`` promises that
        :meth:`redact_value` returns the value itself and counts nothing; with
        extra patterns (which the gate does not know) every value is flagged.
        ``serialised`` receives, by ``id``, each object or list with its JSON
        (orjson), for reuse; holding the value keeps its id its own.
        """
        flagged = [True] * len(values)
        if self._custom:
            return flagged
        texts: list[bytes] = []
        text_at: list[int] = []
        jsons: list[bytes] = []
        json_at: list[int] = []
        for i, value in enumerate(values):
            if isinstance(value, str):
                if value.isascii():
                    texts.append(value.encode())
                    text_at.append(i)
            elif isinstance(value, dict | list):
                data = _serialised(value)
                if data is not None and serialised is not None:
                    serialised[id(value)] = (value, data)
                if data is not None and data.isascii():
                    jsons.append(data)
                    json_at.append(i)
            elif value is None or isinstance(value, bool | int | float):
                flagged[i] = False
        for at, flags in ((text_at, _flags(texts, _TEXT_GATE)),
                          (json_at, _flags(jsons, _JSON_GATE))):
            for i, flag in zip(at, flags, strict=True):
                flagged[i] = flag
        return flagged

    def redact(self, text: str) -> tuple[str, Counter[str]]:
        """Return ``text`` with its secrets replaced, and the count per kind."""
        counts: Counter[str] = Counter()
        return self.redact_into(text, counts), counts

    def redact_into(self, text: str, counts: Counter[str]) -> str:
        """Like :meth:`redact`, adding the counts to ``counts``; ``text`` itself if clean."""
        plain = text.isascii() and text.isprintable()
        if plain and not self._custom and (not _may_hold_secret(text) or len(
                text) >= _GATE_ALONE_CHARS and not _flags([text.encode()], _TEXT_GATE)[0]):
            return text
        out = self._apply(text, counts)
        if not plain:
            visible = unhide(out)
            more: Counter[str] = Counter()
            if visible != out and (revealed := self._apply(visible, more)) and more:
                counts.update(more)
                out = revealed
        return out

    def _apply(self, text: str, counts: Counter[str]) -> str:
        if _may_hold_secret(text):
            lowered = text.lower()
            for rule in _RULES:
                if rule.wanted(lowered):
                    text = rule.apply(text, counts)
        for rule in self._custom:
            text = rule.apply(text, counts)
        return text

    def redact_as_read(self, text: str) -> tuple[str, Counter[str]]:
        """:meth:`redact` of what a reader of ``text`` sees (:func:`reader_view`)."""
        return self.redact(reader_view(text))

    def redact_record(self, raw: bytes) -> tuple[bytes, Counter[str]]:
        """Redact a record's bytes as a reader would see them (:meth:`redact_as_read`).

        Returns ``raw`` itself when that view holds no secret, else the redacted
        view in UTF-8 (bytes that are not UTF-8 kept as they were).
        """
        redacted, counts = self.redact_as_read(raw.decode("utf-8", errors="surrogateescape"))
        if not counts:
            return raw, counts
        return redacted.encode("utf-8", errors="surrogateescape"), counts

    def redact_value(self, obj: JsonT) -> tuple[JsonT, Counter[str]]:
        """Redact a JSON value's strings and values under secret-naming keys.

        Returns the value itself when nothing changed, else a new value.
        """
        counts: Counter[str] = Counter()
        return self.redact_value_into(obj, counts), counts

    def redact_value_into(self, obj: JsonT, counts: Counter[str]) -> JsonT:
        """Like :meth:`redact_value`, adding the counts to ``counts``."""
        if isinstance(obj, str):
            return self.redact_into(obj, counts)  # type: ignore[return-value]
        if isinstance(obj, dict):
            if not self._custom and self._clean_flat(obj):
                return obj
            out: dict[str, JsonValue] | None = None
            for key, value in obj.items():
                shown = self.redact_into(key, counts)[:MAX_OBJECT_KEY_CHARS]
                if shown != key:  # a secret in the key itself: "password=hunter2": 1
                    out = dict(obj) if out is None else out
                    out[shown] = out.pop(key)
                    key = shown
                kind = secret_key_kind(key)
                if kind is not None and value is not None and not isinstance(value, bool) \
                        and value != "" and value != _PLACEHOLDERS[kind]:
                    counts[kind] += 1
                    new: JsonValue = _PLACEHOLDERS[kind]
                elif isinstance(value, str | dict | list):
                    new = self.redact_value_into(value, counts)
                else:
                    continue
                if new is not value:
                    if out is None:
                        out = dict(obj)
                    out[key] = new
            return obj if out is None else out  # type: ignore[return-value]
        if isinstance(obj, list):
            items = [self.redact_value_into(item, counts) for item in obj]
            if any(new is not old for new, old in zip(items, obj, strict=True)):
                return items  # type: ignore[return-value]
        return obj

    def _clean_flat(self, obj: dict[str, JsonValue]) -> bool:
        """True for a flat object without secret keys whose joined keys and strings pass no
        gate."""
        texts = []
        for key, value in obj.items():
            if isinstance(value, dict | list) or secret_key_kind(key) is not None:
                return False
            texts.append(key)
            if isinstance(value, str):
                texts.append(value)
        joined = " ".join(texts)
        return joined.isascii() and joined.isprintable() and not _may_hold_secret(joined)
