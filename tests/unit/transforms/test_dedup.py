"""De-duplication by event id within a horizon and a bound (``transforms/dedup.py``)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamtune.transforms.dedup import _MIX, RecentIds, Seen


def _ids(names: str) -> list[bytes]:
    return [name.encode() * 16 for name in names]


def test_recent_ids_forget_after_the_horizon_and_past_the_cap() -> None:
    seen = RecentIds(horizon_s=10, max_ids=3)
    assert seen.see(_ids("a"), [1], now=0) == [Seen.NEW]
    assert seen.see(_ids("a"), [1], now=5) == [Seen.REPLAY]
    assert seen.see(_ids("a"), [1], now=16) == [Seen.NEW]  # horizon passed
    for name in "bcd":
        assert seen.see(_ids(name), [1], now=17) == [Seen.NEW]
    assert len(seen) == 3 and seen.see(_ids("a"), [1], now=18) == [Seen.NEW]  # past the cap


def test_recent_ids_tell_a_reused_id_from_a_replay() -> None:
    seen = RecentIds(horizon_s=10, max_ids=3)
    assert seen.see(_ids("a"), [1], now=0) == [Seen.NEW]
    assert seen.see(_ids("aa"), [2, 1], now=1) == [Seen.CONFLICT, Seen.REPLAY]  # the first
    # content stays the reference; within a batch too
    assert seen.see(_ids("bbb"), [1, 1, 2], now=2) == [Seen.NEW, Seen.REPLAY, Seen.CONFLICT]


class _Reference:
    """What RecentIds must answer, one id at a time in a dict (no bound on memory)."""

    def __init__(self, horizon_s: float) -> None:
        self.horizon_ms = round(horizon_s * 1000)
        self.seen: dict[bytes, tuple[int, int]] = {}

    def see(self, ids: list[bytes], digests: list[int], now: float) -> list[Seen]:
        when, out = int(now * 1000), []
        for event_id, digest in zip(ids, digests, strict=True):
            first = self.seen.get(event_id)
            if first is not None and when - first[0] <= self.horizon_ms:
                out.append(Seen.REPLAY if first[1] == digest else Seen.CONFLICT)
            else:
                self.seen.pop(event_id, None)  # re-remembered as the newest
                self.seen[event_id] = (when, digest)
                out.append(Seen.NEW)
        return out


def _counter_id(n: int) -> bytes:
    return n.to_bytes(16, "big")  # hand-made ids: the first half all zero


def _same_key_id(n: int) -> bytes:
    """Ids whose first half is chosen so that all share one search key (an adversary's)."""
    return ((n * int(_MIX) % 2**64) << 64 | n).to_bytes(16, "big")


@pytest.mark.parametrize("make_id", [_counter_id, _same_key_id])
@given(batches=st.lists(st.lists(st.tuples(st.integers(0, 40), st.integers(0, 2)),
                                 max_size=30), max_size=60),
       step_s=st.integers(1, 12))
@settings(max_examples=200, deadline=None)
def test_recent_ids_answer_as_a_dict_of_every_id_would_within_the_bound(
        make_id: Callable[[int], bytes], batches: list[list[tuple[int, int]]],
        step_s: int) -> None:
    # ids from a small pool so replays, conflicts and re-seen expired ids are common;
    # the bound is never reached, so nothing is forgotten early
    seen, reference = RecentIds(horizon_s=30, max_ids=10_000), _Reference(30)
    for i, batch in enumerate(batches):
        ids = [make_id(n) for n, _ in batch]
        digests = [-(d << 62) for _, d in batch]  # negative digests too (hash() gives them)
        assert seen.see(ids, digests, now=i * step_s) == reference.see(ids, digests,
                                                                          i * step_s)


def test_recent_ids_past_the_bound_keep_the_newest_and_at_most_an_eighth_more() -> None:
    seen = RecentIds(horizon_s=3600, max_ids=8000)
    batches = [[(b * 1000 + i).to_bytes(16, "big") for i in range(1000)] for b in range(30)]
    for b, ids in enumerate(batches):
        assert seen.see(ids, [7] * len(ids), now=float(b)) == [Seen.NEW] * len(ids)
        assert len(seen) <= 9000
    assert len(seen) >= 8000 - 1000  # at most a batch early (equal times go together)
    newest = [i for ids in batches[-7:] for i in ids]
    assert seen.see(newest, [7] * len(newest), now=31.0) == [Seen.REPLAY] * len(newest)
    assert seen.see(batches[0][:5], [7] * 5, now=31.0) == [Seen.NEW] * 5


def test_an_id_seen_again_past_the_horizon_is_judged_against_its_newest_entry() -> None:
    # a bound of 24 keeps runs of at most 3 ids, so the expired entry and the new one
    # live side by side (in two runs, then in one merged run)
    a, b, c = _ids("abc")
    apart = RecentIds(horizon_s=10, max_ids=24)
    apart.see([a], [1], now=0)
    apart.see([b, c], [1, 1], now=5)
    assert apart.see([a], [2], now=10.5) == [Seen.NEW]  # expired: new content is fine
    assert apart.see([a], [2], now=11) == [Seen.REPLAY]
    merged = RecentIds(horizon_s=10, max_ids=24)
    merged.see([a], [1], now=0)
    merged.see([b], [1], now=5)
    assert merged.see([a], [2], now=10.5) == [Seen.NEW]
    assert merged.see([a], [2], now=11) == [Seen.REPLAY]


@pytest.mark.parametrize("make_id", [_counter_id, _same_key_id])
def test_forgotten_ids_are_new_again_and_every_other_id_is_kept(
        make_id: Callable[[int], bytes]) -> None:
    """What a batch that was not committed forgets: its ids, in whichever run they are,
    and none of the ids that share their search key (``_same_key_id``: all of them)."""
    seen = RecentIds(horizon_s=100, max_ids=10_000)
    early = [make_id(n) for n in range(50)]
    late = [make_id(n) for n in range(50, 90)]
    seen.see(early, [1] * len(early), now=0)
    seen.see(late, [1] * len(late), now=1)
    forgotten = set(early[:3] + early[10:30] + late[:5])
    seen.forget(list(forgotten))
    assert len(seen) == len(early) + len(late) - len(forgotten)
    every = early + late
    judged = seen.see(every, [1] * len(every), now=2)
    assert judged == [Seen.NEW if i in forgotten else Seen.REPLAY for i in every]
