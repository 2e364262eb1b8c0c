"""Pairwise statistics on arrays: win/tie/loss counts, Bradley-Terry strengths with bootstrap
intervals over contexts, rank intervals, the position bias and agreement.

A comparison is (context, system a, system b, score of a): 1 a won, 0 b won, 0.5 a tie (a tie
is half a win for each side, as Chatbot Arena counts it). Strengths are natural log-odds: a
system ``d`` stronger than another wins a comparison with probability ``1 / (1 + exp(-d))``;
the anchor system is 0. Nothing here touches the database (``reporting.aggregate`` feeds it).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from evaltool.reporting.agreement import krippendorff_alpha_nominal, raw_agreement
from evaltool.reporting.intervals import RATE, SSA, counts_on, score_interval
from evaltool.reporting.stats import _batched_bincount, _resample

# A tiny ridge keeps a fit finite when one system wins every comparison of a resample; it
# moves strengths by about 1e-6 of their size otherwise.
RIDGE = 1e-6
NEWTON_STEPS = 100
MAX_STEP = 2.0


@dataclass(frozen=True)
class Comparisons:
    """Comparisons as arrays of equal length; ``left_is_a`` says a's reply was shown left."""

    context: np.ndarray
    a: np.ndarray
    b: np.ndarray
    score: np.ndarray
    left_is_a: np.ndarray

    @classmethod
    def of(cls, context, a, b, score, left_is_a=None) -> Comparisons:  # type: ignore[no-untyped-def]
        """Arrays from sequences; ``left_is_a`` defaults to all true."""
        n = len(a)
        left = np.ones(n, bool) if left_is_a is None else np.asarray(left_is_a, bool)
        return cls(
            np.asarray(context, np.int64),
            np.asarray(a, np.int64),
            np.asarray(b, np.int64),
            np.asarray(score, float),
            left,
        )


def pair_index(n_systems: int) -> list[tuple[int, int]]:
    """Every unordered pair of systems, (i, j) with i < j, in the order the fits use.

    >>> pair_index(3)
    [(0, 1), (0, 2), (1, 2)]
    """
    return list(itertools.combinations(range(n_systems), 2))


def _per_pair(c: Comparisons, n_systems: int) -> tuple[np.ndarray, np.ndarray]:
    """Per comparison: its pair's column and the score of the pair's first system."""
    lookup = {p: k for k, p in enumerate(pair_index(n_systems))}
    low, high = np.minimum(c.a, c.b), np.maximum(c.a, c.b)
    if np.any(low == high):
        raise ValueError("a comparison of a system with itself")
    col = np.array([lookup[(int(i), int(j))] for i, j in zip(low, high, strict=True)], np.int64)
    first = np.where(c.a == low, c.score, 1.0 - c.score)
    return col, first


def fit_counts(totals: np.ndarray, wins: np.ndarray, n_systems: int, anchor: int = 0) -> np.ndarray:
    """Bradley-Terry strengths from per-pair counts, for a batch at once: ``totals`` and
    ``wins`` (score of each pair's first system) are (..., pairs); returns (..., systems).

    The log-likelihood is concave, so Newton's method from zero (steps capped) finds the
    maximum; the anchor's strength is held at 0.
    """
    pairs = pair_index(n_systems)
    x = np.zeros((len(pairs), n_systems))
    for k, (i, j) in enumerate(pairs):
        x[k, i], x[k, j] = 1.0, -1.0
    free = [s for s in range(n_systems) if s != anchor]
    xf = x[:, free]
    lead = totals.shape[:-1]
    theta = np.zeros((*lead, len(free)))
    for _ in range(NEWTON_STEPS):
        d = theta @ xf.T
        p = 1.0 / (1.0 + np.exp(-d))
        grad = (wins - totals * p) @ xf - RIDGE * theta
        info = np.einsum("...p,pi,pj->...ij", totals * p * (1 - p), xf, xf)
        info += RIDGE * np.eye(len(free))
        step = np.linalg.solve(info, grad[..., None])[..., 0]
        step = np.clip(step, -MAX_STEP, MAX_STEP)
        theta = theta + step
        if np.max(np.abs(step), initial=0.0) < 1e-12:
            break
    out = np.zeros((*lead, n_systems))
    out[..., free] = theta
    return out


def fit(c: Comparisons, n_systems: int, anchor: int = 0) -> np.ndarray:
    """Bradley-Terry strengths (ties half a win), the anchor at 0.

    >>> c = Comparisons.of([0, 1, 2, 3], [0, 0, 0, 1], [1, 1, 1, 0], [1, 1, 0.5, 0])
    >>> [round(float(x), 4) for x in fit(c, 2)]
    [0.0, -1.9459]
    """
    col, first = _per_pair(c, n_systems)
    size = len(pair_index(n_systems))
    totals = np.bincount(col, minlength=size).astype(float)
    wins = np.bincount(col, weights=first, minlength=size)
    return fit_counts(totals, wins, n_systems, anchor)


@dataclass(frozen=True)
class Strength:
    """One system's strength with its interval and Arena's rank interval."""

    system: int
    strength: float
    low: float | None
    high: float | None
    rank: int
    rank_low: int
    rank_high: int


