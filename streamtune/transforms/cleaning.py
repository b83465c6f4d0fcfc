"""Per-event cleaning: redact secrets, normalise command text, fill missing parameters.

:func:`clean_event` runs on every event between the raw and the clean topics.
Secrets are redacted *before* anything is derived from the text, so no
secret can reach ``normalized_input`` or extracted ``parameters``:

=================  ============================================================
kind               fields redacted
=================  ============================================================
command            raw_input, normalized_input, parameters, context
error              error_message, failed_command, correction, recovery_steps,
                   root_cause
correction         original_input, corrected_input, corrected_parameters
feedback           comment
trace              attributes
metric             labels
error_state        message
=================  ============================================================

For commands, ``normalized_input`` becomes
:func:`~streamtune.schemas.text.normalize_text` of the
(redacted) producer value, or of the redacted raw input when the producer sent
none; empty ``parameters`` of a catalogued command type are filled with
:func:`~streamtune.schemas.commands.extract_parameters` on the normalised text
(string values that match a catalogue example take the example's spelling,
``alm-1001`` -> ``ALM-1001``). Redacted text that outgrows its field's bound
is cut to it. Cleaning a cleaned event changes nothing.

A batch is screened first (:func:`screen_events`): one secret gate over all its
free-text values, so :func:`clean_event` runs the redactor's rules only on the
values the gate flags.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence
from functools import lru_cache
from typing import Any, TypeVar

from pydantic import JsonValue

from streamtune.schemas.bounds import MAX_OBJECT_STRING_CHARS
from streamtune.schemas.commands import COMMANDS, extract_parameters
from streamtune.schemas.events import CommandEvent, EventBase, with_fields
from streamtune.schemas.text import normalize_text
from streamtune.transforms.redaction import Redactor

EventT = TypeVar("EventT", bound=EventBase)

_TEXT_CHARS = 2000
_LONG_TEXT_CHARS = 4000
_STEP_CHARS = 500
_LABEL_CHARS = 128

FREE_TEXT_FIELDS: dict[str, tuple[tuple[str, int], ...]] = {
    "command": (("parameters", 0), ("context", 0)),
    "error": (("error_message", _LONG_TEXT_CHARS), ("failed_command", 0), ("correction", 0),
              ("recovery_steps", _STEP_CHARS), ("root_cause", _STEP_CHARS)),
    "correction": (("original_input", _TEXT_CHARS), ("corrected_input", _TEXT_CHARS),
                   ("corrected_parameters", 0)),
    "feedback": (("comment", _LONG_TEXT_CHARS),),
    "trace": (("attributes", 0),),
    "metric": (("labels", _LABEL_CHARS),),
    "error_state": (("message", _LONG_TEXT_CHARS),),
}
"""Free-text fields per event kind (besides a command's texts): (field, bound of each
string in it; 0 for a JSON object)."""


def _fit(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit]


def _fit_json(value: JsonValue) -> JsonValue:
    """Cut strings a redaction made longer than the JSON-object string bound."""
    if isinstance(value, str):
        return _fit(value, MAX_OBJECT_STRING_CHARS)
    if isinstance(value, dict):
        return {key: _fit_json(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [_fit_json(inner) for inner in value]
    return value


def _redact_field(value: Any, limit: int, redactor: Redactor, counts: Counter[str],
                  cleared: Collection[int]) -> Any:
    """Redact one field's value; return the same object when nothing changed."""
    if id(value) in cleared:
        return value
    if isinstance(value, str):
        text = redactor.redact_into(value, counts)
        return value if text is value else _fit(text, limit)
    if isinstance(value, list):
        items = [_redact_field(item, limit, redactor, counts, cleared) for item in value]
        return value if all(new is old for new, old in zip(items, value, strict=True)) else items
    if isinstance(value, dict):
        new_obj = redactor.redact_value_into(value, counts)
        if new_obj is value:
            return value
        if limit:  # metric labels: a flat str -> str mapping
            return {k: _fit(str(v), limit) for k, v in new_obj.items()}
        return _fit_json(new_obj)
    return value


@lru_cache(maxsize=256)
def _example_spellings(command_type: str) -> dict[str, dict[str, str]]:
    """Per string parameter: lower-cased catalogue example -> its spelling."""
    spec = COMMANDS[command_type]
    return {p.name: {e.lower(): e for e in p.examples} for p in spec.params
            if p.type == "str" and p.examples}


