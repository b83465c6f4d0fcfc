"""A sequential non-inferiority test on paired outcomes, valid however often it is looked at.

Each event scored by both models gives ``D = candidate correct - champion correct``
in ``{-1, 0, +1}``; the accuracy difference is ``Δ = E[D]``. For every ``m`` of a
grid over ``(-1, 1)`` two betting martingales run (Waudby-Smith & Ramdas 2023,
"Estimating means of bounded random variables by betting"):

- ``K_low(m) = Π (1 + λ_i (D_i - m))`` is a nonnegative supermartingale when
  ``Δ <= m``, so by Ville's inequality it ever reaches ``1/α`` with probability
  at most ``α``: reaching it is evidence that ``Δ > m``;
- ``K_up(m) = Π (1 + λ'_i (m - D_i))``, the same for ``Δ < m`` at level ``β``.

The bets ``λ`` are aGRAPA plug-ins computed from the counts seen *before* each
chunk, so a chunk of events (a trainer step) is folded in at once and the
guarantees hold whenever, and however often, the verdict is read. The ``m`` not
yet rejected on either side form a confidence sequence for ``Δ`` (coverage
``1 - α - β`` at all times).

With margin ``δ`` the verdicts are: **not worse** once ``K_low(-2δ) >= 1/α``,
**worse** once ``K_up(0) >= 1/β``. So a candidate ``2δ`` or more worse than the
champion is declared "not worse" with probability at most ``α``, and one no
worse than the champion is declared "worse" with probability at most ``β``;
between the two (the indifference zone, centred on ``-δ``) either verdict may
come, whichever the data favour first.

Examples
--------
>>> test = NonInferiority(margin=0.01, alpha=0.05, beta=0.05)
>>> test.update(champion_only=2, candidate_only=3, ties=995)
>>> test.verdict is None, test.n
(True, 1000)
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

Verdict = Literal["not_worse", "worse"]
TEST_NAME = "paired betting confidence sequence (aGRAPA), always valid"
GRID_STEP = 0.002
"""Resolution of the reported interval (0.2 accuracy points)."""
MAX_BET = 0.5
"""Bets are capped at half of what keeps a factor positive (the paper's choice)."""
_OUTCOMES = np.array([1.0, 0.0, -1.0])  # candidate only right, tie, champion only right
Array = npt.NDArray[np.float64]


class NonInferiority:
    """The running test of one candidate against its champion.

    Parameters
    ----------
    margin
        ``δ``: the question is whether the candidate is at least champion - δ.
    alpha
        Most probability of "not worse" for a candidate ``2δ`` (or more) worse.
    beta
        Most probability of "worse" for a candidate no worse than the champion.
    """

    def __init__(self, *, margin: float, alpha: float, beta: float) -> None:
        if not 0 < margin < 0.5 or not 0 < alpha < 1 or not 0 < beta < 1:
            raise ValueError(f"a non-inferiority test needs 0 < margin < 0.5 and error rates "
                             f"in (0, 1), not margin={margin}, alpha={alpha}, beta={beta}")
        self.margin, self.alpha, self.beta = margin, alpha, beta
        self.worse_at, self.ok_at = -2 * margin, 0.0
        steps = np.arange(1, round(2 / GRID_STEP)) * GRID_STEP - 1
        self.grid: Array = np.union1d(np.round(steps, 6), [self.worse_at, self.ok_at])
        self.log_low: Array = np.zeros_like(self.grid)
        self.log_up: Array = np.zeros_like(self.grid)
        self.counts = [0, 0, 0]  # candidate only right, ties, champion only right
        self.squares = 0.0  # Σ (D_i - running mean)², for the plug-in variance

    @property
    def n(self) -> int:
        """Paired events folded in."""
        return sum(self.counts)

    @property
    def estimate(self) -> float | None:
        """``Δ̂``: the candidate's accuracy minus the champion's on the pairs (``None``: none)."""
        n = self.n
        return (self.counts[0] - self.counts[2]) / n if n else None

    def update(self, *, champion_only: int, candidate_only: int, ties: int) -> None:
        """Fold in a chunk of pairs: only the champion right, only the candidate, both alike."""
        chunk = np.array([candidate_only, ties, champion_only], dtype=np.float64)
        if chunk.min() < 0:
            raise ValueError(f"pair counts must be >= 0, not {chunk.tolist()}")
        if not chunk.sum():
            return
        mean = (self.counts[0] - self.counts[2]) / (self.n + 1)  # prior: one tie
        variance = (1.0 + self.squares) / (self.n + 1)  # prior: the widest variance
        gap = mean - self.grid
        bet = gap / (variance + gap * gap)
        low = np.clip(bet, 0.0, MAX_BET / (1 + self.grid))
        up = np.clip(-bet, 0.0, MAX_BET / (1 - self.grid))
        for outcome, count in zip(_OUTCOMES, chunk, strict=True):
            if count:
                self.log_low += count * np.log1p(low * (outcome - self.grid))
                self.log_up += count * np.log1p(up * (self.grid - outcome))
        self.squares += float((chunk * (_OUTCOMES - mean) ** 2).sum())
        for i, count in enumerate(chunk):
            self.counts[i] += int(count)

    @property
    def verdict(self) -> Verdict | None:
        """``worse``, ``not_worse``, or ``None`` while the evidence allows both."""
        if self._log_evidence_worse() >= math.log(1 / self.beta):
            return "worse"
        if self._log_evidence_not_worse() >= math.log(1 / self.alpha):
            return "not_worse"
        return None

    def interval(self) -> tuple[float, float]:
        """The confidence sequence's open bounds on ``Δ`` now: the nearest grid points
        rejected on either side of those kept."""
        kept = (self.log_low < math.log(1 / self.alpha)) & (self.log_up < math.log(1 / self.beta))
        if not kept.any():  # the two sides cross: report the point between them
            point = float(self.estimate or 0.0)
            return point, point
        found = self.grid[kept]
        return max(-1.0, float(found[0]) - GRID_STEP), min(1.0, float(found[-1]) + GRID_STEP)

    def _log_evidence_not_worse(self) -> float:
        return float(self.log_low[np.searchsorted(self.grid, self.worse_at)])

    def _log_evidence_worse(self) -> float:
        return float(self.log_up[np.searchsorted(self.grid, self.ok_at)])

    def summary(self) -> dict[str, Any]:
        """The test, its settings and the running evidence, JSON-ready."""
        low, high = self.interval()
        return {
            "test": TEST_NAME, "margin": self.margin,
            "hypotheses": {"worse": f"diff <= {self.worse_at:+.4f}", "not_worse": "diff >= 0"},
            "alpha_false_promotion": self.alpha, "beta_false_rollback": self.beta,
            "pairs": self.n, "candidate_only_right": self.counts[0], "ties": self.counts[1],
            "champion_only_right": self.counts[2], "diff_estimate": self.estimate,
            "diff_interval": [round(low, 4), round(high, 4)],
            "evidence_not_worse": _e_value(self._log_evidence_not_worse()),
            "evidence_worse": _e_value(self._log_evidence_worse()),
            "thresholds": [round(1 / self.alpha, 4), round(1 / self.beta, 4)],
            "verdict": self.verdict,
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready state."""
        return {"margin": self.margin, "alpha": self.alpha, "beta": self.beta,
                "counts": list(self.counts), "squares": self.squares,
                "log_low": self.log_low.round(9).tolist(), "log_up": self.log_up.round(9).tolist()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> NonInferiority:
        """The test :meth:`to_dict` wrote."""
        test = cls(margin=float(d["margin"]), alpha=float(d["alpha"]), beta=float(d["beta"]))
        low, up = (np.array(d[k], dtype=np.float64) for k in ("log_low", "log_up"))
        if low.shape != test.grid.shape or up.shape != test.grid.shape or len(d["counts"]) != 3:
            raise ValueError("a saved test does not fit this test's grid")
        test.log_low, test.log_up = low, up
        test.counts = [int(v) for v in d["counts"]]
        test.squares = float(d["squares"])
        return test


def _e_value(log_value: float) -> float:
    """An e-value for people: 4 significant digits, at most 1e9."""
    return float(f"{math.exp(min(log_value, math.log(1e9))):.4g}")
