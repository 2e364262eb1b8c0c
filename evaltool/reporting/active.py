"""The active human share: each context's chance of going to people set from the judge's
uncertainty, and the inverse-probability-weighted PPI++ estimate that stays valid under it.

Active statistical inference (Zrnic and Candès, 2024) with the robust rule of Li, Zrnic and
Candès (2025): a context's chance is the share ``P`` times a mix of its uncertainty (over the
mean uncertainty) and a uniform ``floor``, capped at 1, so no chance falls near zero and a
poor uncertainty score costs little. The floor is chosen on a uniformly drawn pilot when
there is one. Each labelled context is weighted by one over its chance:
Z_i = lam f_i + (xi_i / pi_i)(Y_i - lam f_i), the mean of Z estimates the mean of Y whatever
the judge, and lam is tuned to make it as narrow as the data allow. Pure functions on arrays
with the contexts on the last axis (the bench runs many replications at once).
"""

from __future__ import annotations

import numpy as np
from scipy import stats as sps

from evaltool.reporting.ppi import score_bound

FLOORS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)  # the pilot picks one
DEFAULT_FLOOR = 0.5  # without a pilot
SHRINK = 0.25  # see _weighted
MARGIN = 1.5  # standard errors by which a floor must beat uniform on the pilot (see choose_floor)


def item_sd(p_sensible: np.ndarray, p_specific: np.ndarray) -> np.ndarray:
    """The spread of an item's SSA (0, 1/2 or 1) were the judge's probabilities right: the
    standard deviation of (S + S Sp) / 2 with S ~ p_sensible and Sp ~ p_specific given S.

    >>> [round(float(v), 4) for v in item_sd(np.array([0.5, 1.0, 0.0]), np.array([0.5, 0.5, 0]))]
    [0.4146, 0.25, 0.0]
    """
    ps, pp = np.asarray(p_sensible, float), np.nan_to_num(np.asarray(p_specific, float))
    var = (ps * (1 + 3 * pp) - (ps * (1 + pp)) ** 2) / 4
    return np.sqrt(np.clip(var, 0.0, None))


def chances(uncertainty: np.ndarray, share: float | np.ndarray, floor: float | np.ndarray):  # type: ignore[no-untyped-def]
    """Each context's chance: share x ((1 - floor) u / mean(u) + floor), capped at 1 with the
    excess spread over the rest so that the chances still average ``share``.

    >>> [round(float(c), 3) for c in chances(np.array([0.0, 0.1, 0.3, 0.4]), 0.5, 0.2)]
    [0.1, 0.3, 0.7, 0.9]
    """
    u = np.asarray(uncertainty, float)
    mean = u.mean(-1, keepdims=True)
    flat = np.where(mean > 0, u / np.where(mean > 0, mean, 1.0), 1.0)
    share_ = np.asarray(share, float)[..., None] if np.ndim(share) else share
    floor_ = np.asarray(floor, float)[..., None] if np.ndim(floor) else floor
    raw = (1 - floor_) * flat + floor_
    budget = share_ * u.shape[-1]
    pi = np.minimum(share_ * raw, 1.0)
    for _ in range(u.shape[-1]):
        capped = pi >= 1.0
        free = np.where(capped, 0.0, raw).sum(-1, keepdims=True)
        left = budget - capped.sum(-1, keepdims=True)
        scale = np.where(free > 0, left / np.where(free > 0, free, 1.0), 0.0)
        new = np.where(capped, 1.0, np.minimum(raw * scale, 1.0))
        if np.array_equal(new >= 1.0, capped):
            return new
        pi = new
    return pi


def label_ratio(variance: np.ndarray, floor: float) -> float:
    """The active share's people's labels over the uniform share's for the same variance, for a
    judge whose predicted variances are right and chances below the cap: mean(v / g) / mean(v)
    with g = (1 - floor) sqrt(v) / mean(sqrt(v)) + floor (what ``plan --active`` prints).

    >>> round(label_ratio(np.array([0.0, 0.0, 0.01, 0.09]), 0.2), 3)
    0.446
    """
    v = np.asarray(variance, float)
    if v.sum() == 0:
        return 1.0
    u = np.sqrt(v)
    g = (1 - floor) * u / u.mean() + floor
    return float((v / g).mean() / v.mean())


def staged(
    uncertainty: np.ndarray, share: float, floor: float | np.ndarray, pilot_share: float
) -> np.ndarray:
    """Each context's chance when a uniform pilot of ``pilot_share`` comes first and the rest
    of ``share`` is drawn actively among the others: pilot + (1 - pilot) x the second draw's."""
    rest = (share - pilot_share) / (1 - pilot_share)
    return pilot_share + (1 - pilot_share) * chances(uncertainty, rest, floor)


