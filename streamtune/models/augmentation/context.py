"""Context augmentation: the same command in another situation (rows are command events).

The command text and parameters stay those of the parent; the context gains:

* ``state_variation``: ``device_state`` (an operable state, health, temperature, uptime);
* ``history_modification``: ``history`` (1-5 earlier commands rendered from the
  catalogue), ``previous_command`` and ``history_length`` to match;
* ``preference_alteration``: ``preferences`` (units, confirmation, verbosity,
  language, notifications);
* ``load_simulation``: ``system_load`` (cpu, memory, queue depth, load factor)
  and an ``execution_time`` scaled by the load factor.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from pydantic import JsonValue

from streamtune.models.augmentation.build import command_event
from streamtune.models.augmentation.rows import Job
from streamtune.schemas.commands import COMMANDS, render, sample_parameters
from streamtune.schemas.events import CommandEvent

OPERABLE_STATES = ("running", "idle", "standby", "warming_up", "cooling_down")
"""Device states in which a command can run (context rows must stay executable)."""

PREFERENCE_KEYS = frozenset({"units", "confirm_before_execute", "verbosity", "language",
                             "notify_on_completion"})
_COMMAND_LIST = tuple(COMMANDS.values())


def _target(job: Job) -> str:
    return next((str(v) for v in job.base.params.values() if isinstance(v, str)),
                job.base.spec.name)


def state_variation(job: Job) -> CommandEvent | None:
    """Put the target in another (operable) state."""
    rng = job.rng
    context: dict[str, JsonValue] = dict(job.base.context)
    context["device_state"] = {
        "target": _target(job), "state": rng.choice(OPERABLE_STATES),
        "health": rng.choice(("ok", "ok", "ok", "degraded")),
        "temperature_c": round(rng.uniform(12.0, 85.0), 1),
        "uptime_h": round(rng.expovariate(1 / 500.0), 1),
        "last_maintenance_days": rng.randint(0, 365),
    }
    return command_event(job, job.base.text, dict(job.base.params), context=context)


def history_modification(job: Job) -> CommandEvent | None:
    """Give the command another session history (earlier commands in context)."""
    rng = job.rng
    history: list[JsonValue] = []
    for _ in range(rng.randint(1, 5)):
        spec = rng.choice(_COMMAND_LIST)
        index = rng.randrange(len(spec.phrasings))
        history.append({"command_type": spec.name,
                        "raw_input": render(spec, sample_parameters(spec, index, rng), index),
                        "success": rng.random() < 0.9})
    context: dict[str, JsonValue] = dict(job.base.context)
    last = history[-1]
    context["history"] = history
    context["previous_command"] = last["command_type"] if isinstance(last, dict) else None
    context["history_length"] = len(history) + rng.randint(0, 20)
    return command_event(job, job.base.text, dict(job.base.params), context=context)


def preference_alteration(job: Job) -> CommandEvent | None:
    """Give the user other preferences."""
    rng = job.rng
    context: dict[str, JsonValue] = dict(job.base.context)
    context["preferences"] = {
        "units": rng.choice(("metric", "imperial")),
        "confirm_before_execute": rng.random() < 0.3,
        "verbosity": rng.choice(("terse", "normal", "verbose")),
        "language": rng.choice(("en", "de", "fr", "es", "pl", "zh")),
        "notify_on_completion": rng.random() < 0.5,
    }
    return command_event(job, job.base.text, dict(job.base.params), context=context)


def load_simulation(job: Job) -> CommandEvent | None:
    """Run the command under another system load; execution time scales with it."""
    rng, parent = job.rng, job.base.parent
    if not isinstance(parent, CommandEvent):
        return None
    load = rng.uniform(0.05, 0.98)
    factor = round(1.0 + 2.0 * load**2, 3)
    context: dict[str, JsonValue] = dict(job.base.context)
    context["system_load"] = {
        "cpu_pct": round(min(100.0, 100.0 * load * rng.uniform(0.85, 1.0)), 1),
        "memory_pct": round(min(100.0, 30.0 + 70.0 * load * rng.uniform(0.7, 1.0)), 1),
        "queue_depth": int(load * rng.randint(50, 400)),
        "load_factor": factor,
    }
    seconds = round(min(86_400.0, parent.execution_time * factor), 4)
    return command_event(job, job.base.text, dict(job.base.params), context=context,
                         execution_time=seconds)


def _obj(context: Mapping[str, JsonValue], key: str) -> dict[str, JsonValue]:
    value = context.get(key)
    return value if isinstance(value, dict) else {}


def _pct(mapping: Mapping[str, JsonValue], key: str) -> bool:
    value = mapping.get(key)
    return isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 100


def _history_ok(context: Mapping[str, JsonValue]) -> bool:
    history = context.get("history")
    if not isinstance(history, list) or not history:
        return False
    items = [h for h in history if isinstance(h, dict) and h.get("command_type") in COMMANDS]
    length = context.get("history_length")
    return (len(items) == len(history) and context.get("previous_command")
            == items[-1]["command_type"] and isinstance(length, int)
            and length >= len(history))


def _load_ok(context: Mapping[str, JsonValue]) -> bool:
    load = _obj(context, "system_load")
    factor, depth = load.get("load_factor"), load.get("queue_depth")
    return (_pct(load, "cpu_pct") and _pct(load, "memory_pct")
            and isinstance(factor, int | float) and factor >= 1.0
            and isinstance(depth, int) and depth >= 0)


CONTEXT_EVIDENCE: dict[str, Callable[[Mapping[str, JsonValue]], bool]] = {
    "state_variation": lambda c: _obj(c, "device_state").get("state") in OPERABLE_STATES,
    "history_modification": _history_ok,
    "preference_alteration": lambda c: bool(p := _obj(c, "preferences"))
    and set(p) <= PREFERENCE_KEYS,
    "load_simulation": _load_ok,
}
"""What a context row's context must show for its technique (semantic gate)."""
