"""The few tests a rollout needs, in plain Python: McNemar, two-proportion z, Wilson, p99.

scipy is not a dependency, so the normal distribution comes from ``math.erf``
and the exact binomial tail from integer binomial coefficients (exact for any
``n``: the sum is divided by ``2**n`` as integers). McNemar compares two models
on the same events (paired 0/1 outcomes); the z-test compares two different
groups (the sessions each model served); Wilson bounds one accuracy.

Examples
--------
>>> round(mcnemar(1, 9).p_value, 6)       # exact: 2 * (1 + 10) / 2**10
0.021484
>>> round(normal_cdf(1.959963984540054), 6)
0.975
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

EXACT_BELOW = 25  # discordant pairs under which McNemar uses the exact binomial test


@dataclass(frozen=True)
class StatResult:
    """A test statistic and its two-sided p-value; ``exact`` for the binomial version."""

    statistic: float
    p_value: float
    exact: bool = False


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


def chi2_sf_1df(statistic: float) -> float:
    """P(X > statistic) for a chi-square variable with one degree of freedom."""
    if statistic <= 0:
        return 1.0
    return math.erfc(math.sqrt(statistic / 2.0))


def binom_cdf_half(k: int, n: int) -> float:
    """P(X <= k) for X ~ Binomial(n, 1/2), computed exactly in integers."""
    if n < 0 or k < 0:
        raise ValueError(f"a binomial tail needs k, n >= 0, not k={k}, n={n}")
    if k >= n:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(k + 1))
    return tail / (1 << n)


def mcnemar(b: int, c: int, *, exact_below: int = EXACT_BELOW) -> StatResult:
    """McNemar's test on the discordant counts ``b`` (only the first right) and ``c``.

    Below ``exact_below`` discordant pairs: the exact two-sided binomial test,
    ``p = min(1, 2 P(X <= min(b, c)))`` with X ~ Bin(b + c, 1/2), statistic
    ``min(b, c)``. Otherwise the chi-square with Edwards' continuity
    correction, ``(|b - c| - 1)^2 / (b + c)`` on one degree of freedom.
    """
    if b < 0 or c < 0:
        raise ValueError(f"discordant counts must be >= 0, not b={b}, c={c}")
    n = b + c
    if n == 0:
        return StatResult(0.0, 1.0, exact=True)
    if n < exact_below:
        k = min(b, c)
        return StatResult(float(k), min(1.0, 2.0 * binom_cdf_half(k, n)), exact=True)
    statistic = max(abs(b - c) - 1, 0) ** 2 / n
    return StatResult(statistic, chi2_sf_1df(statistic))


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