def fill_parameters(command_type: str, text: str) -> dict[str, JsonValue]:
    """Parameters read from a normalised command text (empty for unknown types or no match)."""
    if command_type not in COMMANDS or not text:
        return {}
    spellings = _example_spellings(command_type)
    params: dict[str, JsonValue] = {}
    for name, value in extract_parameters(command_type, text).items():
        if isinstance(value, str) and name in spellings:
            value = spellings[name].get(value.lower(), value)
        params[name] = value
    return params


@lru_cache(maxsize=4096)
def _clean_texts(redactor: Redactor, raw_input: str, normalized_input: str | None,
                 screened: bool) -> tuple[str, str | None, tuple[tuple[str, int], ...]]:
    """Redacted raw input, normalised text and redaction counts (command texts repeat);
    ``screened``: the gate passed both texts, which hold no secret."""
    counts: Counter[str] = Counter()
    raw = base = raw_input
    if not screened:
        raw = base = _redact_field(raw_input, _TEXT_CHARS, redactor, counts, ())
    if normalized_input is not None:
        base = normalized_input if screened else redactor.redact_into(normalized_input, counts)
    text = normalize_text(base)
    while len(text) > _TEXT_CHARS:  # NFKC or redaction made it longer: cut, keep it normal
        text = normalize_text(text[:_TEXT_CHARS])
    return raw, text or None, tuple(counts.items())


def _clean_command(event: CommandEvent, redactor: Redactor, counts: Counter[str],
                   cleared: Collection[int]) -> dict[str, Any]:
    update: dict[str, Any] = {}
    screened = id(event.raw_input) in cleared and (
        event.normalized_input is None or id(event.normalized_input) in cleared)
    raw, normalized, text_counts = _clean_texts(redactor, event.raw_input,
                                                event.normalized_input, screened)
    if text_counts:
        counts.update(dict(text_counts))
    if raw != event.raw_input:
        update["raw_input"] = raw
    if normalized != event.normalized_input:
        update["normalized_input"] = normalized
    for name, limit in FREE_TEXT_FIELDS["command"]:
        old = getattr(event, name)
        new = _redact_field(old, limit, redactor, counts, cleared)
        if new is not old:
            update[name] = new
    if not update.get("parameters", event.parameters) and normalized is not None:
        params = fill_parameters(event.command_type, normalized)
        if params:
            update["parameters"] = params
    return update


def screen_events(events: Sequence[EventBase], redactor: Redactor, *,
                  serialised: dict[int, tuple[Any, bytes]] | None = None) -> set[int]:
    """Ids of the free-text values of ``events`` (command texts and
    :data:`FREE_TEXT_FIELDS`) that the redactor's gate passes.

    :func:`clean_event` given them leaves those values as they are, as the full
    rules would. Valid only while ``events`` live (ids of objects they hold).
    ``serialised`` receives the JSON of the object and list values
    (:meth:`~streamtune.transforms.redaction.Redactor.screen`).
    """
    values: list[Any] = []
    for event in events:
        if isinstance(event, CommandEvent):
            values += (event.raw_input, event.normalized_input)
        values += [getattr(event, name) for name, _ in
                   FREE_TEXT_FIELDS.get(event.kind, ())]  # type: ignore[attr-defined]
    flags = redactor.screen(values, serialised=serialised)
    return {id(value) for value, flagged in zip(values, flags, strict=True) if not flagged}


def clean_event(event: EventT, *, redactor: Redactor,
                cleared: Collection[int] = ()) -> tuple[EventT, Counter[str]]:
    """Redact an event's free text and, for commands, normalise and fill parameters.

    Parameters
    ----------
    event
        Any validated event; kinds without free text come back as they are.
    redactor
        The redactor to use (build it once per process).
    cleared
        Ids of field values :func:`screen_events` passed: not redacted again.

    Returns
    -------
    tuple
        The cleaned event (the same object when nothing changed) and the
        number of secrets redacted per kind.
    """
    update, counts = cleaning_update(event, redactor=redactor, cleared=cleared)
    return (with_fields(event, update) if update else event), counts


def cleaning_update(event: EventBase, *, redactor: Redactor,
                    cleared: Collection[int] = ()) -> tuple[dict[str, Any], Counter[str]]:
    """What :func:`clean_event` changes in ``event`` (field -> new value; empty when
    nothing), and the number of secrets redacted per kind."""
    counts: Counter[str] = Counter()
    if isinstance(event, CommandEvent):
        return _clean_command(event, redactor, counts, cleared), counts
    update = {}
    for name, limit in FREE_TEXT_FIELDS.get(getattr(event, "kind", ""), ()):
        old = getattr(event, name)
        new = _redact_field(old, limit, redactor, counts, cleared)
        if new is not old:
            update[name] = new
    return update, counts
