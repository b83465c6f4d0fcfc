"""Tell replays and reused ids from new events, by ``event_id`` within a horizon.

Kept in memory per worker: events of one session share a partition, so a
producer's resend reaches the worker that saw the original. A restarted
worker starts empty; the store's ``event_id`` identity still folds any
replay that slips through.

An id seen again with the same bytes is a replay; with other bytes it is a
conflict (an id reused for a different event), which the batch dead-letters.

Memory: a worker remembers up to ``pipeline.dedup_max_ids`` ids (a million by
default, reached within the hour's horizon above ~280 events/s), so they are kept
in numpy arrays, 32 bytes an id (``benchmarks/memory.py``; a dict of Python ints
took ~120): the id's 16 bytes, its content digest and when it was seen. A batch's
new ids form a run sorted by id; runs of similar size are merged (up to an eighth of
the bound), so a batch is looked up with one binary search per run, and the oldest
runs are dropped whole once past the horizon or the bound.

Examples
--------
>>> seen = RecentIds(horizon_s=60, max_ids=10)
>>> [s.name for s in seen.see([b"a" * 16, b"b" * 16], [1, 1], now=0.0)]
['NEW', 'NEW']
>>> [s.name for s in seen.see([b"a" * 16, b"a" * 16, b"b" * 16], [1, 2, 1], now=90.0)]
['NEW', 'CONFLICT', 'NEW']
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


class Seen(enum.Enum):
    """What an id with its content is, against the ids seen within the horizon."""

    NEW = "new"
    REPLAY = "replay"
    CONFLICT = "conflict"


_MIX = np.uint64(0x9E3779B97F4A7C15)
"""Odd, so ``hi ^ lo * _MIX`` (mod 2**64) with ``lo`` gives back ``hi``: ids that share
their first half (counters, hand-made ids) still get distinct search keys."""


def _keys(ids: Sequence[bytes]) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64]]:
    """Search keys and second halves of 16-byte ids; together they are the id."""
    halves = np.frombuffer(b"".join(ids), dtype=">u8").reshape(-1, 2).astype(np.uint64)
    low = halves[:, 1]
    return halves[:, 0] ^ (low * _MIX), low


@dataclass(frozen=True, slots=True)
class _Run:
    """Ids (as search key and second half) sorted by key, with their content digests and
    when they were seen (ms). An id seen again past the horizon may be in a run twice: its
    entries keep their order, the newest last."""

    keys: npt.NDArray[np.uint64]
    lows: npt.NDArray[np.uint64]
    digests: npt.NDArray[np.int64]
    seen_ms: npt.NDArray[np.int64]

    def __len__(self) -> int:
        return len(self.keys)

    def taken(self, index: npt.NDArray[np.intp] | npt.NDArray[np.bool_]) -> _Run:
        return _Run(self.keys[index], self.lows[index], self.digests[index],
                    self.seen_ms[index])


def _merged(older: _Run, newer: _Run) -> _Run:
    """One run of both (a stable sort of two sorted runs: a linear merge)."""
    both = _Run(*(np.concatenate((a, b)) for a, b in zip(
        (older.keys, older.lows, older.digests, older.seen_ms),
        (newer.keys, newer.lows, newer.digests, newer.seen_ms), strict=True)))
    return both.taken(np.argsort(both.keys, kind="stable"))


class RecentIds:
    """Remembers ids and a digest of their content for ``horizon_s`` seconds, at most
    ``max_ids`` of them (oldest go first; an eighth more may wait for the next trim).
    ``now`` must not go back (a monotonic clock)."""

    def __init__(self, *, horizon_s: float, max_ids: int) -> None:
        self.horizon_s = horizon_s
        self.max_ids = max_ids
        self._horizon_ms = round(horizon_s * 1000)
        self._runs: list[_Run] = []
        """Oldest first; every id of a run was seen no later than those of the next."""
        self._largest_run = max(max_ids // 8, 1)

    def __len__(self) -> int:
        return sum(map(len, self._runs))

    def forget(self, ids: Sequence[bytes]) -> None:
        """Forget ``ids`` (16 bytes each), every entry of them: those of a batch that was
        not committed, so that its replay counts them as new again."""
        if not ids or not self._runs:
            return
        keys, lows = _keys(ids)
        wanted = set(zip(keys.tolist(), lows.tolist(), strict=True))
        runs = []
        for run in self._runs:
            candidates = np.flatnonzero(np.isin(run.keys, keys)).tolist()
            if candidates:
                keep = np.ones(len(run), dtype=bool)
                for i in candidates:
                    keep[i] = (int(run.keys[i]), int(run.lows[i])) not in wanted
                run = run.taken(keep)
            if len(run):
                runs.append(run)
        self._runs = runs

    def see(self, ids: Sequence[bytes], digests: Sequence[int], *,
            now: float) -> list[Seen]:
        """Classify each id (16 bytes) with its content digest (a 64-bit ``hash``), in
        order: an id twice in ``ids`` is judged against its first. New ones are remembered."""
        when = int(now * 1000)
        self._forget_expired(when)
        found = self._lookup(ids, when)
        out: list[Seen] = []
        new: dict[bytes, int] = {}
        for event_id, digest in zip(ids, digests, strict=True):
            first = found.get(event_id)
            if first is None:
                first = new.get(event_id)
                if first is None:
                    new[event_id] = digest
                    out.append(Seen.NEW)
                    continue
            out.append(Seen.REPLAY if first == digest else Seen.CONFLICT)
        if new:
            self._remember(new, when)
        return out

    def _lookup(self, ids: Sequence[bytes], when: int) -> dict[bytes, int]:
        """The digests of ``ids`` seen within the horizon (their latest entries)."""
        if not self._runs or not ids:
            return {}
        keys, lows = _keys(ids)
        order = np.argsort(keys)  # sorted needles: each search starts where the last ended
        keys, lows = keys[order], lows[order]
        open_ = np.ones(len(keys), dtype=bool)
        found: dict[bytes, int] = {}
        for run in reversed(self._runs):  # newest first: an id's latest entry wins
            left = np.searchsorted(run.keys, keys, "left")
            same = np.flatnonzero(open_ & (left < len(run)))
            same = same[run.keys[left[same]] == keys[same]]
            if not len(same):
                continue
            stop = np.searchsorted(run.keys, keys[same], "right")
            alone = stop - left[same] == 1  # the key once in the run: the common case
            at = np.full(len(same), -1)
            first = left[same[alone]]
            at[alone] = np.where(run.lows[first] == lows[same[alone]], first, -1)
            for k in np.flatnonzero(~alone).tolist():  # a key shared: scan its entries
                i, start = same[k], int(left[same[k]])
                match = np.flatnonzero(run.lows[start:int(stop[k])] == lows[i])
                if len(match):
                    at[k] = start + int(match[-1])  # the newest of the id's entries
            hit, at = same[at >= 0], at[at >= 0]
            open_[hit] = False
            fresh = when - run.seen_ms[at] <= self._horizon_ms
            found.update(zip((ids[i] for i in order[hit[fresh]].tolist()),
                             run.digests[at[fresh]].tolist(), strict=True))
        return found

    def _remember(self, new: dict[bytes, int], when: int) -> None:
        keys, lows = _keys(list(new))
        digests = np.fromiter(new.values(), dtype=np.int64, count=len(new))
        run = _Run(keys, lows, digests, np.full(len(new), when, dtype=np.int64))
        runs = self._runs
        runs.append(run.taken(np.argsort(keys, kind="stable")))
        while (len(runs) > 1 and len(runs[-2]) <= 2 * len(runs[-1])
               and len(runs[-2]) + len(runs[-1]) <= self._largest_run):
            newer = runs.pop()
            runs[-1] = _merged(runs[-1], newer)
        held = len(self)
        if held > self.max_ids + self.max_ids // 8:
            self._forget_oldest(held - self.max_ids)

    def _forget_expired(self, when: int) -> None:
        """Drop entries past the horizon: whole runs, and the oldest run's once an eighth
        of the horizon more has passed."""
        oldest_ms = when - self._horizon_ms
        runs = self._runs
        while runs and runs[0].seen_ms.max() < oldest_ms:
            runs.pop(0)
        if runs and runs[0].seen_ms.min() < oldest_ms - self._horizon_ms // 8:
            self._keep_of_oldest(runs[0].seen_ms >= oldest_ms)

    def _forget_oldest(self, excess: int) -> None:
        """Drop at least ``excess`` of the oldest entries (all those seen at the same
        time as the last of them go too)."""
        runs = self._runs
        while runs and len(runs[0]) <= excess:
            excess -= len(runs.pop(0))
        if runs and excess > 0:
            cut = np.partition(runs[0].seen_ms, excess - 1)[excess - 1]
            self._keep_of_oldest(runs[0].seen_ms > cut)

    def _keep_of_oldest(self, keep: npt.NDArray[np.bool_]) -> None:
        kept = self._runs[0].taken(keep)
        if len(kept):
            self._runs[0] = kept
        else:
            self._runs.pop(0)
