"""The control-system simulator: a seeded, reproducible stream of all eight event kinds.

Examples
--------
>>> from datetime import UTC, datetime
>>> sim = Simulator(7, start=datetime(2026, 1, 1, tzinfo=UTC))
>>> events = list(sim.events(100))
>>> len(events), events[0].kind
(100, 'command')
"""

from __future__ import annotations

import json
import math
import random
from bisect import bisect
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from pathlib import Path
from typing import Any
from uuid import UUID

from streamtune.schemas.commands import (
    COMMANDS,
    CommandSpec,
    ParamSpec,
    ParamValue,
    errors_for,
    fill_template,
    format_value,
    sample_value,
    template_fields,
)
from streamtune.schemas.events import CommandEvent, Event
from streamtune.simulator.followups import (
    build_correction,
    build_error,
    build_feedback,
    build_spans,
    build_trace,
)
from streamtune.simulator.noise import apply_noise, typo
from streamtune.simulator.scenario import (
    BASE_ERROR_RATE,
    FUTURE_COMMANDS,
    NEW_PHRASINGS,
    Scenario,
    shift_template,
    shiftable,
)
from streamtune.simulator.sessions import CommandRecord, Session, SessionPool
from streamtune.simulator.telemetry import Telemetry

KIND_WEIGHTS: dict[str, float] = {
    "command": 55, "error": 12, "feedback": 8, "correction": 5,
    "trace": 10, "metric": 6, "performance": 2, "error_state": 2,
}
"""Relative frequency of each event kind (before any error-rate drift)."""

MEAN_GAP_S = 0.02
"""Mean simulated time between consecutive events (exponential gaps)."""

SESSION_END_P = 1 / 40
EMPTY_PARAMETERS_P = 0.03
_KINDS = tuple(KIND_WEIGHTS)
_CUM = tuple(accumulate(KIND_WEIGHTS.values()))
_HOSTS = {"equipment": ("plc-gw-01", "edge-01", "edge-02"),
          "process": ("plc-gw-01", "edge-01", "edge-02"),
          "deployment": ("app-01", "app-02", "app-03"), "data": ("db-01", "db-02"),
          "security": ("app-01",), "maintenance": ("app-02",),
          "monitoring": ("app-01", "app-02", "app-03", "db-01", "edge-01")}
_BAD_ENUM = ("turbo", "max", "fastest", "auto2", "on")
ALL_COMMANDS: dict[str, CommandSpec] = {**COMMANDS, **FUTURE_COMMANDS}


