"""Score intervals and tests for the mean of an outcome with a known finite support.

Every number the report gives a system or a pair is the mean over contexts of a per-context
outcome with few possible values: a rate (0 or 1), an SSA (0, 0.5 or 1), a paired difference of
rates (-1, 0, 1) or of SSAs (-1 ... 1 in halves). The interval is every mean ``m0`` that a score
test does not reject: ``|mean - m0| <= z * sqrt(var(m0) / n)``, with the variance taken under
the multinomial that fits the counts best among those whose mean is ``m0`` (Lagrange; mass on
an unseen extreme value when needed). For 0/1 outcomes this is exactly Wilson's interval, for
paired 0/1 differences Tango's; it has known coverage near 0 and 1 and with few contexts, never
has zero width, and needs no resampling (docs/protocol.md, "Uncertainty").
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from scipy import optimize
from scipy import stats as sps

RATE = (0.0, 1.0)
SSA = (0.0, 0.5, 1.0)
RATE_DIFFERENCE = (-1.0, 0.0, 1.0)
SSA_DIFFERENCE = (-1.0, -0.5, 0.0, 0.5, 1.0)
_EDGE = 1e-9  # how close to the support's ends the root finder looks


def counts_on(support: tuple[float, ...], values: np.ndarray) -> tuple[int, ...]:
    """How many of ``values`` fall on each point of ``support``.

    >>> counts_on(SSA, np.array([0, 0.5, 1, 1]))
    (1, 1, 2)
    """
    values = np.asarray(values, dtype=float)
    return tuple(int(np.isclose(values, v).sum()) for v in support)


def _restricted(v: list[float], n: list[float], m0: float) -> list[float]:
    """The multinomial on support ``v`` with mean ``m0`` that best fits counts ``n``.

    Plain floats: the supports have 2 to 5 points, where numpy's overhead dominates.
    """
    total = sum(n)
    dv = [x - m0 for x in v]
    seen = [c > 0 for c in n]
    low = min(d for d, s in zip(dv, seen, strict=True) if s)
    high = max(d for d, s in zip(dv, seen, strict=True) if s)
    pairs = [(c, d) for c, d in zip(n, dv, strict=True) if c > 0]
    beta = None
    if low < 0 < high:
        lo, hi = -total / high, -total / low  # every seen value keeps a positive weight

        def slope(b: float) -> float:
            return sum(c * d / (total + b * d) for c, d in pairs)

        pad = _EDGE * (hi - lo)
        beta = optimize.brentq(slope, lo + pad, hi - pad)
        p = [c / (total + beta * d) if c > 0 else 0.0 for c, d in zip(n, dv, strict=True)]
        if all(total + beta * d >= 0 for c, d in zip(n, dv, strict=True) if c == 0):
            return p
    # The best fit puts mass on the unseen extreme on the side the mean must move to.
    side = high <= 0 if beta is None else beta < 0
    u = v.index(max(v) if side else min(v))
    beta = -total / dv[u]
    p = [c / (total + beta * d) if c > 0 else 0.0 for c, d in zip(n, dv, strict=True)]
    p[u] = max(1.0 - sum(p), 0.0)
    return p


def _z(v: list[float], n: list[float], m0: float) -> float:
    """The score statistic for mean ``m0``: positive when the observed mean is above it."""
    total = sum(n)
    mean = sum(x * c for x, c in zip(v, n, strict=True)) / total
    if math.isclose(mean, m0, abs_tol=1e-15):
        return 0.0
    if not min(v) < m0 < max(v):
        return math.copysign(math.inf, mean - m0)
    p = _restricted(v, n, m0)
    var = sum(q * (x - m0) ** 2 for q, x in zip(p, v, strict=True))
    return (mean - m0) / math.sqrt(var / total) if var > 0 else math.copysign(math.inf, mean - m0)


@lru_cache(maxsize=65536)
def score_interval(
    support: tuple[float, ...], counts: tuple[int, ...], confidence: float = 0.95
) -> tuple[float, float, float]:
    """(mean, low, high) for the outcome's mean from its counts on ``support``.

    >>> [round(x, 4) for x in score_interval(RATE, (27, 3))]  # Wilson: 3 of 30
    [0.1, 0.0346, 0.2562]
    >>> [round(x, 4) for x in score_interval(RATE, (0, 60))]  # 60 of 60 is not certainty
    [1.0, 0.9398, 1.0]
    """
    v, n = [float(x) for x in support], [float(c) for c in counts]
    mean = sum(x * c for x, c in zip(v, n, strict=True)) / sum(n)
    z = float(sps.norm.ppf((1 + confidence) / 2))
    lo_end, hi_end = min(v), max(v)
    pad = _EDGE * (hi_end - lo_end)
    low, high = float(lo_end), float(hi_end)
    if mean > lo_end + pad and _z(v, n, lo_end + pad) > z:
        low = optimize.brentq(lambda m: _z(v, n, m) - z, lo_end + pad, mean)
    if mean < hi_end - pad and _z(v, n, hi_end - pad) < -z:
        high = optimize.brentq(lambda m: _z(v, n, m) + z, mean, hi_end - pad)
    return mean, float(low), float(high)


def score_pvalue(support: tuple[float, ...], counts: tuple[int, ...], null: float = 0.0) -> float:
    """Two-sided p-value of the score test that the mean is ``null`` (agrees with the interval:
    below 1 - confidence exactly when the interval leaves ``null`` out).

    >>> round(score_pvalue(RATE_DIFFERENCE, (0, 27, 3)), 4)
    0.0833
    """
    z = _z([float(x) for x in support], [float(c) for c in counts], null)
    return float(2 * sps.norm.sf(abs(z)))


def holm(pvalues: list[float]) -> list[float]:
    """Holm's step-down adjustment: controls the chance of any false positive among the tests.

    >>> holm([0.01, 0.04, 0.03])
    [0.03, 0.06, 0.06]
    """
    order = sorted(range(len(pvalues)), key=lambda i: pvalues[i])
    adjusted = [0.0] * len(pvalues)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(pvalues) - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted
