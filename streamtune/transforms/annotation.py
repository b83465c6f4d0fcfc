"""Rule-based annotation of command and error events (the annotation guidelines).

:func:`annotate` fills the annotation fields a producer left ``None``;
values the producer sent always win. Other event kinds pass through. Run it
after :func:`~streamtune.transforms.cleaning.clean_event`: spans are offsets
into ``normalized_input`` and ``text[start:end]`` is always the span's text.

Commands
--------
==================== ===================================================================
field                rule
==================== ===================================================================
intent_labels        ``[category, command_type]`` from the catalogue;
                     ``["uncatalogued", command_type]`` for unknown types; then, when
                     ``raw_input`` holds bidi controls (U+202A-U+202E, U+2066-U+2069) or
                     zero-width characters (U+200B-U+200D, U+2060, U+FEFF), the flag
                     :data:`HIDDEN_CHARACTERS` is appended, also to labels the
                     producer sent (replacing the 16th if the list is full)
parameter_boundaries one span per parameter whose value is found in the text, left to
                     right without overlaps: numbers by numeric value (``12.50`` = 12.5,
                     not inside names like ``pump-3``), strings case-insensitively as a
                     whole token; ``value`` is the text found
entity_tags          one tag per parameter span, labelled with the catalogue entity
                     (``device``, ``quantity``, ...) or else the parameter name; then,
                     where no tag is yet, generic tags: ``duration`` (``30m``,
                     ``2 hours``), ``quantity`` (number with a unit: ``1200 rpm``,
                     ``40%``, ``21 degrees``), ``host`` (IPv4, ``app-01``-style names,
                     domain names), ``version`` (``v1.4.2``), ``person``
                     (``@name``, ``user jsmith``)
complexity_score     0.10 base + 0.10 per parameter (at most 4) + 0.05 per numeric and
                     0.10 per duration value (together at most 0.20) + length
                     ``min(0.15, chars / 400)`` + 0.10 per sequencing word (``and``,
                     ``then``, ``;``, ``followed by``; at most 2) + 0.10 for scheduling
                     (``in``/``after`` a duration, ``every``, ``at 10:30``,
                     ``tomorrow``, ``tonight``, ``schedule``); clipped to [0, 1]
==================== ===================================================================

Errors
------
==================== ===================================================================
field                rule
==================== ===================================================================
error_category       the ``ERROR_TYPES`` category when the type is known; else the first
                     keyword rule of :data:`ERROR_RULES` matching the message (and the
                     type's words); else ``unknown``. Categories: connectivity
                     (network), execution (timeout), authorization (permission),
                     capacity (resource), input (validation), hardware, safety,
                     configuration, concurrency, dependency, unknown
severity_level       ``ERROR_TYPES`` severity when known, else by category: hardware and
                     safety critical; connectivity, capacity, configuration, dependency
                     high; execution, authorization, concurrency, unknown medium; input
                     low. Hazard words (fire, smoke, leak, explosion, overpressure,
                     injury, gas) make any error critical
recovery_complexity  cost of the recovery action (known type's action, else the
                     category's; :data:`ACTION_COST`, 0.5 if unknown) + 0.04 per recovery
                     step + 0.10 when recovery failed; clipped to [0, 1]
root_cause           cause of the first keyword rule of the error's category matching
                     the message, else that category's default cause
==================== ===================================================================
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, TypeVar

from pydantic import JsonValue, TypeAdapter

from streamtune.schemas.commands import COMMANDS, ERROR_TYPES, RECOVERY_ACTIONS
from streamtune.schemas.events import (
    CommandEvent,
    EntityTag,
    ErrorEvent,
    EventBase,
    ParameterSpan,
    Severity,
    with_fields,
)
from streamtune.schemas.text import normalize_text

EventT = TypeVar("EventT", bound=EventBase)

_IDENTIFIER = re.compile(r"[a-z][a-z0-9_]*")
HIDDEN_CHARACTERS = "hidden_characters"
"""Intent label of a command whose raw text hides characters (text can read unlike it runs)."""
_HIDDEN = re.compile("[\u200b-\u200d\u202a-\u202e\u2060\u2066-\u2069\ufeff]")
_MAX_LABELS = 16
_MAX_SPANS = 64
_MAX_SPAN_TEXT = 500
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_DURATION = (r"\d+(?:[smhd]|\s?(?:secs?|seconds?|mins?|minutes?|hrs?|hours?|days?|weeks?))"
             r"(?!\w)")
_GENERIC = re.compile(
    r"(?<![\w.-])(?:(?P<duration>" + _DURATION + r")"
    r"|(?P<quantity>-?\d+(?:\.\d+)?\s?(?:rpm|%|percent|l/min|degrees|°c|mm|files|replicas"
    r"|instances|bar|psi|kw|kg|hz|ms)(?![\w/]))"
    r"|(?P<host>\d{1,3}(?:\.\d{1,3}){3}|(?:app|db|edge|web|srv|host|node|vm|plc-gw|gw)-\d+"
    r"|[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:local|internal|lan|corp|com|net|org|io))(?![\w.-])"
    r"|(?P<version>v\d+(?:\.\d+){1,2})(?!\.?\w))"
    r"|(?P<person>(?:(?<=@)|(?<=\buser )|(?<=\buser=)|(?<=\buser:))[a-z][\w.-]*[a-z0-9])",
    re.IGNORECASE)
_MAY_TAG = re.compile(r"[\d.@]|user", re.IGNORECASE)
"""What every generic tag needs in the text: a digit (durations, quantities, IPv4 and
``app-01`` hosts, versions), a dot (domain names), ``@`` or ``user`` (persons). A text
without one has none, and is not scanned by :data:`_GENERIC`."""
_NOT_NAMES = frozenset(("needs", "should", "is", "has", "was", "can", "cannot", "lacks", "with",
                        "to", "for", "from", "and", "the", "access", "account", "role", "rights"))
_SEQUENCE = re.compile(r"\b(?:and|then|followed by)\b|;")
_SCHEDULE = re.compile(r"\b(?:(?:in|after)\s+" + _DURATION + r"|every|tomorrow|tonight|schedule"
                       r"|at\s+\d{1,2}:\d{2})")
_DURATION_VALUE = re.compile(_DURATION)

ERROR_RULES: tuple[tuple[re.Pattern[str], str, str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), category, cause) for pattern, category, cause in (
        (r"interlock|guard door|lockout|permit[- ]to[- ]work|\be-stop\b|emergency stop",
         "safety", "safety interlock or missing permit blocks the operation"),
        (r"fault code|overcurrent|encoder|bearing|implausible reading|short circuit|overheat"
         r"|\bfuse\b|hardware", "hardware", "hardware fault on the device"),
        (r"unreachable|no ack|did not answer|refused|no route|network|fieldbus|modbus"
         r"|connection (?:reset|lost|closed)|\bdns\b", "connectivity",
         "device unreachable over network"),
        (r"timed out|timeout|deadline exceeded|no completion signal|took too long",
         "execution", "operation exceeded its time limit"),
        (r"permission|denied|forbidden|unauthori[sz]ed|not allowed|lacks the|access expired",
         "authorization", "missing permission or role"),
        (r"rate limit|throttl|too many requests|\b429\b", "capacity",
         "request rate limit reached"),
        (r"out of memory|\boom\b|no space|disk full|not enough free|exhausted|quota",
         "capacity", "resource exhausted (disk, memory or workers)"),
        (r"locked by|lock held|conflict|already in progress|concurrent", "concurrency",
         "another operation holds the target"),
        (r"schema check|\bconfig(?:uration)?\b|missing key|\byaml\b|misconfigured",
         "configuration", "invalid or incomplete configuration"),
        (r"depends on|upstream|dependency|unhealthy|service unavailable|\b503\b"
         r"|broker unavailable", "dependency", "upstream dependency unavailable"),
        (r"not found|no (?:device|service)(?: or service)? named|unknown (?:target|device|host)"
         r"|does not exist", "input", "target not found in the asset registry"),
        (r"outside the allowed range|out of range|must (?:lie|be)|invalid|malformed|rejected"
         r"|bad value|not a valid", "input", "invalid parameter value"),
    ))
"""Keyword rules for errors: (pattern, category, root cause), first match wins."""

DEFAULT_CAUSES: dict[str, str] = {
    "connectivity": "device unreachable over network",
    "execution": "operation exceeded its time limit",
    "authorization": "missing permission or role",
    "input": "invalid input",
    "capacity": "resource exhausted",
    "concurrency": "another operation holds the target",
    "hardware": "hardware fault on the device",
    "safety": "safety interlock active",
    "configuration": "invalid configuration",
    "dependency": "upstream dependency unavailable",
}
"""Root cause per category when no rule of the category matches."""

_CATEGORY_SEVERITY: dict[str, Severity] = {
    "hardware": "critical", "safety": "critical", "connectivity": "high", "capacity": "high",
    "configuration": "high", "dependency": "high", "execution": "medium",
    "authorization": "medium", "concurrency": "medium", "input": "low",
}
_HAZARD = re.compile(r"\b(?:fire|smoke|leak(?:ing|age)?|explosion|overpressure|injur\w*)\b",
                     re.IGNORECASE)

ACTION_COST: dict[str, float] = {
    "retry": 0.1, "retry_with_backoff": 0.2, "fix_parameters": 0.2, "wait_and_retry": 0.25,
    "request_access": 0.4, "free_resources": 0.45, "rollback": 0.5, "failover": 0.6,
    "manual_intervention": 0.7, "dispatch_technician": 0.85,
}
"""Base recovery complexity of each recovery action."""

_CATEGORY_ACTION: dict[str, str] = {
    "connectivity": "retry_with_backoff", "execution": "retry", "authorization": "request_access",
    "input": "fix_parameters", "capacity": "free_resources", "concurrency": "wait_and_retry",
    "hardware": "dispatch_technician", "safety": "manual_intervention",
    "configuration": "rollback", "dependency": "failover",
}


# --- commands -----------------------------------------------------------------------------

@lru_cache(maxsize=1024)
def _identifier(name: str) -> bool:
    """Whether a parameter name is snake_case (names repeat: remembered)."""
    return _IDENTIFIER.fullmatch(name) is not None


@lru_cache(maxsize=4096)
def _value_pattern(value: str) -> re.Pattern[str]:
    return re.compile(r"(?<![\w.-])" + re.escape(value) + r"(?![\w-]|\.\w)", re.IGNORECASE)


def _numbers(text: str) -> list[tuple[int, int, float]]:
    """Numbers standing on their own in ``text`` (not inside ``pump-3`` or ``v1.4.2``)."""
    found = []
    for match in _NUMBER.finditer(text):
        start, end = match.span()
        before = text[start - 1] if start else " "
        if before == "-":  # a sign only where it cannot be a hyphen
            prior = text[start - 2] if start > 1 else " "
            if prior == "." or prior == "_" or prior.isalnum():
                continue
            start -= 1
        elif before == ".":
            continue
        if text.startswith(".", end) and text[end + 1:end + 2].isdigit():
            continue
        found.append((start, end, float(text[start:end])))
    return found


def _occurrences(text: str, lowered: str | None, value: str) -> list[tuple[int, int]]:
    """Where ``value`` stands as a whole token in ``text``, ignoring case."""
    if lowered is None:  # non-ASCII text: lower() may shift offsets
        return [m.span() for m in _value_pattern(value).finditer(text)]
    needle = value.lower()
    spans = []
    start = lowered.find(needle)
    while start >= 0:
        end = start + len(needle)
        before = lowered[start - 1] if start else " "
        after = lowered[end] if end < len(lowered) else " "
        follow = lowered[end + 1] if end + 1 < len(lowered) else " "
        if not (before.isalnum() or before in "_.-") and not (
                after.isalnum() or after in "_-" or (after == "." and follow.isalnum())):
            spans.append((start, end))
        start = lowered.find(needle, start + 1)
    return spans


_Span = tuple[str, int, int]
_SPANS: TypeAdapter[list[ParameterSpan]] = TypeAdapter(list[ParameterSpan])
_TAGS: TypeAdapter[list[EntityTag]] = TypeAdapter(list[EntityTag])


def _locate(text: str, parameters: dict[str, JsonValue]) -> list[_Span]:
    spans: list[_Span] = []
    numbers: list[tuple[int, int, float]] | None = None
    lowered = text.lower() if text.isascii() else None
    for name, value in parameters.items():
        if isinstance(value, bool) or not _identifier(name):
            continue
        if isinstance(value, int | float):
            if numbers is None:
                numbers = _numbers(text)
            found = [(a, b) for a, b, number in numbers if number == value]
        elif isinstance(value, str) and value.strip():
            found = _occurrences(text, lowered, value.strip())
        else:
            continue
        for start, end in found:
            if end - start <= _MAX_SPAN_TEXT and not _overlaps(start, end, spans):
                spans.append((name, start, end))
                break
    spans.sort(key=lambda span: span[1])
    return spans[:_MAX_SPANS]


def _tag(text: str, command_type: str, spans: list[_Span]) -> list[_Span]:
    spec = COMMANDS.get(command_type)
    tags: list[_Span] = []
    for name, start, end in spans:
        param = spec.param_index.get(name) if spec is not None else None
        tags.append((param.entity if param is not None and param.entity != "value" else name,
                     start, end))
    for match in _GENERIC.finditer(text) if _MAY_TAG.search(text) else ():
        label = match.lastgroup or "value"
        start, end = match.span()
        if label == "person" and match.group().lower() in _NOT_NAMES:
            continue
        if end - start <= _MAX_SPAN_TEXT and not _overlaps(start, end, tags):
            tags.append((label, start, end))
    tags.sort(key=lambda tag: tag[1])
    return tags[:_MAX_SPANS]


def _overlaps(start: int, end: int, taken: list[_Span]) -> bool:
    for _, a, b in taken:  # noqa: SIM110 - a loop, not any(): short lists, a generator costs more
        if start < b and a < end:
            return True
    return False


def _span_models(text: str, spans: list[_Span]) -> list[ParameterSpan]:
    return _SPANS.validate_python(
        [{"name": n, "start": a, "end": b, "value": text[a:b]} for n, a, b in spans])


def _tag_models(text: str, tags: list[_Span]) -> list[EntityTag]:
    return _TAGS.validate_python(
        [{"label": n, "start": a, "end": b, "text": text[a:b]} for n, a, b in tags])


def locate_parameters(text: str, parameters: dict[str, JsonValue]) -> list[ParameterSpan]:
    """Spans of the parameter values found in ``text`` (see the module's rule table)."""
    return _span_models(text, _locate(text, parameters))


def tag_entities(text: str, command_type: str, spans: list[ParameterSpan]) -> list[EntityTag]:
    """Entity tags: one per parameter span, then generic tags where none is yet."""
    return _tag_models(text, _tag(text, command_type,
                                  [(s.name, s.start, s.end) for s in spans]))


def complexity(text: str, parameters: dict[str, JsonValue]) -> float:
    """Complexity score of a command text with its parameters (module rule table)."""
    typed = 0.0
    for value in parameters.values():
        if isinstance(value, int | float) and not isinstance(value, bool):
            typed += 0.05
        elif isinstance(value, str) and _DURATION_VALUE.fullmatch(value):
            typed += 0.1
    score = (0.1 + 0.1 * min(len(parameters), 4) + min(typed, 0.2) + min(0.15, len(text) / 400)
             + 0.1 * min(len(_SEQUENCE.findall(text)), 2)
             + (0.1 if _SCHEDULE.search(text) else 0.0))
    return round(min(1.0, max(0.0, score)), 3)


_Missing = tuple[bool, bool, bool, bool]
"""Which of intent labels, complexity, parameter boundaries, entity tags are to be filled."""
_ParamsKey = tuple[tuple[str, type, Any], ...]
_SCALARS = (str, int, float, bool, type(None))


def _command_update(command_type: str, normalized: str | None, raw: str,
                    parameters: dict[str, JsonValue], missing: _Missing) -> dict[str, Any]:
    labels, score, bounds, tags = missing
    update: dict[str, Any] = {}
    spec = COMMANDS.get(command_type)
    if labels:
        category = spec.category if spec is not None else "uncatalogued"
        update["intent_labels"] = [category, command_type]
    text = normalized
    if score:
        update["complexity_score"] = complexity(
            text if text is not None else normalize_text(raw), parameters)
    if text is None or not (bounds or tags):
        return update
    spans = _locate(text, parameters)
    if bounds:
        update["parameter_boundaries"] = _span_models(text, spans)
    if tags:
        update["entity_tags"] = _tag_models(text, _tag(text, command_type, spans))
    return update


@lru_cache(maxsize=8192)
def _cached_command_update(command_type: str, normalized: str | None, raw: str,
                           params: _ParamsKey, missing: _Missing
                           ) -> tuple[tuple[str, Any], ...]:
    update = _command_update(command_type, normalized, raw,
                             {name: value for name, _, value in params}, missing)
    return tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in update.items())