def choose_floor(
    uncertainty: np.ndarray,
    in_pilot: np.ndarray,
    errors: np.ndarray,
    share: float,
    pilot_share: float,
) -> np.ndarray:
    """The floor whose chances would make the estimate narrowest, judged on the pilot: the
    mean of e^2 / pi over the pilot's contexts (a uniform sample, so it estimates the
    rectifier's variance for each floor), with ``errors`` each pilot context's summed squared
    gap between people and the judge. A floor other than 1 (uniform) must beat uniform by
    more than ``MARGIN`` (1.5) standard errors of the difference, so an uncertainty score
    that tells nothing leaves the draw near uniform (on the bench, 2 gave up half the saving
    near a rate of 0.05 and 1 let a useless score cost 7% more labels)."""
    e2 = np.where(in_pilot, errors, 0.0)
    n = np.maximum(in_pilot.sum(-1), 1)
    uniform = 1.0 / staged(uncertainty, share, 1.0, pilot_share)
    best = np.ones(np.shape(e2)[:-1])
    best_cost = (e2 * uniform).sum(-1) / n
    for floor in FLOORS[:-1]:
        inv = 1.0 / staged(uncertainty, share, floor, pilot_share)
        gain = np.where(in_pilot, e2 * (uniform - inv), 0.0)
        mean = gain.sum(-1) / n
        spread = np.sqrt(np.where(in_pilot, (gain - mean[..., None]) ** 2, 0.0).sum(-1)) / n
        cost = (e2 * inv).sum(-1) / n
        better = (cost < best_cost) & (mean > MARGIN * spread)
        best = np.where(better, floor, best)
        best_cost = np.where(better, cost, best_cost)
    return best