class Simulator:
    """Seeded generator of control-system events.

    Parameters
    ----------
    seed
        Seeds every random choice; same ``seed`` and ``start`` give the same stream.
    scenario
        Drifts to inject; ``None`` for a stationary stream.
    start
        Time of the stream's start (timezone-aware); ``None`` means now (UTC,
        whole seconds), so rows are not dropped by the store's TTL.
    sessions
        Number of concurrent user sessions.
    """

    def __init__(self, seed: int, *, scenario: Scenario | None = None,
                 start: datetime | None = None, sessions: int = 50) -> None:
        if start is None:
            start = datetime.now(UTC).replace(microsecond=0)
        elif start.tzinfo is None or start.utcoffset() is None:
            raise ValueError("start must be timezone-aware (e.g. datetime(..., tzinfo=UTC))")
        self.seed = seed
        self.scenario = scenario or Scenario()
        self.start = start.astimezone(UTC)
        self._rng = random.Random(seed)  # noqa: S311 - simulation, not cryptography
        self._knob = {name: random.Random(f"{seed}:{name}")  # noqa: S311
                      for name in type(self.scenario).model_fields}
        self._pool = SessionPool(seed, sessions, self._rng)
        self._telemetry = Telemetry(self._rng)
        self._forced = {knob.at for knob in self.scenario.knobs().values()}
        self._index = 0
        self._clock_us = 0
        vocab = self.scenario.vocabulary_shift
        self._shifted: dict[str, str] = {}
        self._cum: dict[float, tuple[float, ...]] = {}
        self._perf_types = list(COMMANDS)
        self._shiftable = [] if vocab is None else [
            name for name, spec in COMMANDS.items()
            if any(shiftable(t, vocab.synonyms) for t in spec.phrasings)]

    @property
    def index(self) -> int:
        """Index of the next event to be generated."""
        return self._index

    def events(self, n: int) -> Iterator[Event]:
        """Generate the next ``n`` events (successive calls continue the stream)."""
        for _ in range(n):
            yield self._next()

    def ground_truth(self) -> list[dict[str, Any]]:
        """Injected changes: ``{"change", "index", "details"}``, ordered by index."""
        return self.scenario.ground_truth()

    def write_ground_truth(self, path: str | Path) -> Path:
        """Write :meth:`ground_truth` as JSON; return the path."""
        target = Path(path)
        target.write_text(json.dumps(self.ground_truth(), indent=2) + "\n", encoding="utf-8")
        return target

    # -- the stream ---------------------------------------------------------------------

    def _next(self) -> Event:
        i = self._index
        self._index += 1
        rng = self._rng
        self._clock_us += 1 + int(rng.expovariate(1.0) * MEAN_GAP_S * 1e6)
        when = self.start + timedelta(microseconds=self._clock_us)
        event_id = UUID(int=rng.getrandbits(128), version=4)
        kind = "command" if i in self._forced else self._kind(i, rng.random())
        if kind == "metric":
            return self._telemetry.metric(event_id, when)
        if kind == "performance":
            pool = self._perf_types
            nc = self.scenario.new_command_type
            if nc is not None and i >= nc.at and len(pool) == len(COMMANDS):
                pool.append(nc.command_type)
            spec = ALL_COMMANDS[pool[int(rng.random() * len(pool))]]
            return self._telemetry.performance(event_id, when, spec, self._time_factor(i))
        if kind == "error_state":
            return self._telemetry.error_state(event_id, when)
        if kind == "command":
            return self._command(i, self._pool.pick(), event_id, when)
        if kind == "error":
            session = self._pool.pick()
            record = (session.pending_errors.popleft() if session.pending_errors
                      else self._compose(i, session, fail=True, logged=False))
            spec = ALL_COMMANDS[record.command_type]
            return build_error(record, spec, session, rng, event_id, when)
        maybe = self._pool.with_history()
        if maybe is None:
            return self._command(i, self._pool.pick(), event_id, when)
        session = maybe
        if kind == "feedback":
            return build_feedback(session, rng, event_id, when)
        if kind == "correction":
            return build_correction(session, rng, event_id, when)
        if not session.pending_spans:
            record = session.untraced.pop() if session.untraced else session.history[-1]
            category = ALL_COMMANDS[record.command_type].category
            session.pending_spans.extend(build_spans(record, category, rng, self._time_factor(i)))
        return build_trace(session, session.pending_spans.popleft(), event_id, when)

    def _kind(self, i: int, draw: float) -> str:
        cum = _CUM
        er = self.scenario.error_rate
        if er is not None and i >= er.at:
            scale = self._error_rate(i) / BASE_ERROR_RATE
            cached = self._cum.get(scale)
            if cached is None:
                weights = (w * scale if k == "error" else w for k, w in KIND_WEIGHTS.items())
                cached = self._cum[scale] = tuple(accumulate(weights))
            cum = cached
        return _KINDS[min(bisect(cum, draw * cum[-1]), len(_KINDS) - 1)]

    def _error_rate(self, i: int) -> float:
        er = self.scenario.error_rate
        if er is None or i < er.at:
            return BASE_ERROR_RATE
        progress = min(1.0, (i - er.at + 1) / (er.ramp + 1))
        return BASE_ERROR_RATE + (er.to - BASE_ERROR_RATE) * progress

    def _time_factor(self, i: int) -> float:
        shift = self.scenario.execution_time_shift
        return shift.factor if shift is not None and i >= shift.at else 1.0

    # -- commands -----------------------------------------------------------------------

    def _choose(self, i: int, session: Session) -> tuple[CommandSpec, str]:
        """Pick the command type and the template the user phrases it with."""
        sc, rng, knob = self.scenario, self._rng, self._knob
        nc, npk, vs = sc.new_command_type, sc.new_phrasings, sc.vocabulary_shift
        spec: CommandSpec | None = None
        if nc is not None and i >= nc.at and (
                i == nc.at or knob["new_command_type"].random() < nc.share):
            spec = FUTURE_COMMANDS[nc.command_type]
        elif npk is not None and i == npk.at:
            spec = COMMANDS[knob["new_phrasings"].choice(sorted(NEW_PHRASINGS))]
        elif vs is not None and i == vs.at:
            spec = COMMANDS[knob["vocabulary_shift"].choice(self._shiftable)]
        else:
            spec = COMMANDS[session.habit.next(session.last_type, rng)]
        if spec.name not in FUTURE_COMMANDS and npk is not None and i >= npk.at \
                and spec.name in NEW_PHRASINGS and (
                    i == npk.at or knob["new_phrasings"].random() < npk.share):
            template = knob["new_phrasings"].choice(NEW_PHRASINGS[spec.name])
        else:  # a future command's phrasings are all new
            candidates = spec.phrasings
            if vs is not None and i == vs.at:
                candidates = tuple(t for t in spec.phrasings
                                   if shiftable(t, vs.synonyms)) or candidates
            template = candidates[int(rng.random() * len(candidates))]
        if vs is not None and i >= vs.at and (
                i == vs.at or knob["vocabulary_shift"].random() < vs.share):
            shifted = self._shifted.get(template)
            if shifted is None:
                shifted = self._shifted[template] = shift_template(template, vs.synonyms)
            template = shifted
        return spec, template

    def _value(self, session: Session, param: ParamSpec) -> ParamValue:
        """A parameter value; names (devices, services) tend to repeat within a session."""
        if param.type != "str":
            return sample_value(param, self._rng)
        key = id(param.examples)
        if key in session.focus and self._rng.random() < 0.5:
            return session.focus[key]
        value = sample_value(param, self._rng)
        session.focus[key] = value
        return value

    def _compose(self, i: int, session: Session, *, fail: bool | None = None,
                 logged: bool = True) -> CommandRecord:
        """Decide what the user types and how it goes; ``fail`` forces the outcome."""
        rng = self._rng
        spec, template = self._choose(i, session)
        params = {name: self._value(session, spec.param_index[name])
                  for name in template_fields(template)}
        p_fail = min(0.95, self._error_rate(i) * spec.failure_weight)
        failed = rng.random() < p_fail if fail is None else fail
        error_type: str | None = None
        detail: dict[str, str] = {}
        if failed:
            errors = errors_for(spec.category)
            error_type = rng.choices([e for e, _ in errors], [w for _, w in errors])[0]
            error_type, detail = self._spoil(spec, params, error_type)
        clean, spans = fill_template(spec, template, params)
        raw, noise = apply_noise(clean, rng)
        hosts = _HOSTS.get(spec.category, ("app-01",))
        seconds = math.exp(math.log(spec.median_seconds) + spec.sigma * rng.gauss())
        seconds *= self._time_factor(i) * (rng.uniform(0.3, 3.0) if failed else 1.0)
        return CommandRecord(
            event_id=_NIL,
            command_type=spec.name, raw_input=raw, clean_input=clean, template=template,
            parameters=params, success=not failed, execution_time=round(min(seconds, 86400.0), 4),
            host=hosts[int(rng.random() * len(hosts))], error_type=error_type,
            detail=detail | ({"noise": noise} if noise else {}), logged=logged, spans=spans,
        )

    def _spoil(self, spec: CommandSpec, params: dict[str, ParamValue],
               error_type: str) -> tuple[str, dict[str, str]]:
        """Make the parameters fit the error (out of range, misspelled); edits ``params``."""
        rng = self._rng
        if error_type == "invalid_parameter":
            for name in params:
                param = spec.param_index[name]
                if param.type in ("int", "float") and param.min is not None \
                        and param.max is not None:
                    span = (param.max - param.min) or 1.0
                    high = rng.random() < 0.7
                    bad = param.max + span * rng.uniform(0.05, 1.0) if high \
                        else param.min - span * rng.uniform(0.05, 1.0)
                    fixed = param.max if high else param.min
                    params[name] = int(bad) if param.type == "int" else round(bad, 1)
                    return error_type, {"param": name, "value": str(params[name]),
                                        "limit": f"[{param.min:g}, {param.max:g}]",
                                        "fixed": format_value(fixed)}
                if param.type == "enum":
                    original = str(params[name])
                    params[name] = rng.choice(_BAD_ENUM)
                    return error_type, {"param": name, "value": str(params[name]),
                                        "limit": "/".join(param.choices), "fixed": original}
            return "timeout", {}
        if error_type == "unknown_target":
            for name, value in params.items():
                if spec.param_index[name].type == "str" and isinstance(value, str):
                    wrong = typo(value, rng)
                    if wrong != value:
                        params[name] = wrong
                        return error_type, {"target": wrong, "value": value,
                                            "original": value, "original_param": name}
            return "timeout", {}
        return error_type, {}

    def _command(self, i: int, session: Session, event_id: UUID, when: datetime) -> CommandEvent:
        rng = self._rng
        previous = session.last_type
        record = self._compose(i, session)
        record.event_id = event_id
        noise = record.detail.pop("noise", None)
        spec = ALL_COMMANDS[record.command_type]
        spans_ok = noise in (None, "casing", "long") and rng.random() < 0.6
        spans = record.spans if spans_ok else []
        raw = record.raw_input
        boundaries = [{"name": n, "start": a, "end": b, "value": raw[a:b]} for n, a, b in spans]
        tags = [{"label": spec.param_index[n].entity, "start": a, "end": b, "text": raw[a:b]}
                for n, a, b in spans] if rng.random() < 0.5 else []
        event = CommandEvent(
            event_id=event_id, event_time=when, source=session.source,
            session_id=session.session_id, raw_input=raw,
            normalized_input=record.clean_input if rng.random() < 0.9 else None,
            command_type=spec.name,
            parameters={} if rng.random() < EMPTY_PARAMETERS_P else dict(record.parameters),
            context={"user_id": session.user_id, "site": session.site, "host": record.host,
                     "previous_command": previous, "history_length": len(session.history),
                     "shift": "day" if 6 <= when.hour < 18 else "night"},
            success=record.success, execution_time=record.execution_time,
            intent_labels=[spec.category, spec.name] if rng.random() < 0.5 else None,
            parameter_boundaries=boundaries or None, entity_tags=tags or None,
            complexity_score=round(min(1.0, 0.1 + 0.15 * len(record.parameters)
                                       + len(record.clean_input) / 300), 3),
        )
        session.remember(record, noisy=noise in ("typo", "unicode"))
        if rng.random() < SESSION_END_P:
            self._pool.end(session)
        return event


_NIL = UUID(int=0)


def to_jsonl(events: Iterable[Event]) -> Iterator[str]:
    """Serialise events as JSON lines (each ends with ``"\\n"``)."""
    for event in events:
        yield event.model_dump_json() + "\n"