def _annotate_command(event: CommandEvent) -> dict[str, Any]:
    update = _fill_command(event)
    if not event.raw_input.isascii() and _HIDDEN.search(event.raw_input):
        labels = update.get("intent_labels", event.intent_labels) or []
        if HIDDEN_CHARACTERS not in labels:
            update["intent_labels"] = [*labels[:_MAX_LABELS - 1], HIDDEN_CHARACTERS]
    return update


def _fill_command(event: CommandEvent) -> dict[str, Any]:
    missing = (event.intent_labels is None, event.complexity_score is None,
               event.parameter_boundaries is None, event.entity_tags is None)
    if not any(missing):
        return {}
    params: list[tuple[str, type, Any]] = []
    for name, value in event.parameters.items():
        kind = type(value)
        if kind not in _SCALARS:  # not hashable: annotate without the cache
            return _command_update(event.command_type, event.normalized_input,
                                   event.raw_input, event.parameters, missing)
        params.append((name, kind, value))
    # texts and parameter sets repeat: annotations depend on nothing else (the raw input
    # only when there is no normalized input); spans are frozen models, lists are fresh
    raw = event.raw_input if event.normalized_input is None else ""
    cached = _cached_command_update(event.command_type, event.normalized_input, raw,
                                    tuple(params), missing)
    return {k: list(v) if isinstance(v, tuple) else v for k, v in cached}


