"""Statistics against hand computations and independent implementations."""

from __future__ import annotations

import numpy as np
import pytest

from evaltool.reporting import stats, votes

NAN = np.nan


def test_majority_tie_is_no() -> None:
    assert votes.majority(np.array([2, 1, 1, 3, 0]), np.array([3, 2, 1, 5, 2])).tolist() == [
        True,
        False,
        True,
        True,
        False,
    ]


def test_not_sensible_means_not_specific() -> None:
    # 3 raters: sensible 1/3 (no), specific 2/3 counted raw would say yes, but the item is not
    sensible, specific = votes.item_votes(
        np.array([1, 2, 3]), np.array([2, 2, 1]), np.array([3, 3, 3])
    )
    assert sensible.tolist() == [False, True, True]
    assert specific.tolist() == [False, True, False]


def test_point_estimates_by_hand() -> None:
    # system A on 4 contexts: S+P, S, -, S+P -> sens 3/4, spec 2/4, SSA 5/8
    # system B: -, S, S+P, (absent) -> sens 2/3, spec 1/3; shared contexts 0..2
    table = np.array([[2, 0], [1, 1], [0, 2], [2, -1]])
    ivs, diffs = stats.context_bootstrap(
        table, [(0, 1)], resamples=1000, seed=1, confidence=0.9, method="percentile"
    )
    assert ivs[0]["sensibleness"].estimate == pytest.approx(0.75)
    assert ivs[0]["specificity"].estimate == pytest.approx(0.5)
    assert ivs[0]["ssa"].estimate == pytest.approx(0.625)
    assert ivs[1]["sensibleness"].estimate == pytest.approx(2 / 3)
    assert ivs[1]["ssa"].estimate == pytest.approx(0.5)
    # shared contexts 0..2: A sens 2/3 vs B 2/3; A spec 1/3 vs B 1/3
    assert diffs[0]["sensibleness"].difference == pytest.approx(0.0)
    assert diffs[0]["ssa"].difference == pytest.approx(0.0)


def test_ci_reproducible_with_seed_and_changes_with_seed() -> None:
    rng = np.random.default_rng(3)
    table = rng.integers(0, 3, size=(200, 2))
    kw = dict(resamples=2000, confidence=0.95, method="bca")
    a = stats.context_bootstrap(table, [(0, 1)], seed=7, **kw)
    b = stats.context_bootstrap(table, [(0, 1)], seed=7, **kw)
    c = stats.context_bootstrap(table, [(0, 1)], seed=8, **kw)
    assert a == b
    assert a != c


def test_ci_matches_scipy_on_raw_items() -> None:
    """The pattern-count trick gives the same interval as bootstrapping raw items."""
    from scipy import stats as sps

    rng = np.random.default_rng(5)
    codes = rng.integers(0, 3, size=300)
    ivs, _ = stats.context_bootstrap(
        codes[:, None], [], resamples=3000, seed=11, confidence=0.95, method="percentile"
    )
    res = sps.bootstrap(
        (codes >= 1,),
        np.mean,
        n_resamples=3000,
        method="percentile",
        random_state=np.random.default_rng(11),
    )
    assert ivs[0]["sensibleness"].low == pytest.approx(res.confidence_interval.low, abs=0.01)
    assert ivs[0]["sensibleness"].high == pytest.approx(res.confidence_interval.high, abs=0.01)


def test_coverage_of_the_interval_is_honest() -> None:
    """Over simulated studies, the 90% CI covers the true sensibleness about 90% of the time."""
    rng = np.random.default_rng(0)
    truth, hits, runs = 0.7, 0, 200
    for i in range(runs):
        codes = (rng.random(150) < truth).astype(np.int8)
        ivs, _ = stats.context_bootstrap(
            codes[:, None], [], resamples=1000, seed=i, confidence=0.9, method="percentile"
        )
        hits += ivs[0]["sensibleness"].low <= truth <= ivs[0]["sensibleness"].high
    assert 0.84 <= hits / runs <= 0.96


def test_paired_bootstrap_detects_real_difference_not_null() -> None:
    rng = np.random.default_rng(1)
    n = 300
    better = np.where(rng.random(n) < 0.75, 2, 0)
    worse = np.where(rng.random(n) < 0.55, 2, 0)
    _, diffs = stats.context_bootstrap(
        np.stack([better, worse], 1),
        [(0, 1)],
        resamples=4000,
        seed=0,
        confidence=0.95,
        method="bca",
    )
    d = diffs[0]["ssa"]
    assert d.low > 0 and d.share_at_or_below_zero < 0.01
    same = np.where(rng.random(n) < 0.6, 2, 0)
    twin = np.where(rng.random(n) < 0.6, 2, 0)
    _, diffs = stats.context_bootstrap(
        np.stack([same, twin], 1), [(0, 1)], resamples=4000, seed=0, confidence=0.95, method="bca"
    )
    d = diffs[0]["ssa"]
    assert d.low < 0 < d.high and 0.05 < d.share_at_or_below_zero < 0.95


def test_single_context_and_no_variation() -> None:
    ivs, _ = stats.context_bootstrap(
        np.array([[2]]), [], resamples=1000, seed=0, confidence=0.95, method="bca"
    )
    assert ivs[0]["ssa"].low is None and "one context" in ivs[0]["ssa"].note
    ivs, _ = stats.context_bootstrap(
        np.full((20, 1), 2), [], resamples=1000, seed=0, confidence=0.95, method="bca"
    )
    assert ivs[0]["ssa"].estimate == ivs[0]["ssa"].low == ivs[0]["ssa"].high == 1.0
