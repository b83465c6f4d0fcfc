"""Which sessions a rollout serves with the candidate: a stable hash, shared by workers and trainer.

A session's place is ``blake2b(salt, session_id)`` mapped to ``[0, 100)``; it
is in the rollout at ``percent`` when its place is below ``percent``. So the
same session always gets the same model (no flapping between events), a session
in at 5 % stays in at 25 % (monotone), and the salt (the candidate version)
gives every rollout its own sessions.

Examples
--------
>>> in_rollout("s-1", 100.0, salt="v7"), in_rollout("s-1", 0.0, salt="v7")
(True, False)
"""

from __future__ import annotations

from hashlib import blake2b

_SCALE = 100.0 / 2**64


def place(session_id: str, *, salt: str) -> float:
    """The session's stable place in ``[0, 100)`` for this salt."""
    digest = blake2b(f"{salt}\x00{session_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") * _SCALE


def in_rollout(session_id: str, percent: float, *, salt: str) -> bool:
    """Whether the candidate serves ``session_id`` when it serves ``percent`` % of sessions."""
    if not 0.0 <= percent <= 100.0:
        raise ValueError(f"a rollout percent lies in [0, 100], not {percent}")
    return place(session_id, salt=salt) < percent
