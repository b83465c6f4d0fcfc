"""Users, their habits and their sessions.

A user's habit is a Markov chain over command types: a mix of plant-wide
workflows (after ``stop_pump`` comes ``close_valve`` or ``schedule_maintenance``),
the user's own favourite commands, and a little noise. The next command type
of a session is therefore partly predictable from its history.
"""

from __future__ import annotations

import random
from bisect import bisect
from collections import deque
from dataclasses import dataclass, field
from itertools import accumulate
from uuid import UUID

from streamtune.schemas.commands import COMMANDS, ParamValue

WORKFLOWS: dict[str, dict[str, float]] = {
    "query_status": {"restart_device": 2, "run_diagnostic": 2, "acknowledge_alarm": 1,
                     "set_mode": 1},
    "restart_device": {"query_status": 4, "run_diagnostic": 1},
    "acknowledge_alarm": {"query_status": 2, "run_diagnostic": 2, "restart_device": 1},
    "run_diagnostic": {"calibrate_sensor": 2, "schedule_maintenance": 2, "restart_device": 1},
    "stop_pump": {"schedule_maintenance": 2, "close_valve": 2, "start_pump": 1},
    "start_pump": {"open_valve": 2, "query_status": 2, "set_speed": 1},
    "open_valve": {"query_status": 2, "start_pump": 1, "set_threshold": 1},
    "close_valve": {"stop_pump": 2, "open_valve": 1},
    "set_speed": {"query_status": 2, "set_speed": 1},
    "set_temperature": {"query_status": 2, "set_threshold": 2},
    "set_threshold": {"acknowledge_alarm": 1, "query_status": 1},
    "set_mode": {"set_speed": 1, "set_temperature": 1, "query_status": 1},
    "move_arm": {"move_arm": 3, "calibrate_sensor": 1},
    "calibrate_sensor": {"run_diagnostic": 1, "query_status": 1},
    "emergency_stop": {"acknowledge_alarm": 3, "run_diagnostic": 2},
    "schedule_maintenance": {"set_mode": 2, "export_report": 1},
    "deploy_config": {"query_status": 3, "rollback_config": 1, "scale_service": 1},
    "rollback_config": {"query_status": 2, "deploy_config": 1},
    "scale_service": {"query_status": 2, "scale_service": 1},
    "clear_queue": {"scale_service": 1, "query_status": 1},
    "backup_database": {"rotate_logs": 2, "export_report": 1},
    "rotate_logs": {"backup_database": 1, "clear_queue": 1},
    "export_report": {"export_report": 1, "query_status": 1},
    "grant_access": {"revoke_access": 1, "export_report": 1},
    "revoke_access": {"grant_access": 1},
}
"""Plant-wide likely successors of each command type, with relative weights."""

SOURCES = ("console", "hmi_panel", "mobile_app", "api", "chatops")
_SOURCE_WEIGHTS = tuple(accumulate((4, 3, 1, 2, 1)))
SITES = ("plant-north", "plant-south", "datacenter-1")
COMMAND_TYPES: tuple[str, ...] = tuple(COMMANDS)


class Habit:
    """A user's Markov chain over the catalogue's command types."""

    __slots__ = ("rows",)

    def __init__(self, rng: random.Random) -> None:
        count = len(COMMAND_TYPES)
        raw = [rng.expovariate(1.0) ** 3 for _ in COMMAND_TYPES]
        total = sum(raw)
        pref = [w / total for w in raw]
        self.rows: dict[str | None, list[float]] = {
            None: list(accumulate(0.7 * p + 0.3 / count for p in pref))
        }
        for previous in COMMAND_TYPES:
            flow = WORKFLOWS.get(previous, {})
            flow_total = sum(flow.values()) or 1.0
            weights = (0.6 * flow.get(t, 0.0) / flow_total + 0.3 * p + 0.1 / count
                       for t, p in zip(COMMAND_TYPES, pref, strict=True))
            self.rows[previous] = list(accumulate(weights))

    def next(self, previous: str | None, rng: random.Random) -> str:
        """Draw the command type that follows ``previous`` (``None``: session start)."""
        row = self.rows.get(previous) or self.rows[None]
        return COMMAND_TYPES[min(bisect(row, rng.random() * row[-1]), len(row) - 1)]


@dataclass(slots=True)
class CommandRecord:
    """What a session remembers about one of its commands."""

    event_id: UUID
    command_type: str
    raw_input: str
    clean_input: str
    template: str
    parameters: dict[str, ParamValue]
    success: bool
    execution_time: float
    host: str
    error_type: str | None = None
    detail: dict[str, str] = field(default_factory=dict)
    logged: bool = True
    spans: list[tuple[str, int, int]] = field(default_factory=list)


@dataclass(slots=True, eq=False)
class Session:
    """One user's session: identity, habit, history and the follow-ups it owes."""

    session_id: str
    user_id: str
    source: str
    site: str
    habit: Habit
    history: deque[CommandRecord] = field(default_factory=lambda: deque(maxlen=20))
    pending_errors: deque[CommandRecord] = field(default_factory=lambda: deque(maxlen=8))
    untraced: deque[CommandRecord] = field(default_factory=lambda: deque(maxlen=6))
    noisy: deque[CommandRecord] = field(default_factory=lambda: deque(maxlen=6))
    pending_spans: deque[dict[str, object]] = field(default_factory=deque)
    focus: dict[int, ParamValue] = field(default_factory=dict)
    last_type: str | None = None

    def remember(self, record: CommandRecord, *, noisy: bool) -> None:
        """Record a command the session issued (and the follow-ups it will get)."""
        self.history.append(record)
        self.untraced.append(record)
        if noisy:
            self.noisy.append(record)
        if not record.success:
            self.pending_errors.append(record)
        self.last_type = record.command_type


class SessionPool:
    """A fixed number of concurrent sessions; ended sessions are replaced by new ones."""

    def __init__(self, seed: int, size: int, rng: random.Random) -> None:
        if size < 1:
            raise ValueError("sessions must be at least 1")
        self._seed = seed
        self._rng = rng
        self._users = max(10, 2 * size)
        self._habits: dict[int, Habit] = {}
        self.sessions = [self._new() for _ in range(size)]

    def _habit(self, user: int) -> Habit:
        habit = self._habits.get(user)
        if habit is None:
            habit = Habit(random.Random(f"{self._seed}:user:{user}"))  # noqa: S311
            self._habits[user] = habit
        return habit

    def _new(self) -> Session:
        rng = self._rng
        user = rng.randrange(self._users)
        return Session(
            session_id=f"s-{rng.getrandbits(48):012x}",
            user_id=f"user-{user:03d}",
            source=rng.choices(SOURCES, cum_weights=_SOURCE_WEIGHTS)[0],
            site=SITES[user % len(SITES)],
            habit=self._habit(user),
        )

    def pick(self) -> Session:
        """A random active session."""
        return self.sessions[int(self._rng.random() * len(self.sessions))]

    def end(self, session: Session) -> None:
        """Replace ``session`` by a fresh one of a (possibly) different user."""
        index = self.sessions.index(session)
        self.sessions[index] = self._new()

    def with_history(self) -> Session | None:
        """Some session that has issued a command, if any."""
        for _ in range(4):
            session = self.pick()
            if session.history:
                return session
        return next((s for s in self.sessions if s.history), None)
