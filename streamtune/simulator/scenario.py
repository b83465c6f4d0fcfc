"""Drift scenarios: knobs that change the simulated stream at a known event index.

Each knob starts at its own event index ``at``; the event at that index is
always a command showing the change, and everything before it is exactly the
stream a simulator without the knob produces (each knob draws from its own
random generator). :meth:`Scenario.ground_truth` lists the changes for drift
detectors to be scored against.

Examples
--------
>>> s = Scenario(error_rate=ErrorRateDrift(at=500, to=0.4))
>>> s.ground_truth()[0]["change"], s.ground_truth()[0]["index"]
('error_rate', 500)
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from streamtune.schemas.commands import COMMANDS, CommandSpec, ParamSpec, template_fields

BASE_ERROR_RATE = 0.08
"""Mean failure probability of a command before any ``error_rate`` drift."""

_FROZEN = ConfigDict(frozen=True, extra="forbid")

FUTURE_COMMANDS: dict[str, CommandSpec] = {
    spec.name: spec
    for spec in (
        CommandSpec(
            "isolate_segment", "Cut a network segment off from the plant network.",
            (ParamSpec("segment", "str", examples=tuple(f"seg-{i}" for i in range(1, 9)),
                       entity="network"),),
            ("isolate {segment}", "cut {segment} off the network", "quarantine {segment}",
             "{segment} isolate now"),
            "security", median_seconds=1.5, sigma=0.4, failure_weight=1.2),
        CommandSpec(
            "purge_line", "Purge a production line with an inert gas.",
            (ParamSpec("line", "str", examples=tuple(f"line-{i}" for i in range(1, 7)),
                       entity="location"),
             ParamSpec("gas", "enum", choices=("nitrogen", "argon", "air"), entity="material")),
            ("purge {line} with {gas}", "{line} purge using {gas}",
             "start a {gas} purge of {line}", "flush {line} with {gas} gas"),
            "process", median_seconds=90.0, sigma=0.5, failure_weight=1.3),
    )
}
"""Command types that are not in the catalogue; ``new_command_type`` introduces one."""

NEW_PHRASINGS: dict[str, tuple[str, ...]] = {
    "restart_device": ("give {device} a kick", "{device} is stuck, cycle it"),
    "query_status": ("any news on {target}", "{target} looking ok?"),
    "set_temperature": ("bump {zone} up to {temperature} degrees",
                        "{zone} should sit at {temperature} degrees"),
    "start_pump": ("fire up {pump}", "get {pump} running"),
    "stop_pump": ("park {pump}", "{pump} can rest now"),
    "open_valve": ("let {valve} flow", "{valve} wide open"),
    "close_valve": ("seal {valve}", "{valve} tight"),
    "scale_service": ("give {service} {replicas} pods", "{service} needs {replicas} copies"),
    "deploy_config": ("send {version} out to {service}", "{service} gets {version}"),
    "acknowledge_alarm": ("seen {alarm}", "noted {alarm}"),
    "set_mode": ("flip {device} into {mode}", "{device} goes {mode}"),
    "run_diagnostic": ("health-check {target}", "poke {target} for faults"),
}
"""Phrasings no catalogue phrasing matches; ``new_phrasings`` starts using them."""

DEFAULT_SYNONYMS: dict[str, str] = {
    "restart": "bounce", "reboot": "recycle", "start": "kick off", "stop": "halt",
    "set": "dial", "status": "vitals", "please": "pls", "check": "eyeball", "show": "pull up",
    "change": "tweak", "run": "fire", "turn": "twist", "open": "unseal", "close": "shutter",
    "scale": "resize", "rotate": "churn", "export": "dump", "grant": "hand",
    "revoke": "yank", "the": "da",
}
"""Common words of the catalogue phrasings and the words that replace them."""


class _Knob(BaseModel):
    model_config = _FROZEN

    at: int = Field(ge=0, description="index of the first affected event")


class ErrorRateDrift(_Knob):
    """Mean failure probability moves from :data:`BASE_ERROR_RATE` to ``to``.

    With ``ramp > 0`` it moves linearly over that many events. Error events
    become more frequent in proportion.
    """

    to: float = Field(ge=0.0, le=0.9)
    ramp: int = Field(0, ge=0)


class ExecutionTimeDrift(_Knob):
    """Execution times (commands, trace spans, latencies) multiply by ``factor``."""

    factor: float = Field(gt=0.0, le=100.0)


class NewPhrasingsDrift(_Knob):
    """Commands start using :data:`NEW_PHRASINGS` with probability ``share``."""

    share: float = Field(0.5, gt=0.0, le=1.0)


class NewCommandTypeDrift(_Knob):
    """A command type from :data:`FUTURE_COMMANDS` appears, as ``share`` of commands."""

    command_type: str = "isolate_segment"
    share: float = Field(0.08, gt=0.0, le=1.0)

    @field_validator("command_type")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in FUTURE_COMMANDS:
            known = ", ".join(FUTURE_COMMANDS)
            raise ValueError(f"not a future command type (choose from {known})")
        return value


class VocabularyDrift(_Knob):
    """Words of the phrasings are replaced by synonyms, in ``share`` of commands."""

    synonyms: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_SYNONYMS))
    share: float = Field(1.0, gt=0.0, le=1.0)

    @field_validator("synonyms")
    @classmethod
    def _words(cls, value: dict[str, str]) -> dict[str, str]:
        if not value or any(not re.fullmatch(r"[a-z]+", w) for w in value):
            raise ValueError("synonyms must map lowercase words to their replacements")
        return value


class Scenario(BaseModel):
    """Which drifts a simulated stream carries, and from which event index."""

    model_config = _FROZEN

    error_rate: ErrorRateDrift | None = None
    execution_time_shift: ExecutionTimeDrift | None = None
    new_phrasings: NewPhrasingsDrift | None = None
    new_command_type: NewCommandTypeDrift | None = None
    vocabulary_shift: VocabularyDrift | None = None

    @classmethod
    def standard(cls, n: int) -> Scenario:
        """All five knobs spread over a stream of ``n`` events (from 30% to 70%)."""
        return cls(
            error_rate=ErrorRateDrift(at=int(n * 0.3), to=0.3),
            execution_time_shift=ExecutionTimeDrift(at=int(n * 0.4), factor=2.0),
            new_phrasings=NewPhrasingsDrift(at=int(n * 0.5)),
            new_command_type=NewCommandTypeDrift(at=int(n * 0.6)),
            vocabulary_shift=VocabularyDrift(at=int(n * 0.7)),
        )

    @classmethod
    def all_at(cls, index: int) -> Scenario:
        """All five knobs starting at the same event index.

        The event at ``index`` is then a command of the new type, phrased with
        shifted vocabulary, under the new error rate and execution times.
        """
        return cls(
            error_rate=ErrorRateDrift(at=index, to=0.3),
            execution_time_shift=ExecutionTimeDrift(at=index, factor=2.0),
            new_phrasings=NewPhrasingsDrift(at=index),
            new_command_type=NewCommandTypeDrift(at=index),
            vocabulary_shift=VocabularyDrift(at=index),
        )

    def knobs(self) -> dict[str, _Knob]:
        """The knobs that are set, by name."""
        return {name: getattr(self, name) for name in type(self).model_fields
                if getattr(self, name) is not None}

    def ground_truth(self) -> list[dict[str, Any]]:
        """One ``{"change", "index", "details"}`` entry per knob, ordered by index."""
        truth = []
        for name, knob in self.knobs().items():
            details: dict[str, Any] = knob.model_dump(exclude={"at"})
            if isinstance(knob, ErrorRateDrift):
                details = {"from": BASE_ERROR_RATE, **details}
            elif isinstance(knob, NewPhrasingsDrift):
                details["phrasings"] = {k: list(v) for k, v in NEW_PHRASINGS.items()}
            elif isinstance(knob, NewCommandTypeDrift):
                spec = FUTURE_COMMANDS[knob.command_type]
                details.update(category=spec.category, phrasings=list(spec.phrasings))
            truth.append({"change": name, "index": knob.at, "details": details})
        return sorted(truth, key=lambda entry: (entry["index"], entry["change"]))


def shift_template(template: str, synonyms: dict[str, str]) -> str:
    """Replace whole words outside the placeholders of a template by their synonyms."""
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, synonyms)) + r")\b")
    pieces = re.split(r"(\{\w+\})", template)
    return "".join(piece if piece.startswith("{") else
                   pattern.sub(lambda m: synonyms[m.group(1)], piece) for piece in pieces)


def shiftable(template: str, synonyms: dict[str, str]) -> bool:
    """True when :func:`shift_template` changes ``template``."""
    return shift_template(template, synonyms) != template


def _check_catalogue() -> None:
    """New phrasings must name the right parameters (import-time sanity check)."""
    for name, templates in NEW_PHRASINGS.items():
        spec = COMMANDS[name]
        for template in templates:
            missing = [f for f in template_fields(template) if f not in spec.param_index]
            required = [p.name for p in spec.params if p.required]
            if missing or not set(required) <= set(template_fields(template)):
                raise RuntimeError(f"bad new phrasing {template!r} for {name}")


_check_catalogue()
