"""Pure statistics on arrays: outcome codes and bootstrap CIs over contexts (votes: ``votes``).

Nothing here touches the database; ``reporting.aggregate`` feeds these functions arrays.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats as sps

METRICS = ("sensibleness", "specificity", "ssa")
# Resampled context indices held in memory at once (scipy evaluates the statistic in batches).
BOOTSTRAP_BATCH_ELEMENTS = 4_000_000


def outcome_codes(sensible: np.ndarray, specific: np.ndarray) -> np.ndarray:
    """One small code per item: 0 not sensible, 1 sensible only, 2 sensible and specific.

    >>> outcome_codes(np.array([False, True, True]), np.array([False, False, True])).tolist()
    [0, 1, 2]
    """
    sensible = np.asarray(sensible, dtype=bool)
    return (sensible.astype(np.int8) + (sensible & np.asarray(specific, dtype=bool))).astype(
        np.int8
    )


@dataclass(frozen=True)
class Interval:
    """An estimate with its confidence interval; bounds are None when undefined."""

    estimate: float
    low: float | None
    high: float | None
    note: str | None = None


@dataclass(frozen=True)
class Difference:
    """A paired difference (A minus B) with its CI and the share of resamples at or below 0."""

    difference: float
    low: float | None
    high: float | None
    share_at_or_below_zero: float | None


def _batched_bincount(x: np.ndarray, size: int) -> np.ndarray:
    """Counts of 0..size-1 along the last axis, for every leading index at once."""
    lead = x.shape[:-1]
    rows = int(np.prod(lead)) if lead else 1
    offsets = (np.arange(rows, dtype=np.int64) * size).reshape(*lead, 1) if lead else 0
    flat = (x + offsets).ravel()
    return np.bincount(flat, minlength=rows * size).reshape(*lead, size)


def _design(rows: np.ndarray, pairs: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    """Numerator and denominator weights per distinct context pattern and output.

    ``rows`` are distinct patterns (one outcome code per system, -1 when absent). Outputs are
    3 metrics per system, then 3 differences per pair; each is sum(num) / sum(den).
    """
    sens, spec, present = rows >= 1, rows == 2, rows >= 0
    num, den = [], []
    for i in range(rows.shape[1]):
        for value in (sens[:, i], spec[:, i], (sens[:, i].astype(float) + spec[:, i]) / 2):
            num.append(value.astype(float))
            den.append(present[:, i].astype(float))
    for a, b in pairs:
        both = (present[:, a] & present[:, b]).astype(float)
        ds = (sens[:, a].astype(float) - sens[:, b]) * both
        dp = (spec[:, a].astype(float) - spec[:, b]) * both
        for value in (ds, dp, (ds + dp) / 2):
            num.append(value)
            den.append(both)
    return np.stack(num, axis=1), np.stack(den, axis=1)


def context_bootstrap(
    table: np.ndarray,
    pairs: list[tuple[int, int]],
    *,
    resamples: int,
    seed: int,
    confidence: float,
    method: str,
) -> tuple[list[dict[str, Interval]], list[dict[str, Difference]]]:
    """CIs for every system's metrics and every pair's differences from one bootstrap.

    ``table`` is contexts x systems of ``outcome_codes`` (-1: no item there). Contexts are
    resampled with replacement, each carrying all its items; every system's rates and every
    pair's differences (over shared contexts) are computed from the same resamples. Contexts
    with the same pattern are counted, not copied, which keeps 10,000 x 10,000 fast.

    >>> t = np.array([[2, 0], [1, 1], [2, 2], [0, 0]])
    >>> ivs, diffs = context_bootstrap(t, [(0, 1)], resamples=1000, seed=0,
    ...                                confidence=0.95, method="percentile")
    >>> ivs[0]["ssa"].estimate, ivs[1]["ssa"].estimate, diffs[0]["ssa"].difference
    (0.625, 0.375, 0.25)
    """
    table = np.asarray(table, dtype=np.int8)
    patterns, inverse = np.unique(table, axis=0, return_inverse=True)
    num, den = _design(patterns, pairs)
    size = len(patterns)

    def statistic(x: np.ndarray, axis: int = -1) -> np.ndarray:
        counts = _batched_bincount(np.moveaxis(x, axis, -1), size).astype(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            out = (counts @ num) / (counts @ den)
        return np.moveaxis(out, -1, 0)

    index = inverse.reshape(-1).astype(np.int64)
    point = statistic(index)
    low = high = dist = None
    if len(index) >= 2:
        low, high, dist = _resample((index,), statistic, resamples, seed, confidence, method)
    return _collect(point, (low, high, dist), table.shape[1], len(pairs), confidence)


def _resample(
    samples: tuple[np.ndarray, ...],
    statistic: Any,
    resamples: int,
    seed: int,
    confidence: float,
    method: str,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """scipy's bootstrap over the samples' indices, each sample resampled on its own: (lows,
    highs, bootstrap distribution)."""
    with warnings.catch_warnings():  # degenerate data: reported as "no variation" later
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", sps.DegenerateDataWarning)
        res = sps.bootstrap(
            samples,
            statistic,
            vectorized=True,
            n_resamples=resamples,
            confidence_level=confidence,
            method="BCa" if method == "bca" else "percentile",
            random_state=np.random.default_rng(seed),
            batch=max(1, BOOTSTRAP_BATCH_ELEMENTS // max(len(x) for x in samples)),
        )
    low, high = res.confidence_interval
    return low, high, res.bootstrap_distribution


def _interval(
    estimate: float, low: Any, high: Any, dist: Any, o: int, confidence: float
) -> Interval:
    """The bootstrap interval of output ``o``. Resamples that drew none of a system's contexts
    are left out (percentile over the rest) instead of erasing the interval."""
    if low is None:
        return Interval(float(estimate), None, None, "one context: no bootstrap interval")
    values = dist[o][~np.isnan(dist[o])]
    if len(values) < len(dist[o]):
        if len(values) == 0:
            return Interval(float(estimate), None, None, "no resample held these contexts")
        tail = 50 * (1 - confidence)
        lo, hi = np.percentile(values, [tail, 100 - tail])
        note = f"{len(dist[o]) - len(values)} resamples without these contexts left out"
        return Interval(float(estimate), float(lo), float(hi), note)
    lo, hi = low[o], high[o]
    if np.isnan(lo) or np.isnan(hi):  # BCa is undefined when the resamples never vary
        return Interval(float(estimate), float(estimate), float(estimate))
    return Interval(float(estimate), float(lo), float(hi))


def cluster_bootstrap(
    groups: list[np.ndarray],
    pairs: list[tuple[int, int]],
    *,
    resamples: int,
    seed: int,
    confidence: float,
    method: str,
) -> tuple[list[dict[str, Interval]], list[dict[str, Difference]]]:
    """CIs for each group's metrics, resampling whole clusters (conversations), and for the
    differences between groups (independent samples: each resampled on its own).

    ``groups[g]`` is clusters x 3 counts: items, sensible, sensible and specific. A rate is
    the sum over the drawn clusters of its count over the sum of items, so the turns of one
    conversation, which are not independent, move together.

    >>> a = np.array([[2, 2, 1], [2, 1, 1], [3, 3, 3]])
    >>> b = np.array([[2, 0, 0], [2, 1, 0]])
    >>> ivs, diffs = cluster_bootstrap([a, b], [(0, 1)], resamples=1000, seed=0,
    ...                                confidence=0.95, method="percentile")
    >>> round(ivs[0]["sensibleness"].estimate, 3), ivs[1]["ssa"].estimate
    (0.857, 0.125)
    """
    counts = [np.asarray(g, dtype=float).reshape(-1, 3) for g in groups]

    def rates(sample: np.ndarray) -> np.ndarray:  # (..., clusters, 3) -> (..., 3)
        total = sample.sum(axis=-2)
        with np.errstate(invalid="ignore", divide="ignore"):
            sens, spec = total[..., 1] / total[..., 0], total[..., 2] / total[..., 0]
        return np.stack([sens, spec, (sens + spec) / 2], axis=-1)

    def statistic(*index: np.ndarray, axis: int = -1) -> np.ndarray:
        per = [
            rates(c[np.moveaxis(i, axis, -1).astype(np.int64)])
            for c, i in zip(counts, index, strict=True)
        ]
        out = per + [per[a] - per[b] for a, b in pairs]
        return np.moveaxis(np.concatenate(out, axis=-1), -1, 0)

    index = [np.arange(len(c)) for c in counts]
    point = statistic(*index)
    low = high = dist = None
    if all(len(i) >= 2 for i in index):
        low, high, dist = _resample(tuple(index), statistic, resamples, seed, confidence, method)
    return _collect(point, (low, high, dist), len(counts), len(pairs), confidence)


def _collect(
    point: np.ndarray, boot: tuple[Any, Any, Any], k: int, pairs: int, confidence: float
) -> tuple[list[dict[str, Interval]], list[dict[str, Difference]]]:
    """Outputs (3 metrics per system, then 3 differences per pair) as intervals."""
    low, high, dist = boot

    def interval(o: int) -> Interval:
        return _interval(point[o], low, high, dist, o, confidence)

    systems = [{m: interval(3 * i + j) for j, m in enumerate(METRICS)} for i in range(k)]
    diffs: list[dict[str, Difference]] = []
    for p in range(pairs):
        d = {}
        for j, m in enumerate(METRICS):
            o = 3 * k + 3 * p + j
            iv = interval(o)
            share = None
            if dist is not None and not np.isnan(dist[o]).all():
                share = float(np.mean(dist[o][~np.isnan(dist[o])] <= 0))
            d[m] = Difference(iv.estimate, iv.low, iv.high, share)
        diffs.append(d)
    return systems, diffs
