"""Error simulation: a clean command made to fail (rows are error events).

Each technique produces only the error types of :data:`TECHNIQUE_ERRORS` and
writes the evidence for the error into ``failed_command["context"]``:

* ``parameter_corruption`` -> ``invalid_parameter``: one value is pushed out
  of range, becomes an unknown enum choice, an over-long duration or a
  malformed name; the correction holds the original value;
* ``context_modification`` -> ``interlock_active`` (device in maintenance
  mode, guard door, permit), ``permission_denied`` (role below the required
  one) or ``dependency_failed`` (unhealthy upstream);
* ``resource_constraints`` -> ``resource_exhausted`` (memory, cpu, disk or
  worker figures) or ``rate_limited`` (requests above the limit); memory and
  cpu figures are always present;
* ``timing_issues`` -> ``timeout`` (elapsed beyond the timeout) or
  ``conflict`` (a race on a lock or a stale state version).

Parents may be command events or error events (whose corrected command is used).
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable, Mapping

from pydantic import JsonValue

from streamtune.models.augmentation.build import error_event, fill
from streamtune.models.augmentation.rows import Job, value_text
from streamtune.schemas.commands import (
    ParamSpec,
    ParamValue,
    format_value,
    sample_value,
    validate_parameters,
)
from streamtune.schemas.events import ErrorEvent

TECHNIQUE_ERRORS: dict[str, tuple[str, ...]] = {
    "parameter_corruption": ("invalid_parameter",),
    "context_modification": ("interlock_active", "permission_denied", "dependency_failed"),
    "resource_constraints": ("resource_exhausted", "rate_limited"),
    "timing_issues": ("timeout", "conflict"),
}
"""Error types each error-simulation technique may claim."""

_MESSAGES = {
    "enum": "rejected {command}: {param}={value} is not one of {limit}",
    "str": "rejected {command}: {param}={value} is not {limit}",
}
BAD_CHOICES = ("turbo", "ultra", "extreme", "hyper", "maximum")
_UPSTREAMS = ("historian", "mqtt-bridge", "auth-gateway", "telemetry-ingest", "postgres",
              "kafka")


def _limit(param: ParamSpec) -> str:
    if param.type == "enum":
        return "/".join(param.choices)
    if param.type == "str":
        return f"a valid {param.entity} name"
    unit = "s" if param.type == "duration" else ""
    return f"[{format_value(param.min or 0)}{unit}, {format_value(param.max or 0)}{unit}]"


def corrupt(param: ParamSpec, value: ParamValue, rng: random.Random) -> ParamValue | None:
    """An invalid value for ``param`` the catalogue dry run rejects, or ``None``."""
    if param.type in ("int", "float") and param.min is not None and param.max is not None:
        span = (param.max - param.min) or 1.0
        high = rng.random() < 0.7
        bad = param.max + span * rng.uniform(0.05, 1.0) if high \
            else param.min - span * rng.uniform(0.05, 1.0)
        if param.type == "int":
            return math.floor(bad) + 1 if high else math.ceil(bad) - 1
        return round(bad, 1)
    if param.type == "enum":
        return rng.choice([c for c in BAD_CHOICES if c not in param.choices])
    if param.type == "duration" and param.max is not None:
        return f"{math.ceil(param.max / 86400) + rng.randint(1, 30)}d"
    text = str(value)
    options = [f"9{text}", f"{text}_"] + ([text.replace("-", "--", 1)] if "-" in text else [])
    return rng.choice(options)


def _is_invalid(command_type: str, name: str, params: Mapping[str, ParamValue]) -> bool:
    problems = validate_parameters(command_type, params)
    return bool(problems) and all(p.split(":", 1)[0] == name for p in problems)


def parameter_corruption(job: Job) -> ErrorEvent | None:
    """Push one parameter to an invalid value: ``invalid_parameter``."""
    base, rng = job.base, job.rng
    spec = base.spec
    names = list(base.params)
    rng.shuffle(names)
    extra = [p.name for p in spec.params if p.name not in base.params]
    rng.shuffle(extra)
    for name in names + extra:
        param = spec.param_index[name]
        phrasing = base.phrasing
        if name not in base.params:
            fits = base.same_fields(frozenset({name}))
            if not fits:
                continue
            phrasing = rng.choice(fits)
        current = base.params.get(name)
        bad = corrupt(param, sample_value(param, rng) if current is None else current, rng)
        if bad is None:
            continue
        params = {**base.params, name: bad}
        if not _is_invalid(spec.name, name, params):
            continue
        text = fill(spec, spec.phrasings[phrasing], params)
        context = {**base.context, "invalid_parameter": name}
        return error_event(job, "invalid_parameter", text=text, params=params, context=context,
                           fill={"param": name, "value": format_value(bad),
                                 "limit": _limit(param)}, template=_MESSAGES.get(param.type))
    return None


def context_modification(job: Job) -> ErrorEvent | None:
    """Change the context so the command cannot run (interlock, role, upstream)."""
    base, rng = job.base, job.rng
    context: dict[str, JsonValue] = dict(base.context)
    kind = rng.choice(TECHNIQUE_ERRORS["context_modification"])
    fill_in: dict[str, str] = {}
    if kind == "interlock_active":
        context["device_mode"] = "maintenance"
        context["interlock"] = rng.choice(("guard_door_open", "lockout_tagout",
                                           "permit_expired"))
    elif kind == "permission_denied":
        required = rng.choice(("operator", "engineer", "admin"))
        context["user_role"] = "viewer"
        context["required_role"] = required
        fill_in["role"] = required
    else:
        checks = rng.randint(3, 12)
        context["upstream"] = {"name": rng.choice(_UPSTREAMS), "healthy": False,
                               "failed_checks": checks}
        fill_in["n"] = str(checks)
    return error_event(job, kind, text=base.text, params=dict(base.params), context=context,
                       fill=fill_in)


def resource_constraints(job: Job) -> ErrorEvent | None:
    """Run out of memory, cpu, disk or workers, or hit a rate limit."""
    base, rng = job.base, job.rng
    figures: dict[str, JsonValue] = {
        "memory_used_pct": round(rng.uniform(35.0, 85.0), 1),
        "cpu_pct": round(rng.uniform(15.0, 85.0), 1),
        "disk_used_pct": round(rng.uniform(30.0, 80.0), 1),
        "memory_free_mb": rng.randint(512, 16384),
        "queued_jobs": rng.randint(0, 20),
    }
    context: dict[str, JsonValue] = {**base.context, "resources": figures}
    if rng.random() < 0.25:
        limit = rng.choice((30, 60, 120, 300))
        context["rate"] = {"requests_per_min": limit + rng.randint(1, limit),
                           "rate_limit_per_min": limit}
        return error_event(job, "rate_limited", text=base.text, params=dict(base.params),
                           context=context, fill={"n": str(limit)})
    resource = rng.choice(("memory", "cpu", "disk", "workers"))
    hot = round(rng.uniform(95.0, 99.9), 1)
    message, n = 2, ""
    if resource == "memory":
        figures["memory_used_pct"], figures["memory_free_mb"] = hot, rng.randint(8, 128)
    elif resource == "cpu":
        figures["cpu_pct"] = hot
    elif resource == "disk":
        figures["disk_used_pct"], message, n = hot, 0, str(int(hot))
    else:
        queued = rng.randint(50, 500)
        figures["queued_jobs"], message, n = queued, 1, str(queued)
    context["exhausted"] = resource
    return error_event(job, "resource_exhausted", text=base.text, params=dict(base.params),
                       context=context, fill={"n": n} if n else {}, message=message)


def timing_issues(job: Job) -> ErrorEvent | None:
    """Time out, or lose a race / act on stale state (``conflict``)."""
    base, rng = job.base, job.rng
    context: dict[str, JsonValue] = dict(base.context)
    if rng.random() < 0.5:
        timeout = rng.choice((5, 10, 30, 60, 120))
        context["timing"] = {"issue": "timeout", "timeout_s": timeout,
                             "elapsed_s": round(timeout + rng.uniform(0.1, timeout), 3)}
        return error_event(job, "timeout", text=base.text, params=dict(base.params),
                           context=context, fill={"n": str(timeout)})
    holder = rng.randint(1000, 99999)
    seen = rng.randint(1, 5000)
    context["timing"] = {"issue": rng.choice(("race", "stale_state")), "lock_holder_job": holder,
                         "state_version_seen": seen,
                         "state_version_current": seen + rng.randint(1, 5)}
    return error_event(job, "conflict", text=base.text, params=dict(base.params),
                       context=context, fill={"n": str(holder)})


def _get(context: Mapping[str, JsonValue], key: str) -> dict[str, JsonValue]:
    value = context.get(key)
    return value if isinstance(value, dict) else {}


def _num(mapping: Mapping[str, JsonValue], key: str) -> float:
    value = mapping.get(key)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) \
        else math.nan


def _invalid_parameter(event: ErrorEvent) -> bool:
    failed = event.failed_command.get("parameters")
    fixed = event.correction.get("parameters")
    if not isinstance(failed, dict) or not isinstance(fixed, dict):
        return False
    changed = {k for k in {*failed, *fixed} if value_text(failed.get(k)) != value_text(
        fixed.get(k))}
    return any(re.search(rf"(?<!\w){re.escape(name)}(?!\w)", event.error_message)
               for name in changed)


def _resources(c: Mapping[str, JsonValue]) -> bool:
    figures = _get(c, "resources")
    has_figures = not math.isnan(_num(figures, "memory_used_pct") + _num(figures, "cpu_pct"))
    hot = max((_num(figures, k) for k in ("memory_used_pct", "cpu_pct", "disk_used_pct")),
              default=math.nan) >= 90.0 or _num(figures, "queued_jobs") >= 50
    return has_figures and hot


_CONTEXT_EVIDENCE: dict[str, Callable[[Mapping[str, JsonValue]], bool]] = {
    "interlock_active": lambda c: c.get("device_mode") == "maintenance" or "interlock" in c,
    "permission_denied": lambda c: "required_role" in c
    and c.get("user_role") != c.get("required_role"),
    "dependency_failed": lambda c: _get(c, "upstream").get("healthy") is False,
    "resource_exhausted": _resources,
    "rate_limited": lambda c: _num(_get(c, "rate"), "requests_per_min")
    >= _num(_get(c, "rate"), "rate_limit_per_min"),
    "timeout": lambda c: _num(_get(c, "timing"), "elapsed_s")
    >= _num(_get(c, "timing"), "timeout_s"),
    "conflict": lambda c: "lock_holder_job" in _get(c, "timing")
    or _num(_get(c, "timing"), "state_version_current")
    > _num(_get(c, "timing"), "state_version_seen"),
}


def evidence_holds(event: ErrorEvent) -> bool:
    """Whether the failed command carries the evidence its error type needs.

    ``invalid_parameter``: the message names a parameter whose value differs
    between the failed command and the correction. The other types: the
    failure context shows the cause (see :data:`TECHNIQUE_ERRORS` and the
    module docstring). Unknown error types have no evidence.
    """
    if event.error_type == "invalid_parameter":
        return _invalid_parameter(event)
    check = _CONTEXT_EVIDENCE.get(event.error_type)
    inner = event.failed_command.get("context")
    return check is not None and isinstance(inner, dict) and check(inner)