def connected(c: Comparisons, n_systems: int) -> bool:
    """Whether the comparisons link every system to every other (else strengths are not
    identified)."""
    parent = list(range(n_systems))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in zip(c.a, c.b, strict=True):
        parent[root(int(i))] = root(int(j))
    return len({root(i) for i in range(n_systems)}) == 1


def strengths(
    c: Comparisons,
    n_systems: int,
    *,
    anchor: int = 0,
    resamples: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
    method: str = "percentile",
) -> list[Strength]:
    """Strengths with bootstrap intervals over contexts (each resampled context carries all
    its comparisons) and ranks: a system's rank is one plus the systems surely better (their
    interval lies wholly above its own); its rank interval runs to the systems count less
    those surely worse."""
    contexts, inverse = np.unique(c.context, return_inverse=True)
    col, first = _per_pair(c, n_systems)
    size = len(pair_index(n_systems))
    per_total = np.zeros((len(contexts), size))
    per_wins = np.zeros((len(contexts), size))
    np.add.at(per_total, (inverse, col), 1.0)
    np.add.at(per_wins, (inverse, col), first)

    def statistic(x: np.ndarray, axis: int = -1) -> np.ndarray:
        counts = _batched_bincount(np.moveaxis(x, axis, -1), len(contexts)).astype(float)
        theta = fit_counts(counts @ per_total, counts @ per_wins, n_systems, anchor)
        return np.moveaxis(theta, -1, 0)

    index = np.arange(len(contexts), dtype=np.int64)
    point = statistic(index)
    lows: list[float | None] = [None] * n_systems
    highs: list[float | None] = [None] * n_systems
    if len(contexts) >= 2:
        low, high, _ = _resample((index,), statistic, resamples, seed, confidence, method)
        lows, highs = [float(v) for v in low], [float(v) for v in high]
        lows[anchor] = highs[anchor] = 0.0
    return _ranked(point, lows, highs)


def _ranked(point: np.ndarray, lows: list, highs: list) -> list[Strength]:  # type: ignore[type-arg]
    """Attach Arena's rank and rank interval to each strength."""
    n = len(point)
    out = []
    for s in range(n):
        known = lows[s] is not None
        better = sum(1 for t in range(n) if known and t != s and lows[t] > highs[s])
        worse = sum(1 for t in range(n) if known and t != s and highs[t] < lows[s])
        order = 1 + int(np.sum(point > point[s]))
        rank_low = 1 + better if known else order
        rank_high = n - worse if known else order
        out.append(Strength(s, float(point[s]), lows[s], highs[s], rank_low, rank_low, rank_high))
    return out


@dataclass(frozen=True)
class PairRecord:
    """Win/tie/loss of system ``a`` against ``b`` and a's win rate (ties half) with its
    score interval."""

    a: int
    b: int
    wins: int
    ties: int
    losses: int
    rate: float
    low: float
    high: float


def records(c: Comparisons, n_systems: int, confidence: float = 0.95) -> list[PairRecord]:
    """Every compared pair's counts and win rate of its first system.

    >>> r = records(Comparisons.of([0, 1, 2], [0, 1, 0], [1, 0, 1], [1, 1, 0.5]), 2)[0]
    >>> (r.wins, r.ties, r.losses, round(r.rate, 3))
    (1, 1, 1, 0.5)
    """
    col, first = _per_pair(c, n_systems)
    out = []
    for k, (i, j) in enumerate(pair_index(n_systems)):
        values = first[col == k]
        if len(values) == 0:
            continue
        losses, ties, wins = counts_on(SSA, values)
        rate, low, high = score_interval(SSA, (losses, ties, wins), confidence)
        out.append(PairRecord(i, j, wins, ties, losses, rate, low, high))
    return out


def win_matrix(c: Comparisons, n_systems: int) -> np.ndarray:
    """Row system's win rate (ties half) against the column system; NaN where never compared."""
    m = np.full((n_systems, n_systems), np.nan)
    for r in records(c, n_systems):
        m[r.a, r.b], m[r.b, r.a] = r.rate, 1.0 - r.rate
    return m


@dataclass(frozen=True)
class PositionBias:
    """How often the reply shown left won among answers that were not ties."""

    left_share: float | None
    low: float | None
    high: float | None
    decided: int
    ties: int


def position_bias(c: Comparisons, confidence: float = 0.95) -> PositionBias:
    """The share of decided answers won by the left reply, with its Wilson interval (0.5
    when the side does not matter, as the randomised sides make the systems' own strengths
    cancel)."""
    left_score = np.where(c.left_is_a, c.score, 1.0 - c.score)
    ties = int(np.sum(left_score == 0.5))
    decided = left_score[left_score != 0.5]
    if len(decided) == 0:
        return PositionBias(None, None, None, 0, ties)
    share, low, high = score_interval(RATE, counts_on(RATE, decided), confidence)
    return PositionBias(share, low, high, len(decided), ties)


def agreement(answers: np.ndarray) -> dict[str, float | None]:
    """Raw agreement and Krippendorff's alpha on the three-way answer; ``answers`` is items x
    raters with codes 0, 0.5, 1 (score of the item's first system) and NaN for no answer."""
    return {
        "raw": raw_agreement(answers),
        "krippendorff_alpha": krippendorff_alpha_nominal(answers),
    }
