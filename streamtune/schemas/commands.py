"""The command catalogue: what users can ask the control system, and how they say it.

Each :class:`CommandSpec` names a command type, its typed parameters and 4-6
natural phrasings (templates with ``{param}`` placeholders). A small grammar
built from the phrasings renders commands (:func:`render`) and reads parameter
values back out of text (:func:`extract_parameters`); :func:`validate_parameters`
is a dry run of a parameter set against the catalogue. :data:`ERROR_TYPES` holds
the errors each command category runs into, with messages, corrections,
recovery steps and a :data:`RecoveryAction` label.

Examples
--------
>>> spec = get_command("restart_device")
>>> render(spec, {"device": "pump-3"}, 0)
'restart pump-3'
>>> extract_parameters("restart_device", "please reboot pump-3 now")
{'device': 'pump-3'}
>>> validate_parameters("set_speed", {"device": "conveyor-1", "rpm": 9000})
['rpm: 9000 is above the maximum 3600']
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Literal

from streamtune.errors import StreamtuneError

ParamType = Literal["int", "float", "str", "enum", "duration"]
ParamValue = int | float | str
RecoveryAction = Literal[
    "retry", "retry_with_backoff", "fix_parameters", "request_access", "free_resources",
    "wait_and_retry", "dispatch_technician", "rollback", "manual_intervention", "failover",
]
"""Label for what fixes an error; one per error type."""

NAME_PATTERN = r"[a-z][a-z0-9]*(?:[-_.][a-z0-9]+)*"
DURATION_PATTERN = r"\d+[smhd]"
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_INT_PATTERN = r"-?\d+"
_FLOAT_PATTERN = r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?"
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


class UnknownCommand(StreamtuneError, KeyError):
    """A command type that is not in the catalogue."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name

    def __str__(self) -> str:
        return f"unknown command type {self.name!r} (known: {', '.join(sorted(COMMANDS))})"


@dataclass(frozen=True, slots=True)
class ParamSpec:
    """One parameter of a command.

    ``min``/``max`` bound numbers (durations: in seconds); ``choices`` lists
    the enum values; ``pattern`` is the regex (case-insensitive) a ``str`` or
    ``duration`` value must match; ``entity`` labels the value in entity tags.
    """

    name: str
    type: ParamType
    required: bool = True
    choices: tuple[str, ...] = ()
    min: float | None = None
    max: float | None = None
    unit: str | None = None
    examples: tuple[str, ...] = ()
    pattern: str = NAME_PATTERN
    entity: str = "value"

    def value_pattern(self) -> str:
        """Regex matching a rendered value of this parameter."""
        if self.type == "int":
            return _INT_PATTERN
        if self.type == "float":
            return _FLOAT_PATTERN
        if self.type == "enum":
            return "|".join(re.escape(c) for c in sorted(self.choices, key=len, reverse=True))
        if self.type == "duration":
            return DURATION_PATTERN
        return self.pattern


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """A command type: parameters, phrasings, category and execution profile.

    ``median_seconds``/``sigma`` parametrise the lognormal execution time;
    ``failure_weight`` scales the base failure probability.
    """

    name: str
    description: str
    params: tuple[ParamSpec, ...]
    phrasings: tuple[str, ...]
    category: str
    median_seconds: float = 1.0
    sigma: float = 0.5
    failure_weight: float = 1.0
    param_index: dict[str, ParamSpec] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "param_index", {p.name: p for p in self.params})

    def placeholders(self, phrasing_index: int) -> tuple[str, ...]:
        """Parameter names a phrasing mentions, in order."""
        return template_fields(self.phrasings[phrasing_index])


@dataclass(frozen=True, slots=True)
class ErrorSpec:
    """An error type: messages, root causes, correction, recovery and its label.

    Message templates may use ``{target}``, ``{command}``, ``{user}``, ``{role}``,
    ``{param}``, ``{value}``, ``{limit}`` and ``{n}``.
    """

    name: str
    category: str
    messages: tuple[str, ...]
    root_causes: tuple[str, ...]
    corrections: tuple[str, ...]
    recovery_steps: tuple[str, ...]
    recovery_action: RecoveryAction
    severity: Literal["low", "medium", "high", "critical"]
    recovery_success: float


