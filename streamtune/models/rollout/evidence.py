"""What a rollout stage has seen: paired outcomes, served-group outcomes and latencies.

Every event is scored by both models (one served, one in shadow), and their two
records arrive separately, in any order, possibly twice after a replay.
:class:`PairBuffer` holds the first labelled half of each event until the other
arrives, and remembers finished events so a replayed record is not counted
again; both are bounded (oldest dropped). :class:`StageEvidence` holds the
counts of one stage; a new stage starts a new one. Both round-trip through
JSON-ready dicts, so a restarted trainer resumes mid-stage.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any

CHAMPION, CANDIDATE = 0, 1
SIDES = ("champion", "candidate")
LATENCY_SAMPLES = 5000  # most recent latencies kept per side and stage


@dataclass
class StageEvidence:
    """Counts of one stage. ``b``: only the champion right; ``c``: only the candidate right."""

    both_right: int = 0
    b: int = 0
    c: int = 0
    both_wrong: int = 0
    served_right: list[int] = field(default_factory=lambda: [0, 0])
    served_total: list[int] = field(default_factory=lambda: [0, 0])
    early_look: int = 50  # smaller served group size at which the early stop looks next
    latencies: tuple[deque[int], deque[int]] = field(
        default_factory=lambda: (deque(maxlen=LATENCY_SAMPLES), deque(maxlen=LATENCY_SAMPLES)))

    @property
    def paired(self) -> int:
        """Events with a known outcome from both models."""
        return self.both_right + self.b + self.c + self.both_wrong

    def add_pair(self, champion: int, candidate: int) -> None:
        """Count one event's two outcomes (1 right, 0 wrong)."""
        if champion and candidate:
            self.both_right += 1
        elif champion:
            self.b += 1
        elif candidate:
            self.c += 1
        else:
            self.both_wrong += 1

    def add_served(self, side: int, correct: int) -> None:
        """Count one labelled answer that was the one used for its event."""
        self.served_total[side] += 1
        self.served_right[side] += correct

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready state."""
        return {"both_right": self.both_right, "b": self.b, "c": self.c,
                "both_wrong": self.both_wrong, "served_right": list(self.served_right),
                "served_total": list(self.served_total), "early_look": self.early_look,
                "latencies": [list(side) for side in self.latencies]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> StageEvidence:
        """The evidence :meth:`to_dict` wrote."""
        champion, candidate = (deque((int(v) for v in side), maxlen=LATENCY_SAMPLES)
                               for side in d["latencies"])
        evidence = cls(int(d["both_right"]), int(d["b"]), int(d["c"]), int(d["both_wrong"]),
                       [int(v) for v in d["served_right"]], [int(v) for v in d["served_total"]],
                       int(d["early_look"]), (champion, candidate))
        if len(evidence.served_right) != 2 or len(evidence.served_total) != 2:
            raise ValueError("served counts need one value per side")
        return evidence


class PairBuffer:
    """Matches the two labelled answers of each event; ignores an answer seen before."""

    def __init__(self, limit: int = 10_000) -> None:
        if limit < 1:
            raise ValueError(f"a pair buffer holds at least one event, not {limit}")
        self.limit = limit
        self.pending: OrderedDict[str, list[int]] = OrderedDict()
        self.done: OrderedDict[str, None] = OrderedDict()

    def add(self, event_id: str, side: int, correct: int) -> list[int] | None:
        """One answer: ``None`` if seen before, else ``[champion, candidate]`` (-1 = not yet)."""
        if event_id in self.done:
            return None
        halves = self.pending.get(event_id)
        if halves is None:
            halves = self.pending[event_id] = [-1, -1]
            if len(self.pending) > self.limit:
                self.pending.popitem(last=False)
        if halves[side] >= 0:
            return None
        halves[side] = correct
        if min(halves) >= 0:
            del self.pending[event_id]
            self.done[event_id] = None
            if len(self.done) > self.limit:
                self.done.popitem(last=False)
        return halves

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready state (insertion order kept)."""
        return {"limit": self.limit, "pending": [[k, *v] for k, v in self.pending.items()],
                "done": list(self.done)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PairBuffer:
        """The buffer :meth:`to_dict` wrote."""
        buffer = cls(int(d["limit"]))
        for event_id, champion, candidate in d["pending"]:
            buffer.pending[str(event_id)] = [int(champion), int(candidate)]
        buffer.done.update((str(event_id), None) for event_id in d["done"])
        return buffer
