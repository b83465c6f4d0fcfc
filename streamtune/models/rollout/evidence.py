"""What a rollout stage has seen: paired outcomes, unanswered events and latencies.

Every event is scored by both models (one served, one in shadow), and their two
records arrive separately, in any order, possibly twice after a replay.
:class:`PairBuffer` holds the first labelled half of each event until the other
arrives, and remembers finished events so a replayed record is not counted
again. A half still alone ``PAIR_WAIT_S`` after it arrived is an event the
other model failed to score, but only when that model has scored on the same
worker before (a worker that never loaded the candidate in time, or is between
two batches of a hot swap, does not count against it). Both buffers are
bounded (oldest dropped). :class:`StageEvidence` holds the counts of one stage;
a new stage starts a new one. Both round-trip through JSON-ready dicts, so a
restarted trainer resumes mid-stage.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any

CHAMPION, CANDIDATE = 0, 1
SIDES = ("champion", "candidate")
LATENCY_SAMPLES = 5000  # most recent latencies kept per side and stage
PAIR_WAIT_S = 60.0
"""How long one model's answer waits for the other's before the event counts as unscored
by it; a worker publishes both answers of an event with the same batch."""


@dataclass
class StageEvidence:
    """Counts of one stage. ``b``: only the champion right; ``c``: only the candidate right.

    ``fresh`` holds the pairs not yet folded into the sequential test (as ``[b, c, ties]``).
    """

    both_right: int = 0
    b: int = 0
    c: int = 0
    both_wrong: int = 0
    served_right: list[int] = field(default_factory=lambda: [0, 0])
    served_total: list[int] = field(default_factory=lambda: [0, 0])
    unanswered: list[int] = field(default_factory=lambda: [0, 0])
    fresh: list[int] = field(default_factory=lambda: [0, 0, 0])
    latencies: tuple[deque[int], deque[int]] = field(
        default_factory=lambda: (deque(maxlen=LATENCY_SAMPLES), deque(maxlen=LATENCY_SAMPLES)))

    @property
    def paired(self) -> int:
        """Events with a known outcome from both models."""
        return self.both_right + self.b + self.c + self.both_wrong

    def add_pair(self, champion: int, candidate: int) -> None:
        """Count one event's two outcomes (1 right, 0 wrong)."""
        self.add_pairs(both_right=int(bool(champion and candidate)),
                       champion_only=int(bool(champion and not candidate)),
                       candidate_only=int(bool(candidate and not champion)),
                       both_wrong=int(not (champion or candidate)))

    def add_pairs(self, *, both_right: int = 0, champion_only: int = 0, candidate_only: int = 0,
                  both_wrong: int = 0) -> None:
        """Count many events' outcomes at once, by cell of the 2x2 table."""
        self.both_right += both_right
        self.b += champion_only
        self.c += candidate_only
        self.both_wrong += both_wrong
        self.fresh[0] += champion_only
        self.fresh[1] += candidate_only
        self.fresh[2] += both_right + both_wrong

    def take_fresh(self) -> list[int]:
        """The pairs since the last call, ``[b, c, ties]``, for the sequential test."""
        fresh, self.fresh = self.fresh, [0, 0, 0]
        return fresh

    def add_served(self, side: int, correct: int) -> None:
        """Count one labelled answer that was the one used for its event."""
        self.served_total[side] += 1
        self.served_right[side] += correct

    def failure_rate(self, side: int) -> float | None:
        """Share of the stage's events ``side`` left unscored (``None`` before any)."""
        events = self.paired + sum(self.unanswered)
        return self.unanswered[side] / events if events else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready state."""
        return {"both_right": self.both_right, "b": self.b, "c": self.c,
                "both_wrong": self.both_wrong, "served_right": list(self.served_right),
                "served_total": list(self.served_total), "unanswered": list(self.unanswered),
                "fresh": list(self.fresh), "latencies": [list(side) for side in self.latencies]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> StageEvidence:
        """The evidence :meth:`to_dict` wrote."""
        champion, candidate = (deque((int(v) for v in side), maxlen=LATENCY_SAMPLES)
                               for side in d["latencies"])
        lists = {k: [int(v) for v in d[k]]
                 for k in ("served_right", "served_total", "unanswered", "fresh")}
        if any(len(v) != (3 if k == "fresh" else 2) for k, v in lists.items()):
            raise ValueError("per-side counts need one value per side (fresh: three)")
        return cls(int(d["both_right"]), int(d["b"]), int(d["c"]), int(d["both_wrong"]),
                   lists["served_right"], lists["served_total"], lists["unanswered"],
                   lists["fresh"], (champion, candidate))


@dataclass
class _Half:
    outcomes: list[int]  # [champion, candidate], -1 = not yet
    worker: str
    since: float | None  # when it arrived (seconds); None: stamped at the next expiry


class PairBuffer:
    """Matches the two labelled answers of each event; ignores an answer seen before."""

    def __init__(self, limit: int = 20_000) -> None:
        if limit < 1:
            raise ValueError(f"a pair buffer holds at least one event, not {limit}")
        self.limit = limit
        self.pending: OrderedDict[str, _Half] = OrderedDict()
        self.done: OrderedDict[str, None] = OrderedDict()
        self.scoring: tuple[set[str], set[str]] = (set(), set())
        """Workers seen scoring with each side."""

    def add(self, event_id: str, side: int, correct: int, *,
            worker: str = "") -> list[int] | None:
        """One answer: ``None`` if seen before, else ``[champion, candidate]`` (-1 = not yet)."""
        self.scoring[side].add(worker)
        if event_id in self.done:
            return None
        half = self.pending.get(event_id)
        if half is None:
            half = self.pending[event_id] = _Half([-1, -1], worker, None)
            if len(self.pending) > self.limit:
                self.pending.popitem(last=False)
        if half.outcomes[side] >= 0:
            return None
        half.outcomes[side] = correct
        if min(half.outcomes) >= 0:
            del self.pending[event_id]
            self.done[event_id] = None
            if len(self.done) > self.limit:
                self.done.popitem(last=False)
        return half.outcomes

    def expire(self, now_s: float) -> list[int]:
        """Unscored events per side ``[champion, candidate]``: halves alone ``PAIR_WAIT_S``.

        A half arrived since the last call is stamped ``now_s`` (the caller's clock)."""
        missing = [0, 0]
        for event_id, half in list(self.pending.items()):
            if half.since is None:
                half.since = now_s
            elif now_s - half.since >= PAIR_WAIT_S:
                del self.pending[event_id]
                side = CANDIDATE if half.outcomes[CANDIDATE] < 0 else CHAMPION
                if half.worker in self.scoring[side]:
                    missing[side] += 1
        return missing

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready state (insertion order kept; arrival times are not: a restarted
        trainer gives every waiting half a full wait again)."""
        return {"limit": self.limit,
                "pending": [[k, *h.outcomes, h.worker] for k, h in self.pending.items()],
                "done": list(self.done), "scoring": [sorted(s) for s in self.scoring]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PairBuffer:
        """The buffer :meth:`to_dict` wrote."""
        buffer = cls(int(d["limit"]))
        for event_id, champion, candidate, worker in d["pending"]:
            buffer.pending[str(event_id)] = _Half([int(champion), int(candidate)], str(worker),
                                                  None)
        buffer.done.update((str(event_id), None) for event_id in d["done"])
        champion_workers, candidate_workers = d["scoring"]
        buffer.scoring = (set(champion_workers), set(candidate_workers))
        return buffer