@cache
def split_template(template: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Literal pieces (one more than the names) and placeholder names of a template."""
    pieces = _PLACEHOLDER.split(template)
    return tuple(pieces[0::2]), tuple(pieces[1::2])


def template_fields(template: str) -> tuple[str, ...]:
    """Placeholder names of a template, in order."""
    return split_template(template)[1]


_p = ParamSpec


def _names(prefixes: tuple[str, ...], numbers: range) -> tuple[str, ...]:
    return tuple(f"{p}-{i}" for p in prefixes for i in numbers)


_DEVICES = _names(("pump", "boiler", "compressor", "conveyor", "mixer", "press", "chiller"),
                  range(1, 7))
_MOTORS = _names(("conveyor", "mixer", "fan", "press"), range(1, 7))
_SERVICES = ("scada-api", "historian", "alarm-router", "mqtt-bridge", "recipe-service",
             "report-engine", "auth-gateway", "telemetry-ingest")
_HOSTS = ("app-01", "app-02", "app-03", "db-01", "db-02", "edge-01", "edge-02", "plc-gw-01")
_USERS = ("jsmith", "akumar", "mgarcia", "lchen", "okeller", "pnovak", "tbrown", "sali")
_DURATIONS = ("30s", "5m", "10m", "15m", "30m", "1h", "2h", "4h", "12h", "1d", "3d")
_ROLES = ("viewer", "operator", "engineer", "admin")

DEVICE = _p("device", "str", examples=_DEVICES, entity="device")
SERVICE = _p("service", "str", examples=_SERVICES, entity="service")
TARGET = _p("target", "str", examples=_DEVICES[::3] + _SERVICES + _HOSTS, entity="target")
DELAY = _p("delay", "duration", False, min=0, max=30 * 86400, examples=_DURATIONS,
           entity="duration")
PUMP = _p("pump", "str", examples=_names(("pump",), range(1, 13)), entity="device")
VALVE = _p("valve", "str", examples=_names(("valve",), range(1, 25)), entity="device")
USER = _p("user", "str", examples=_USERS, entity="person")
VERSION = _p("version", "str", examples=("v1.4.2", "v1.5.0", "v2.0.1", "v2.1.0", "v3.0.0"),
             pattern=r"v\d+(?:\.\d+){1,2}", entity="version")


def _c(name: str, category: str, description: str, params: tuple[ParamSpec, ...],
       phrasings: tuple[str, ...], median: float, sigma: float = 0.5,
       failure: float = 1.0) -> CommandSpec:
    return CommandSpec(name, description, params, phrasings, category, median, sigma, failure)


_CATALOGUE = (
    _c("restart_device", "equipment", "Restart a device, optionally after a delay.",
       (DEVICE, DELAY),
       ("restart {device}", "please reboot {device} now", "{device} needs a restart",
        "power cycle {device} in {delay}", "can you restart {device} after {delay}",
        "reboot {device}"), 12.0, 0.6, 1.3),
    _c("start_pump", "equipment", "Start a pump, optionally at a flow rate.",
       (PUMP, _p("flow", "float", False, min=0.5, max=500.0, unit="l/min", entity="quantity")),
       ("start {pump}", "turn on {pump}", "{pump} on please", "start {pump} at {flow} l/min",
        "switch {pump} on with a flow of {flow} l/min"), 3.0, 0.4, 1.2),
    _c("stop_pump", "equipment", "Stop a pump.", (PUMP,),
       ("stop {pump}", "shut down {pump}", "turn off {pump}", "{pump} off",
        "stop {pump} immediately"), 2.5, 0.4, 0.8),
    _c("open_valve", "equipment", "Open a valve, fully or to a percentage.",
       (VALVE, _p("percent", "int", False, min=0, max=100, unit="%", entity="quantity")),
       ("open {valve}", "open {valve} to {percent} percent", "set {valve} to {percent}% open",
        "{valve} open", "crack {valve} open to {percent}%"), 4.0, 0.3, 1.1),
    _c("close_valve", "equipment", "Close a valve.", (VALVE,),
       ("close {valve}", "shut {valve}", "{valve} closed please", "close {valve} fully",
        "make sure {valve} is closed"), 4.0, 0.3, 0.9),
    _c("set_speed", "equipment", "Set the speed of a motor-driven device.",
       (_p("device", "str", examples=_MOTORS, entity="device"),
        _p("rpm", "int", min=0, max=3600, unit="rpm", entity="quantity")),
       ("set speed of {device} to {rpm} rpm", "{device} speed {rpm}", "run {device} at {rpm} rpm",
        "change {device} speed to {rpm} rpm", "spin {device} at {rpm}"), 1.2, 0.4, 1.0),
    _c("move_arm", "equipment", "Move a robot arm to x/y/z coordinates in millimetres.",
       (_p("arm", "str", examples=_names(("arm",), range(1, 7)), entity="device"),
        *(_p(axis, "float", min=-500.0, max=500.0, unit="mm", entity="coordinate")
          for axis in ("x", "y", "z"))),
       ("move {arm} to {x} {y} {z}", "position {arm} at x={x} y={y} z={z}",
        "{arm} goto {x},{y},{z}", "send {arm} to coordinates {x} {y} {z}"), 2.0, 0.3, 1.0),
    _c("calibrate_sensor", "equipment", "Calibrate a sensor, optionally against a reference.",
       (_p("sensor", "str", examples=_names(("ts", "ps", "ft", "lt"), range(101, 109)),
           entity="device"),
        _p("reference", "float", False, min=-100.0, max=1000.0, entity="quantity")),
       ("calibrate {sensor}", "run calibration on {sensor}",
        "calibrate {sensor} against {reference}", "{sensor} needs calibration",
        "recalibrate {sensor} to reference {reference}"),
       45.0, 0.5, 1.2),
    _c("emergency_stop", "equipment", "Stop everything on a production line at once.",
       (_p("line", "str", examples=_names(("line",), range(1, 7)), entity="location"),),
       ("e-stop {line}", "emergency stop {line}", "stop everything on {line}",
        "{line} emergency stop now", "kill {line} immediately"), 0.05, 0.3, 0.5),
    _c("set_temperature", "process", "Set the temperature setpoint of a zone.",
       (_p("zone", "str", examples=_names(("zone", "boiler", "oven"), range(1, 5)),
           entity="location"),
        _p("temperature", "float", min=-40.0, max=400.0, unit="celsius", entity="quantity")),
       ("set temperature of {zone} to {temperature} degrees", "{zone} temp {temperature}",
        "heat {zone} to {temperature}C", "change the {zone} setpoint to {temperature} degrees",
        "make {zone} {temperature} degrees"), 0.8, 0.4, 1.0),
    _c("set_threshold", "process", "Set an alarm threshold of a device metric.",
       (DEVICE,
        _p("metric", "enum", choices=("pressure", "temperature", "flow", "vibration", "level"),
           entity="metric"),
        _p("value", "float", min=0.0, max=10000.0, entity="quantity")),
       ("set {metric} threshold on {device} to {value}",
        "alarm when {device} {metric} exceeds {value}",
        "{metric} limit for {device} is {value}", "change {device} {metric} threshold to {value}",
        "raise the {metric} threshold of {device} to {value}"), 0.3, 0.4, 0.8),
    _c("set_mode", "process", "Switch a device's operating mode.",
       (DEVICE, _p("mode", "enum", choices=("auto", "manual", "standby", "maintenance", "eco"),
                   entity="mode")),
       ("set {device} to {mode} mode", "switch {device} to {mode}", "put {device} in {mode} mode",
        "{device} mode {mode}", "change mode of {device} to {mode}"), 0.6, 0.4, 0.9),
    _c("acknowledge_alarm", "process", "Acknowledge an active alarm.",
       (_p("alarm", "str", examples=tuple(f"ALM-{i}" for i in range(1001, 1041)),
           pattern=r"alm-\d{3,6}", entity="alarm"),),
       ("ack {alarm}", "acknowledge alarm {alarm}", "{alarm} acknowledged", "silence alarm {alarm}",
        "mark {alarm} as seen"), 0.1, 0.4, 0.5),
    _c("query_status", "monitoring", "Show the status of everything or of one target.",
       (_p("target", "str", False, examples=TARGET.examples, entity="target"),),
       ("status", "show status of {target}", "what is the status of {target}", "{target} status?",
        "how is {target} doing", "check {target}"), 0.15, 0.5, 0.6),
    _c("run_diagnostic", "monitoring", "Run a diagnostic on a target.",
       (TARGET, _p("level", "enum", False, choices=("quick", "full", "deep"), entity="mode")),
       ("run diagnostics on {target}", "diagnose {target}", "run a {level} diagnostic on {target}",
        "{target} self-test {level}", "test {target}"), 30.0, 0.7, 1.0),
    _c("export_report", "monitoring", "Export a report, optionally in a given format.",
       (_p("report", "enum", choices=("daily", "weekly", "incidents", "energy", "uptime"),
           entity="report"),
        _p("format", "enum", False, choices=("csv", "pdf", "xlsx"), entity="format")),
       ("export {report} report", "export the {report} report as {format}",
        "generate {report} report in {format}", "send me the {report} report",
        "{report} report to {format} please"), 6.0, 0.6, 0.7),
    _c("schedule_maintenance", "maintenance", "Put a device on the maintenance schedule.",
       (DEVICE, DELAY),
       ("schedule maintenance for {device} in {delay}", "book {device} for service in {delay}",
        "plan maintenance on {device}", "{device} maintenance in {delay}",
        "put {device} on the maintenance schedule"), 0.4, 0.4, 0.7),
    _c("rotate_logs", "maintenance", "Rotate a service's logs, keeping some files.",
       (SERVICE, _p("keep", "int", False, min=1, max=90, unit="files", entity="quantity")),
       ("rotate logs on {service}", "rotate {service} logs",
        "rotate {service} logs keeping {keep} files",
        "{service} log rotation now", "archive and rotate logs for {service}"), 5.0, 0.5, 0.8),
    _c("deploy_config", "deployment", "Deploy a configuration version to a service.",
       (SERVICE, VERSION,
        _p("env", "enum", False, choices=("prod", "staging", "dev"), entity="environment")),
       ("deploy config {version} to {service}", "push {version} to {service} in {env}",
        "roll out {version} on {service}", "{service} deploy {version}",
        "apply config {version} to {service} on {env}"), 40.0, 0.6, 1.5),
    _c("rollback_config", "deployment", "Roll a service back to an earlier configuration.",
       (SERVICE, _p("version", "str", False, examples=VERSION.examples, pattern=VERSION.pattern,
                    entity="version")),
       ("rollback {service}", "roll back {service} to {version}", "revert {service} config",
        "undo the last deploy on {service}", "{service} rollback to {version}"), 25.0, 0.5, 1.1),
    _c("scale_service", "deployment", "Scale a service to a number of replicas.",
       (SERVICE, _p("replicas", "int", min=0, max=64, entity="quantity")),
       ("scale {service} to {replicas} replicas", "set {service} replicas to {replicas}",
        "{service} x{replicas}", "run {replicas} instances of {service}",
        "scale out {service} to {replicas}"), 15.0, 0.6, 1.2),
    _c("clear_queue", "deployment", "Drop the pending messages of a service's queue.",
       (SERVICE,),
       ("clear the queue on {service}", "flush {service} queue", "purge {service} queue",
        "{service} queue clear", "drain {service} queue"), 2.0, 0.5, 0.8),
    _c("backup_database", "data", "Back up a database, fully or incrementally.",
       (_p("database", "str", examples=("historian", "recipes", "alarms", "audit", "inventory"),
           entity="database"),
        _p("mode", "enum", False, choices=("full", "incremental"), entity="mode")),
       ("backup {database}", "back up the {database} database",
        "{mode} backup of {database} please",
        "snapshot {database}", "{database} backup {mode}"), 300.0, 0.6, 1.3),
    _c("grant_access", "security", "Grant a user a role, optionally for a while.",
       (USER, _p("role", "enum", choices=_ROLES, entity="role"),
        _p("duration", "duration", False, min=60, max=90 * 86400, examples=_DURATIONS[1:],
           entity="duration")),
       ("grant {user} {role} access", "give {user} {role} rights", "promote {user} to {role}",
        "add {user} as {role} for {duration}", "{user} needs {role} access"), 0.5, 0.4, 1.0),
    _c("revoke_access", "security", "Revoke a user's access, or one role.",
       (USER, _p("role", "enum", False, choices=_ROLES, entity="role")),
       ("revoke access for {user}", "remove {user} from {role}", "take away {user}'s {role} rights",
        "{user} should lose access", "disable {user}"), 0.4, 0.4, 0.7),
)

COMMANDS: dict[str, CommandSpec] = {spec.name: spec for spec in _CATALOGUE}
"""Every known command type, by name."""

CATEGORIES: tuple[str, ...] = tuple(dict.fromkeys(spec.category for spec in _CATALOGUE))


def get_command(name: str) -> CommandSpec:
    """Look up a command type; raise :class:`UnknownCommand` (a ``KeyError``) if unknown."""
    try:
        return COMMANDS[name]
    except KeyError:
        raise UnknownCommand(name) from None


def format_value(value: ParamValue) -> str:
    """Render a parameter value as a user would type it (integral floats lose ``.0``)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


def fill_template(
    spec: CommandSpec, template: str, params: dict[str, ParamValue]
) -> tuple[str, list[tuple[str, int, int]]]:
    """Fill a template; return the text and ``(param, start, end)`` spans of the values.

    Raises
    ------
    ValueError
        If a placeholder has no value in ``params``.
    """
    literals, names = split_template(template)
    parts = [literals[0]]
    spans: list[tuple[str, int, int]] = []
    length = len(literals[0])
    for name, literal in zip(names, literals[1:], strict=True):
        if name not in params:
            raise ValueError(f"{spec.name}: phrasing {template!r} needs parameter {name!r}")
        text = format_value(params[name])
        spans.append((name, length, length + len(text)))
        length += len(text) + len(literal)
        parts += (text, literal)
    return "".join(parts), spans


def render(spec: CommandSpec, params: dict[str, ParamValue], phrasing_index: int) -> str:
    """Fill phrasing ``phrasing_index`` of ``spec`` with ``params`` (extra params ignored)."""
    return fill_template(spec, spec.phrasings[phrasing_index], params)[0]


@cache
def _compiled(command_type: str) -> tuple[re.Pattern[str], ...]:
    spec = get_command(command_type)
    patterns = []
    for template in spec.phrasings:
        pieces = []
        pos = 0
        for match in _PLACEHOLDER.finditer(template):
            pieces.append(_literal_regex(template[pos:match.start()]))
            name = match.group(1)
            pieces.append(f"(?P<{name}>{spec.param_index[name].value_pattern()})")
            pos = match.end()
        pieces.append(_literal_regex(template[pos:]))
        patterns.append(re.compile("".join(pieces), re.IGNORECASE))
    return tuple(patterns)


def _literal_regex(literal: str) -> str:
    return r"\s+".join(re.escape(word) for word in literal.split(" "))


def _convert(param: ParamSpec, text: str) -> ParamValue | None:
    if param.type == "int":
        return int(text)
    if param.type == "float":
        return float(text)
    if param.type == "enum":
        lowered = text.lower()
        return next((c for c in param.choices if c.lower() == lowered), None)
    return text


def match_phrasing(command_type: str, text: str) -> tuple[int, dict[str, ParamValue]] | None:
    """Find the phrasing ``text`` was produced from; return its index and the values.

    Matching ignores case, surrounding whitespace and the width of inner
    whitespace. Returns ``None`` when no phrasing of the command matches.
    """
    stripped = text.strip()
    spec = get_command(command_type)
    for index, pattern in enumerate(_compiled(command_type)):
        match = pattern.fullmatch(stripped)
        if match is None:
            continue
        values: dict[str, ParamValue] = {}
        for name, raw in match.groupdict().items():
            value = _convert(spec.param_index[name], raw)
            if value is None:
                break
            values[name] = value
        else:
            return index, values
    return None


def extract_parameters(command_type: str, text: str) -> dict[str, ParamValue]:
    """Recover typed parameter values from a command text.

    Returns an empty dict when no phrasing of ``command_type`` matches (a
    typo, an unseen phrasing); raises :class:`UnknownCommand` for unknown types.
    """
    found = match_phrasing(command_type, text)
    return {} if found is None else found[1]


def match_spans(command_type: str, text: str) -> list[tuple[str, int, int]]:
    """``(param, start, end)`` of the values the first matching phrasing reads in ``text``.

    Offsets index ``text`` itself; ``[]`` when no phrasing matches.
    """
    stripped = text.strip()
    lead = len(text) - len(text.lstrip())
    for pattern in _compiled(command_type):
        match = pattern.fullmatch(stripped)
        if match is not None:
            return [(name, match.start(name) + lead, match.end(name) + lead)
                    for name, value in match.groupdict().items() if value is not None]
    return []


def duration_seconds(value: str) -> int:
    """Seconds in a duration such as ``"15m"``; raise ``ValueError`` if malformed."""
    if re.fullmatch(DURATION_PATTERN, value) is None:
        raise ValueError(f"not a duration: {value!r} (expected e.g. 30s, 15m, 2h, 1d)")
    return int(value[:-1]) * _DURATION_UNITS[value[-1]]


def _check_value(param: ParamSpec, value: object) -> str | None:
    shown = repr(value) if isinstance(value, str) else str(value)
    if param.type in ("int", "float"):
        allowed = int if param.type == "int" else (int, float)
        if isinstance(value, bool) or not isinstance(value, allowed):
            return f"{param.name}: expected {param.type}, got {type(value).__name__}"
        number = float(value)
    elif not isinstance(value, str):
        return f"{param.name}: expected a string, got {type(value).__name__}"
    elif param.type == "enum":
        if value not in param.choices:
            return f"{param.name}: {shown} is not one of {', '.join(param.choices)}"
        return None
    elif re.fullmatch(param.value_pattern(), value, re.IGNORECASE) is None:
        return f"{param.name}: {shown} is not a valid {param.entity} value"
    elif param.type == "duration":
        number = duration_seconds(value)
    else:
        return None
    if param.min is not None and number < param.min:
        return f"{param.name}: {shown} is below the minimum {format_value(param.min)}"
    if param.max is not None and number > param.max:
        return f"{param.name}: {shown} is above the maximum {format_value(param.max)}"
    return None


def validate_parameters(command_type: str, params: Mapping[str, object]) -> list[str]:
    """Dry-run ``params`` against the catalogue; return the problems (empty if none).

    Reports an unknown command type, missing required parameters, unknown
    parameters, wrong types, values out of range, bad formats and unknown
    enum values, one line each.
    """
    spec = COMMANDS.get(command_type)
    if spec is None:
        return [f"command_type: unknown command type {command_type!r}"]
    problems = [f"{p.name}: required parameter missing" for p in spec.params
                if p.required and p.name not in params]
    for name, value in params.items():
        param = spec.param_index.get(name)
        if param is None:
            problems.append(f"{name}: unknown parameter for {command_type}")
        elif (problem := _check_value(param, value)) is not None:
            problems.append(problem)
    return problems


def sample_value(param: ParamSpec, rng: random.Random) -> ParamValue:
    """Draw a plausible valid value for ``param``."""
    if param.type == "int":
        return rng.randint(int(param.min or 0), int(100 if param.max is None else param.max))
    if param.type == "float":
        low, high = param.min or 0.0, 100.0 if param.max is None else param.max
        return round(rng.uniform(low, high), rng.choice((0, 1, 1, 2)))
    if param.type == "enum":
        return rng.choice(param.choices)
    return rng.choice(param.examples)


def sample_parameters(
    spec: CommandSpec, phrasing_index: int, rng: random.Random
) -> dict[str, ParamValue]:
    """Draw values for exactly the parameters a phrasing mentions."""
    return {name: sample_value(spec.param_index[name], rng)
            for name in spec.placeholders(phrasing_index)}


def _e(name: str, category: str, action: RecoveryAction,
       severity: Literal["low", "medium", "high", "critical"], success: float,
       messages: tuple[str, ...], causes: tuple[str, ...], corrections: tuple[str, ...],
       steps: tuple[str, ...]) -> ErrorSpec:
    return ErrorSpec(name, category, messages, causes, corrections, steps, action, severity,
                     success)


_ERRORS = (
    _e("device_unreachable", "connectivity", "retry_with_backoff", "high", 0.7,
       ("{target} did not answer on the fieldbus (no ACK after {n} attempts)",
        "connection to {target} refused: host unreachable",
        "Modbus timeout talking to {target} (unit id {n})"),
       ("network switch port down", "device powered off", "gateway lost its PLC session"),
       ("retry {command} once {target} answers a ping",
        "route {command} through the backup gateway"),
       ("ping {target} from the gateway", "check the fieldbus cable and switch port",
        "retry {command} with backoff")),
    _e("timeout", "execution", "retry", "medium", 0.8,
       ("{command} on {target} timed out after {n}s",
        "no completion signal from {target} within {n} seconds"),
       ("controller overloaded", "slow actuator response", "lock held by a stuck job"),
       ("retry {command} with a longer timeout",),
       ("check {target} load", "retry {command} with a longer timeout")),
    _e("permission_denied", "authorization", "request_access", "medium", 0.5,
       ("user {user} lacks the '{role}' role required for {command}",
        "{command} on {target} denied by policy for {user}"),
       ("role not granted", "access expired", "target in a restricted zone"),
       ("ask an admin to grant {user} the {role} role", "run {command} as a shift supervisor"),
       ("request the {role} role for {user}", "have a supervisor approve {command}",
        "rerun {command}")),
    _e("invalid_parameter", "input", "fix_parameters", "low", 0.95,
       ("{param}={value} is outside the allowed range {limit}",
        "rejected {command}: {param} must lie within {limit}, got {value}"),
       ("typo in the value", "wrong unit assumed", "limit changed in the recipe"),
       ("use {param} within {limit}",),
       ("look up the allowed range of {param}", "rerun {command} with a valid {param}")),
    _e("unknown_target", "input", "fix_parameters", "low", 0.9,
       ("no device or service named '{target}' in the asset registry",
        "{command}: target '{target}' not found"),
       ("misspelled name", "asset decommissioned", "wrong site selected"),
       ("did you mean '{value}'?",),
       ("search the asset registry for the target", "rerun {command} with the right name")),
    _e("resource_exhausted", "capacity", "free_resources", "high", 0.6,
       ("not enough free disk on {target} ({n}% used)",
        "worker pool exhausted on {target}: {n} jobs queued",
        "{target} out of memory while running {command}"),
       ("disk filled by logs", "too many concurrent jobs", "memory leak in a worker"),
       ("free space on {target}, then retry {command}",),
       ("rotate or archive old files on {target}", "cancel stale jobs", "retry {command}")),
    _e("rate_limited", "capacity", "retry_with_backoff", "low", 0.9,
       ("{target} rejected {command}: rate limit of {n} requests/min reached",),
       ("script flooding the API", "burst of commands from the HMI"),
       ("wait a minute and retry {command}",),
       ("wait for the rate window to reset", "retry {command}")),
    _e("conflict", "concurrency", "wait_and_retry", "medium", 0.75,
       ("{target} is locked by another operation (job #{n})",
        "a conflicting {command} on {target} is already in progress"),
       ("two operators on the same asset", "scheduled job holds the lock"),
       ("wait for job #{n} to finish, then retry {command}",),
       ("find the job holding the lock on {target}", "wait for it to finish",
        "retry {command}")),
    _e("hardware_fault", "hardware", "dispatch_technician", "critical", 0.3,
       ("{target} reported fault code E{n}: motor overcurrent",
        "encoder failure on {target}", "{target} returned an implausible reading ({n})"),
       ("worn bearing", "failed encoder", "blown fuse", "sensor drift"),
       ("take {target} out of service and dispatch a technician",),
       ("put {target} in maintenance mode", "open a work order for {target}",
        "dispatch a technician", "verify {target} after repair")),
    _e("interlock_active", "safety", "manual_intervention", "high", 0.6,
       ("safety interlock on {target} prevents {command} (guard door open)",
        "permit-to-work missing for {target}; {command} blocked"),
       ("guard door open", "lockout-tagout in place", "permit expired"),
       ("clear the interlock on {target} locally, then retry {command}",),
       ("inspect {target} on site", "clear the interlock", "retry {command}")),
    _e("config_invalid", "configuration", "rollback", "high", 0.8,
       ("config for {target} failed schema check at line {n}",
        "referenced key 'limits.{param}' missing in {target} config"),
       ("typo in the config file", "schema changed between versions", "missing secret"),
       ("roll {target} back to the last good config",),
       ("roll back to the last good config", "fix the config and validate it",
        "redeploy")),
    _e("dependency_failed", "dependency", "failover", "high", 0.65,
       ("{target} depends on a service that is down ({n} health checks failed)",
        "upstream of {target} unhealthy; {command} aborted"),
       ("database failover in progress", "message broker unavailable"),
       ("fail {target} over to the standby, then retry {command}",),
       ("check upstream health", "fail over to the standby", "retry {command}")),
)

ERROR_TYPES: dict[str, ErrorSpec] = {spec.name: spec for spec in _ERRORS}
"""Every error type, by name."""

CATEGORY_ERRORS: dict[str, tuple[tuple[str, int], ...]] = {
    "equipment": (("device_unreachable", 3), ("timeout", 2), ("hardware_fault", 2),
                  ("interlock_active", 2), ("invalid_parameter", 2), ("conflict", 1),
                  ("permission_denied", 1), ("unknown_target", 1)),
    "process": (("invalid_parameter", 3), ("interlock_active", 2), ("device_unreachable", 1),
                ("timeout", 1), ("conflict", 1), ("permission_denied", 1),
                ("hardware_fault", 1)),
    "monitoring": (("timeout", 3), ("device_unreachable", 2), ("unknown_target", 2),
                   ("resource_exhausted", 1), ("permission_denied", 1), ("rate_limited", 1)),
    "maintenance": (("conflict", 3), ("resource_exhausted", 2), ("permission_denied", 1),
                    ("invalid_parameter", 1), ("timeout", 1)),
    "deployment": (("config_invalid", 3), ("conflict", 2), ("dependency_failed", 2),
                   ("resource_exhausted", 2), ("timeout", 1), ("permission_denied", 1),
                   ("rate_limited", 1)),
    "data": (("resource_exhausted", 3), ("timeout", 2), ("permission_denied", 1),
             ("conflict", 1), ("dependency_failed", 1)),
    "security": (("permission_denied", 3), ("unknown_target", 2), ("invalid_parameter", 1),
                 ("conflict", 1)),
}
"""Error types each command category runs into, with relative weights."""

RECOVERY_ACTIONS: dict[str, RecoveryAction] = {e.name: e.recovery_action for e in _ERRORS}
"""Recovery action label per error type."""


def errors_for(category: str) -> tuple[tuple[str, int], ...]:
    """Weighted error types of a command category (a generic mix for unknown ones)."""
    return CATEGORY_ERRORS.get(category, (("timeout", 2), ("device_unreachable", 1),
                                          ("permission_denied", 1), ("conflict", 1)))
