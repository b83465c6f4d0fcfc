"""Small statistics in plain Python: two-proportion z, Wilson, percentiles.

scipy is not a dependency, so the normal distribution comes from ``math.erf``.
The z-test compares two different groups (continuous evaluation's windows);
Wilson bounds one accuracy. The rollout's sequential test is
:mod:`~streamtune.models.rollout.sequential`.

Examples
--------
>>> round(normal_cdf(1.959963984540054), 6)
0.975
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class StatResult:
    """A test statistic and its two-sided p-value."""

    statistic: float
    p_value: float


def normal_cdf(x: float) -> float:
    """P(Z <= x) for a standard normal Z."""
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def normal_sf(x: float) -> float:
    """P(Z > x), accurate far into the tail (no ``1 - cdf`` cancellation)."""
    return 0.5 * math.erfc(x / math.sqrt(2.0))


def normal_ppf(q: float) -> float:
    """The x with ``normal_cdf(x) == q`` (bisection to float precision), for 0 < q < 1."""
    if not 0.0 < q < 1.0:
        raise ValueError(f"a normal quantile needs 0 < q < 1, not {q}")
    low, high = -40.0, 40.0
    for _ in range(200):
        mid = (low + high) / 2
        if normal_cdf(mid) < q:
            low = mid
        else:
            high = mid
        if high - low < 1e-15:
            break
    return (low + high) / 2


def two_proportion_z(x1: int, n1: int, x2: int, n2: int) -> StatResult:
    """Pooled two-proportion z-test of ``x1/n1`` against ``x2/n2`` (z > 0: the first is higher)."""
    if n1 <= 0 or n2 <= 0 or not 0 <= x1 <= n1 or not 0 <= x2 <= n2:
        raise ValueError(f"a z-test needs 0 <= x <= n and n > 0, not {x1}/{n1}, {x2}/{n2}")
    pooled = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return StatResult(0.0, 1.0)
    z = (x1 / n1 - x2 / n2) / se
    return StatResult(z, 2.0 * normal_sf(abs(z)))


def wilson(successes: int, n: int, *, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a proportion (no continuity correction)."""
    if n <= 0 or not 0 <= successes <= n:
        raise ValueError(f"a Wilson interval needs 0 <= successes <= n and n > 0, "
                         f"not {successes}/{n}")
    z = normal_ppf(0.5 + confidence / 2)
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def percentile(values: Sequence[int], q: float) -> float:
    """The ``q`` quantile by nearest rank (the smallest value >= ``q`` of the values)."""
    if not values:
        raise ValueError("a percentile needs at least one value")
    ordered = sorted(values)
    return float(ordered[max(0, math.ceil(q * len(ordered)) - 1)])


def p99(values: Sequence[int]) -> float:
    """The 99th percentile by nearest rank."""
    return percentile(values, 0.99)