# --- errors -------------------------------------------------------------------------------

def error_category(error_type: str, message: str) -> str:
    """Category of an error: the catalogue's when known, else by keyword rules."""
    spec = ERROR_TYPES.get(error_type)
    if spec is not None:
        return spec.category
    text = f"{message} {error_type.replace('_', ' ')}"
    for pattern, category, _ in ERROR_RULES:
        if pattern.search(text):
            return category
    return "unknown"


def root_cause(category: str, message: str) -> str:
    """Short root cause: the first matching rule of ``category``, else its default."""
    for pattern, rule_category, cause in ERROR_RULES:
        if rule_category == category and pattern.search(message):
            return cause
    return DEFAULT_CAUSES.get(category, "unknown")


def severity(error_type: str, category: str, message: str) -> Severity:
    """Severity of an error (catalogue, then category; hazard words make it critical)."""
    if _HAZARD.search(message):
        return "critical"
    spec = ERROR_TYPES.get(error_type)
    if spec is not None:
        return spec.severity
    return _CATEGORY_SEVERITY.get(category, "medium")


def recovery_complexity(error_type: str, category: str, steps: int, recovered: bool) -> float:
    """Recovery complexity in [0, 1] (module rule table)."""
    action = RECOVERY_ACTIONS.get(error_type) or _CATEGORY_ACTION.get(category)
    base = ACTION_COST.get(action, 0.5) if action is not None else 0.5
    score = base + 0.04 * steps + (0.0 if recovered else 0.1)
    return round(min(1.0, max(0.0, score)), 3)


def _annotate_error(event: ErrorEvent) -> dict[str, Any]:
    update: dict[str, Any] = {}
    category = event.error_category
    if category is None:
        category = error_category(event.error_type, event.error_message)
        update["error_category"] = category
    if event.severity_level is None:
        update["severity_level"] = severity(event.error_type, category, event.error_message)
    if event.recovery_complexity is None:
        update["recovery_complexity"] = recovery_complexity(
            event.error_type, category, len(event.recovery_steps), event.success_indicator)
    if event.root_cause is None:
        update["root_cause"] = root_cause(category, event.error_message)
    return update


def annotate(event: EventT) -> EventT:
    """Fill the annotation fields of a command or error event that are ``None``.

    Returns the same object when there is nothing to fill (and for other kinds).
    """
    update = annotation_update(event)
    return with_fields(event, update) if update else event


def annotation_update(event: EventBase) -> dict[str, Any]:
    """What :func:`annotate` fills in ``event`` (field -> value; empty when nothing)."""
    if isinstance(event, CommandEvent):
        return _annotate_command(event)
    if isinstance(event, ErrorEvent):
        return _annotate_error(event)
    return {}
