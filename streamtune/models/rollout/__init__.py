"""Canary, A/B significance and gradual rollout decisions for a candidate model.

Pure decision logic, no I/O: :class:`RolloutController` reads scored records
and returns :class:`Decision` objects (advance, promote, rollback, reject);
:func:`offline_verdict` gates a candidate on the held-out split first;
:func:`in_rollout` says which sessions a candidate serves (workers use it too);
:mod:`~streamtune.models.rollout.sequential` holds the live test behind the verdicts,
:mod:`~streamtune.models.rollout.stats` the fixed-sample ones.
"""

from streamtune.models.rollout.controller import RolloutController, RolloutError
from streamtune.models.rollout.decision import Decision, Verdict
from streamtune.models.rollout.offline import offline_verdict
from streamtune.models.rollout.split import in_rollout

__all__ = ["Decision", "RolloutController", "RolloutError", "Verdict", "in_rollout",
           "offline_verdict"]