def ipw_lam(y: np.ndarray, f: np.ndarray, pi: np.ndarray, labelled: np.ndarray) -> np.ndarray:
    """The judge's weight that minimises var(Z), clipped to [0, 1]: -cov(A, B) / var(B) with
    A = xi y / pi and B = f - xi f / pi over every context."""
    a = np.where(labelled, np.nan_to_num(y) / pi, 0.0)
    b = f - np.where(labelled, f / pi, 0.0)
    cov = ((a - a.mean(-1, keepdims=True)) * (b - b.mean(-1, keepdims=True))).mean(-1)
    var = b.var(-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        lam = -cov / var
    return np.clip(np.nan_to_num(lam, nan=0.0, posinf=1.0, neginf=0.0), 0.0, 1.0)


def _z(y: np.ndarray, f: np.ndarray, pi: np.ndarray, labelled: np.ndarray, lam: np.ndarray):  # type: ignore[no-untyped-def]
    """Each context's Z = lam f + (xi / pi)(y - lam f), whose mean is the estimate."""
    weight = lam[..., None] if np.ndim(lam) else lam
    return weight * f + np.where(labelled, (np.nan_to_num(y) - weight * f) / pi, 0.0)


def ipw_mean(
    y: np.ndarray,
    f: np.ndarray,
    pi: np.ndarray,
    labelled: np.ndarray,
    confidence: float = 0.95,
    lam: float | np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(estimate, low, high, se, lam) of the mean of ``y`` over every context: the judge's
    ``f`` on all, people's ``y`` where ``labelled`` (NaN elsewhere), each drawn with chance
    ``pi``; the z-interval with se = sd(Z) / sqrt(N).

    >>> y = np.array([1., np.nan, 0, np.nan, 1, np.nan])
    >>> f = np.array([.9, .8, .2, .1, .6, .7])
    >>> pi = np.array([.5, .5, 1/3, 1/3, .5, .5])
    >>> [round(float(v), 4) for v in ipw_mean(y, f, pi, ~np.isnan(y), lam=1.0)[:2]]
    [0.6167, 0.0873]
    """
    y, f, pi = (np.asarray(a, float) for a in (y, f, pi))
    lam_ = ipw_lam(y, f, pi, labelled) if lam is None else np.asarray(lam, float)
    z = _z(y, f, pi, labelled, lam_)
    estimate = z.mean(-1)
    se = z.std(-1, ddof=1) / np.sqrt(z.shape[-1])
    half = sps.norm.ppf(0.5 + confidence / 2) * se
    return estimate, estimate - half, estimate + half, se, lam_


def ipw_score(
    y: np.ndarray,
    f: np.ndarray,
    pi: np.ndarray,
    labelled: np.ndarray,
    confidence: float = 0.95,
    lam: float | np.ndarray | None = None,
    halves: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(estimate, low, high, se, lam) for a mean of items worth 0, 1/2 or 1 (SSA; a rate with
    ``halves`` False): ``ipw_mean``'s estimate with a score interval, as ``ppi.ppi_rate`` for
    the uniform share, which holds its coverage near 0 and 1 where the z-interval's does not.
    var(Z) = var(Y) + E[w (Y - lam f)^2] with w = (1 - pi) / pi. At mean t, with c the
    weighted share of 1 among people's non-zero items (1 for a rate), P(Y > 0) = 2t / (1 +
    c) fixes var(Y) and each value's share, and m_v, the weighted mean of w (v - lam f)^2
    over people's items worth v, gives the rest. The interval keeps every t with
    (estimate - t)^2 <= z^2 var(t) / N.

    >>> y = np.array([1., np.nan, 0, np.nan, 1, np.nan])
    >>> f = np.array([.9, .8, .2, .1, .6, .7])
    >>> pi = np.array([.5, .5, 1/3, 1/3, .5, .5])
    >>> [round(float(v), 4) for v in ipw_score(y, f, pi, ~np.isnan(y), lam=1.0)[1:3]]
    [0.1895, 0.9618]
    """
    y, f, pi = (np.asarray(a, float) for a in (y, f, pi))
    estimate, _, _, se, lam_ = ipw_mean(y, f, pi, labelled, confidence, lam)
    weight = lam_[..., None] if np.ndim(lam_) else lam_
    w, value = (1 - pi) / pi, np.nan_to_num(y)
    m = {
        v: _weighted(w * (v - weight * f) ** 2, labelled & (value == v), labelled, pi)
        for v in (0.0, 0.5, 1.0)
    }
    c = np.ones(np.shape(estimate))
    if halves:
        ones = np.where(labelled & (value == 1), 1 / pi, 0.0).sum(-1)
        some = np.where(labelled & (value > 0), 1 / pi, 0.0).sum(-1)
        c = np.where(some > 0, ones / np.where(some > 0, some, 1.0), 0.5)
    z2, big_n = sps.norm.ppf(0.5 + confidence / 2) ** 2, y.shape[-1]

    def outside(t: np.ndarray) -> np.ndarray:
        above = np.clip(2 * t / (1 + c), 0.0, 1.0)
        p1, p_half = above * c, above * (1 - c)
        var_y = p1 + p_half / 4 - t**2
        rest = p1 * m[1.0] + p_half * m[0.5] + (1 - above) * m[0.0]
        return (estimate - t) ** 2 > z2 * (var_y + rest) / big_n

    centre = np.clip(estimate, 0.0, 1.0)
    low, high = score_bound(outside, centre, 0.0), score_bound(outside, centre, 1.0)
    return estimate, low, high, se, lam_


def ipw_difference(
    a: tuple[np.ndarray, ...],
    b: tuple[np.ndarray, ...],
    pi: np.ndarray,
    labelled: np.ndarray,
    confidence: float = 0.95,
    lam: float | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(difference, low, high) of two systems' SSA on the same contexts, each given as (y, f):
    the score interval of each (``ipw_score``) joined by MOVER (Zou and Donner, 2008) with the
    correlation of the two systems' Z, so the difference keeps its coverage near 0 and 1.
    ``lam`` 0 gives people's labels alone."""
    ea, la, ha, _, lam_a = ipw_score(*a, pi, labelled, confidence, lam)
    eb, lb, hb, _, lam_b = ipw_score(*b, pi, labelled, confidence, lam)
    za = _z(np.asarray(a[0], float), np.asarray(a[1], float), pi, labelled, lam_a)
    zb = _z(np.asarray(b[0], float), np.asarray(b[1], float), pi, labelled, lam_b)
    ca, cb = za - za.mean(-1, keepdims=True), zb - zb.mean(-1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = (ca * cb).mean(-1) / np.sqrt((ca**2).mean(-1) * (cb**2).mean(-1))
    r = np.nan_to_num(r)
    d = ea - eb
    low = d - np.sqrt((ea - la) ** 2 + (hb - eb) ** 2 - 2 * r * (ea - la) * (hb - eb))
    high = d + np.sqrt((ha - ea) ** 2 + (eb - lb) ** 2 - 2 * r * (ha - ea) * (eb - lb))
    return d, low, high


def _weighted(value: np.ndarray, among: np.ndarray, labelled: np.ndarray, pi: np.ndarray):  # type: ignore[no-untyped-def]
    """The 1/pi-weighted mean of ``value`` over ``among``, shrunk toward its mean over every
    labelled context by a quarter of a typical context's weight (``SHRINK``): a value few
    people gave (a rare no near a rate of 1) does not set its own variance from two or three
    items, and one no one gave yet still gets a width. The quarter was set on the coverage
    bench (``bench/active_coverage.py``): no shrinking covers 90% for a biased judge at a
    rate near 1 with 44 people's contexts; a whole item over-covers near 0."""
    weights = np.where(among, 1 / pi, 0.0)
    every = np.where(labelled, 1 / pi, 0.0)
    pooled = (every * value).sum(-1) / np.maximum(every.sum(-1), 1e-300)
    prior = SHRINK * every.sum(-1) / np.maximum(labelled.sum(-1), 1)
    return ((weights * value).sum(-1) + prior * pooled) / np.maximum(
        weights.sum(-1) + prior, 1e-300
    )
