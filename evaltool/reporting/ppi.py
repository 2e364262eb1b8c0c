"""Prediction-powered inference for a mean (PPI++: Angelopoulos, Duchi and Zrnic, 2023).

A judge predicts every item; people label a uniformly random share of them. The estimate is
the judge's mean over the items people did not label, corrected by the people's labels minus
the judge's on the items they did (the rectifier), with the judge's weight ``lam`` tuned from
the data (0: people alone; 1: plain PPI). The z-interval stays valid whatever the judge's bias
and narrows as the judge agrees with people. These are ppi_py's ``ppi_mean_pointestimate`` and
``ppi_mean_ci`` (``lam_optim_mode="overall"``, clipped ``lam``), written with numpy alone so
that the report starts fast; the tests hold them equal to ppi_py to 1e-9. Every function takes
arrays with the items on the last axis and any leading axes (simulations run many at once).
"""

from __future__ import annotations

import numpy as np
from scipy import stats as sps


def tuned_lam(y: np.ndarray, yhat: np.ndarray, yhat_unlabelled: np.ndarray) -> np.ndarray:
    """The judge's weight that minimises the estimate's variance, clipped to [0, 1]:
    cov(Y, Yhat) / ((1 + n/N) var(Yhat)), the variance over every judged item.

    >>> round(float(tuned_lam(np.array([0., 1, 1, 0]), np.array([0., 1, 1, 0]), np.ones(2))), 4)
    0.3125
    """
    n, big_n = y.shape[-1], yhat_unlabelled.shape[-1]
    cov = ((y - y.mean(-1, keepdims=True)) * (yhat - yhat.mean(-1, keepdims=True))).mean(-1)
    every = np.concatenate([yhat, yhat_unlabelled], axis=-1)
    var = every.var(-1, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        lam = cov / ((1 + n / big_n) * var)
    return np.clip(np.nan_to_num(lam, nan=0.0, posinf=1.0, neginf=0.0), 0.0, 1.0)


def ppi_mean(
    y: np.ndarray,
    yhat: np.ndarray,
    yhat_unlabelled: np.ndarray,
    confidence: float = 0.95,
    lam: float | np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(estimate, low, high, se, lam) of the mean of ``y`` over all items, from people's labels
    ``y`` with the judge's ``yhat`` on the same items and ``yhat_unlabelled`` on the rest.

    >>> est, low, high, se, lam = ppi_mean(np.array([1., 0, 1, 1]), np.array([1., 0, 1, 0]),
    ...                                    np.array([1., 1, 0, 1, 0, 1]))
    >>> round(float(est), 4), round(float(low), 4), round(float(high), 4), float(lam)
    (0.7969, 0.419, 1.1747, 0.28125)
    """
    y, yhat, u = (np.asarray(a, dtype=float) for a in (y, yhat, yhat_unlabelled))
    lam_ = tuned_lam(y, yhat, u) if lam is None else np.asarray(lam, dtype=float)
    weight = lam_[..., None] if np.ndim(lam_) else lam_
    estimate = (weight * u).mean(-1) + (y - weight * yhat).mean(-1)
    imputed = (weight * u).std(-1) / np.sqrt(u.shape[-1])
    rectifier = (y - weight * yhat).std(-1) / np.sqrt(y.shape[-1])
    se = np.sqrt(imputed**2 + rectifier**2)
    z = sps.norm.ppf(0.5 + confidence / 2)
    return estimate, estimate - z * se, estimate + z * se, se, lam_


def classical_mean(
    y: np.ndarray, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(estimate, low, high, se): the z-interval from people's labels alone (ppi_py's
    ``classical_mean_ci``), the baseline a judge-assisted interval is compared with.

    >>> [round(float(v), 4) for v in classical_mean(np.array([1., 0, 1, 1]))]
    [0.75, 0.3257, 1.1743, 0.2165]
    """
    y = np.asarray(y, dtype=float)
    se = y.std(-1) / np.sqrt(y.shape[-1])
    z = sps.norm.ppf(0.5 + confidence / 2)
    estimate = y.mean(-1)
    return estimate, estimate - z * se, estimate + z * se, se


def ppi_rate(
    y: np.ndarray,
    yhat: np.ndarray,
    yhat_unlabelled: np.ndarray,
    confidence: float = 0.95,
    lam: float | np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(estimate, low, high, lam) for a rate (``y`` of 0 and 1): ``ppi_mean``'s estimate with
    a score interval, Wilson's construction carried over. The z-interval takes the people's
    variance at the estimate, which near 0 or 1 with few labels is too small (it covers 88%
    of the time at 5 expected positives); this one keeps every rate ``t`` whose own variance
    admits the estimate: (estimate - t)^2 <= z^2 V(t). For 0/1 labels the rectifier's
    variance at rate t is t (1 - t) (1 - lam d)^2 + lam^2 w, with d the judge's mean on
    people's yes minus on their no and w its variance within each (both from the data), so
    the people's part and its covariance with the judge both move with t. With ``lam`` 0 it
    is Wilson's interval.

    >>> est, low, high, lam = ppi_rate(np.array([1., 0, 1, 1]), np.array([1., 0, 1, 0]),
    ...                                np.array([1., 1, 0, 1, 0, 1]))
    >>> round(float(low), 4), round(float(high), 4)
    (0.3805, 0.9829)
    >>> [round(float(b), 4) for b in ppi_rate(np.array([1., 0, 1, 1]), np.zeros(4),
    ...                                        np.zeros(4), lam=0.0)[1:3]]
    [0.3006, 0.9544]
    """
    y, yhat, u = (np.asarray(a, dtype=float) for a in (y, yhat, yhat_unlabelled))
    estimate, _, _, _, lam_ = ppi_mean(y, yhat, u, confidence, lam)
    n, big_n = y.shape[-1], u.shape[-1]
    yes, no = y.sum(-1), n - y.sum(-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        on_yes = np.nan_to_num((yhat * y).sum(-1) / yes)
        on_no = np.nan_to_num((yhat * (1 - y)).sum(-1) / no)
    gap = np.where((yes > 0) & (no > 0), on_yes - on_no, 0.0)
    within = np.where(y == 1, yhat - on_yes[..., None], yhat - on_no[..., None])
    spread = (within**2).mean(-1)
    judged = lam_**2 * u.var(-1) / big_n
    z2 = sps.norm.ppf(0.5 + confidence / 2) ** 2

    def outside(t: np.ndarray) -> np.ndarray:
        people = t * (1 - t) * (1 - lam_ * gap) ** 2 + lam_**2 * spread
        return (estimate - t) ** 2 > z2 * (judged + people / n)

    centre = np.clip(estimate, 0.0, 1.0)
    return estimate, score_bound(outside, centre, 0.0), score_bound(outside, centre, 1.0), lam_


def score_bound(outside, centre: np.ndarray, edge: float) -> np.ndarray:  # type: ignore[no-untyped-def]
    """The kept rate furthest from ``centre`` toward ``edge`` (bisection, to 1e-12)."""
    edge_ = np.full_like(centre, edge)
    kept, out = centre.copy(), edge_.copy()
    at_edge = ~outside(edge_)
    for _ in range(42):
        mid = (kept + out) / 2
        bad = outside(mid)
        out = np.where(bad, mid, out)
        kept = np.where(bad, kept, mid)
    return np.where(at_edge, edge_, kept)


def equivalent_labels(labelled: int, human_width: float, judged_width: float) -> float:
    """How many people's labels the human-only interval would need to be as narrow as the
    judge-assisted one (the width falls as one over the square root of the labels).

    >>> equivalent_labels(100, 0.2, 0.1)
    400.0
    """
    if judged_width <= 0:
        return float(labelled)
    return labelled * (human_width / judged_width) ** 2


def labels_for_width(
    variance: float, rho: float, half_width: float, judged: int, confidence: float = 0.95
) -> tuple[float, float | None]:
    """People's labels for a z-interval of ``half_width``: alone, and with a judge whose
    predictions correlate ``rho`` with their labels and who labels all ``judged`` items
    (people's n among them). With the tuned weight the variance is var(Y) ((1 - rho^2)/n +
    rho^2/judged), so n = (1 - rho^2) / (h^2/(z^2 var(Y)) - rho^2/judged). None when no n
    reaches the width with that many judged items.

    >>> alone, judged = labels_for_width(0.25, 0.7, 0.05, 100_000)
    >>> round(alone), round(judged)
    (384, 196)
    """
    z = sps.norm.ppf(0.5 + confidence / 2)
    target = (half_width / z) ** 2 / variance
    alone = 1 / target
    room = target - rho**2 / judged
    return alone, ((1 - rho**2) / room if room > 0 else None)
