"""Join again, instead of failing for good, when a group answers a join with no assignment.

A SyncGroup answer may carry empty assignment bytes for a member the leader left
out of its plan (seen from the dev broker; real brokers do it too, as kafkajs
found: tulios/kafkajs#550). aiokafka 0.14 decodes them as an assignment, fails,
and its group coordinator ends for the life of the consumer: faust's window agent
then reads nothing and says nothing. :func:`rejoin_on_empty_assignment` turns such
an answer into a failed join, as aiokafka treats a failed SyncGroup: it joins again.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka.consumer.group_coordinator import (  # type: ignore[import-untyped]
    CoordinatorGroupRebalance,
)

log = logging.getLogger(__name__)
_original: Callable[..., Awaitable[Any]] | None = None


def rejoin_on_empty_assignment() -> None:
    """Make aiokafka join again when its join is answered with empty bytes (idempotent)."""
    global _original
    if _original is not None:
        return
    original = _original = CoordinatorGroupRebalance.perform_group_join

    async def perform_group_join(self: Any) -> Any:
        joined = await original(self)
        if joined is not None and not joined[1]:
            log.warning("group %s answered the join with no assignment for this member: "
                        "joining again", self.group_id)
            self._coordinator.request_rejoin()
            return None
        return joined

    CoordinatorGroupRebalance.perform_group_join = perform_group_join
