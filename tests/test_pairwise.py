"""Pairwise statistics: Bradley-Terry against an independent fit, ranks, win rates, the
position bias and agreement."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import optimize

from evaltool.reporting import pairwise as pw


def simulate(theta, contexts, tie_share, rng, left_bias=0.0):  # type: ignore[no-untyped-def]
    """Every pair of systems on each context; a tie with probability ``tie_share``, else a
    win drawn so that the expected score (ties half) is the Bradley-Terry probability."""
    rows = []
    for c in range(contexts):
        for i, j in pw.pair_index(len(theta)):
            p = 1 / (1 + np.exp(-(theta[i] - theta[j])))
            left_is_a = bool(rng.random() < 0.5)
            if rng.random() < tie_share:
                score = 0.5
            else:
                q = (p - tie_share / 2) / (1 - tie_share)
                q = min(1.0, max(0.0, q + (left_bias if left_is_a else -left_bias)))
                score = float(rng.random() < q)
            rows.append((c, i, j, score, left_is_a))
    return pw.Comparisons.of(*zip(*rows, strict=True))


def reference_fit(c: pw.Comparisons, n: int, anchor: int) -> np.ndarray:
    """An independent fit: logistic regression without intercept on one row per comparison
    (a tie as half a win and half a loss, as FastChat's ``rating_systems.py`` does), by BFGS."""
    x = np.zeros((len(c.a), n))
    x[np.arange(len(c.a)), c.a] = 1.0
    x[np.arange(len(c.a)), c.b] = -1.0
    x = np.delete(x, anchor, axis=1)
    rows = np.vstack([x, x])
    y = np.concatenate([np.ones(len(c.a)), np.zeros(len(c.a))])
    w = np.concatenate([c.score, 1 - c.score])

    def loss(beta: np.ndarray) -> tuple[float, np.ndarray]:
        z = rows @ beta
        nll = np.sum(w * (np.logaddexp(0, z) - y * z))
        grad = rows.T @ (w * (1 / (1 + np.exp(-z)) - y))
        return float(nll), grad

    res = optimize.minimize(loss, np.zeros(n - 1), jac=True, method="BFGS", options={"gtol": 1e-9})
    return np.insert(res.x, anchor, 0.0)


@pytest.mark.parametrize(("n", "ties", "anchor"), [(3, 0.0, 0), (5, 0.2, 2), (8, 0.3, 7)])
def test_fit_equals_an_independent_logistic_regression(n: int, ties: float, anchor: int) -> None:
    rng = np.random.default_rng(n)
    theta = rng.uniform(-0.8, 0.8, n)
    c = simulate(theta, 60, ties, rng)
    np.testing.assert_allclose(pw.fit(c, n, anchor), reference_fit(c, n, anchor), atol=1e-4)


def test_strengths_have_intervals_around_the_fit_and_arena_ranks() -> None:
    rng = np.random.default_rng(0)
    c = simulate(np.array([0.0, 0.0, 1.5]), 200, 0.1, rng)
    out = pw.strengths(c, 3, resamples=500, seed=1)
    assert out[0].strength == 0 and out[0].low == out[0].high == 0
    for s in out:
        assert s.low <= s.strength <= s.high
    # system 2 is surely better than both; 0 and 1 are tied in rank 2-3
    assert (out[2].rank, out[2].rank_low, out[2].rank_high) == (1, 1, 1)
    assert {(s.rank_low, s.rank_high) for s in out[:2]} == {(2, 3)}


def test_strengths_reproduce_from_the_seed() -> None:
    c = simulate(np.array([0.0, 0.4, 0.8]), 50, 0.2, np.random.default_rng(3))
    assert pw.strengths(c, 3, seed=5) == pw.strengths(c, 3, seed=5)


def test_one_system_winning_everything_stays_finite() -> None:
    c = pw.Comparisons.of([0, 1, 2], [0, 0, 0], [1, 1, 1], [1, 1, 1])
    out = pw.strengths(c, 2, resamples=200)
    assert np.isfinite([s.strength for s in out]).all() and out[1].strength < -5


def test_records_and_matrix_count_ties_as_half() -> None:
    c = pw.Comparisons.of(range(5), [0, 1, 0, 2, 0], [1, 0, 1, 0, 2], [1, 1, 0.5, 0, 1])
    ab, ac = pw.records(c, 3)
    assert (ab.a, ab.b, ab.wins, ab.ties, ab.losses) == (0, 1, 1, 1, 1)
    assert ab.low < ab.rate == 0.5 < ab.high
    assert (ac.wins, ac.losses) == (2, 0)
    m = pw.win_matrix(c, 3)
    assert m[0, 2] == 1.0 and m[2, 0] == 0.0 and np.isnan(m[1, 2])


def test_position_bias_is_found_when_raters_prefer_the_left_reply() -> None:
    fair = pw.position_bias(simulate(np.zeros(3), 300, 0.1, np.random.default_rng(1)))
    assert fair.low < 0.5 < fair.high
    biased = simulate(np.zeros(3), 300, 0.1, np.random.default_rng(1), left_bias=0.15)
    assert pw.position_bias(biased).low > 0.55


def test_connected_says_when_strengths_are_not_identified() -> None:
    c = pw.Comparisons.of([0, 1], [0, 2], [1, 3], [1, 0])
    assert not pw.connected(c, 4)
    assert pw.connected(pw.Comparisons.of([0, 1], [0, 1], [1, 2], [1, 0]), 3)


def test_agreement_on_the_three_way_answer() -> None:
    answers = np.array([[1, 1, 1], [0, 0, 0.5], [0.5, 0.5, np.nan]])
    out = pw.agreement(answers)
    assert out["raw"] == pytest.approx((1 + 1 / 3 + 1) / 3)
    assert 0 < out["krippendorff_alpha"] < 1
