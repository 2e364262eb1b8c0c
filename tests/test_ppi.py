"""Judge-assisted intervals (``reporting.ppi``): equal to ppi_py's, Wilson's at no judge, and
by simulation on the grid of rates, correlations, biases and human shares, intervals that
cover and are narrower than people's alone where a judge can make them so."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

from evaltool.reporting import ppi

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import ppi_coverage

try:
    import ppi_py
    from statsmodels.stats.proportion import proportion_confint
except ImportError:  # pragma: no cover - CI installs it (the test extra)
    if os.environ.get("CI"):
        raise
    ppi_py = None


def samples(seed: int):  # type: ignore[no-untyped-def]
    """People's 0/1 labels, the judge's scores on them and on the rest, in a few shapes."""
    rng = np.random.default_rng(seed)
    for n, big_n, rate in [(5, 7, 0.5), (40, 400, 0.1), (300, 2_000, 0.7), (1_000, 50, 0.98)]:
        y = (rng.random(n) < rate).astype(float)
        noisy = y + rng.normal(0, 0.7, n)
        yield y, noisy, rng.random(big_n) + rng.normal(0.1, 0.5, big_n)
        yield y, (rng.random(n) < 0.5).astype(float), (rng.random(big_n) < 0.5).astype(float)


@pytest.mark.skipif(ppi_py is None, reason="ppi-python is not installed (pip install .[test])")
@pytest.mark.parametrize("seed", range(5))
def test_estimates_and_intervals_equal_ppi_py(seed: int) -> None:
    """Point estimate, tuned weight and 95% and 90% intervals, to 1e-9."""
    for y, yhat, rest in samples(seed):
        for confidence in (0.95, 0.9):
            est, low, high, _, lam = ppi.ppi_mean(y, yhat, rest, confidence)
            theirs = ppi_py.ppi_mean_ci(y, yhat, rest, alpha=1 - confidence)
            assert np.allclose([low, high], np.ravel(theirs), rtol=0, atol=1e-9)
            point = ppi_py.ppi_mean_pointestimate(y, yhat, rest)
            assert abs(est - float(np.ravel(point)[0])) < 1e-9
            fixed = ppi.ppi_mean(y, yhat, rest, confidence, lam=0.3)
            theirs = ppi_py.ppi_mean_ci(y, yhat, rest, alpha=1 - confidence, lam=0.3)
            assert np.allclose(fixed[1:3], np.ravel(theirs), rtol=0, atol=1e-9)
            assert 0 <= lam <= 1
        classical = ppi.classical_mean(y)
        theirs = ppi_py.classical_mean_ci(y, alpha=0.05)
        assert np.allclose(classical[1:3], np.ravel(theirs), rtol=0, atol=1e-9)


@pytest.mark.skipif(ppi_py is None, reason="statsmodels comes with ppi-python")
def test_the_rate_interval_is_wilsons_without_a_judge() -> None:
    """Weight 0: Wilson's score interval (statsmodels), including no and all successes."""
    for successes, n in [(0, 20), (3, 4), (20, 20), (57, 300)]:
        y = np.r_[np.ones(successes), np.zeros(n - successes)]
        _, low, high, _ = ppi.ppi_rate(y, np.zeros(n), np.zeros(10), lam=0.0)
        assert np.allclose([low, high], proportion_confint(successes, n, method="wilson"))


def test_a_perfect_judge_leaves_only_the_judged_items_uncertainty() -> None:
    """Judge equal to people: a weight near 1 (1/(1 + n/N), less sampling noise), and about
    the judged items' uncertainty alone."""
    rng = np.random.default_rng(0)
    y = (rng.random(200) < 0.3).astype(float)
    rest = (rng.random(5_000) < 0.3).astype(float)
    estimate, _, _, se, lam = ppi.ppi_mean(y, y, rest)
    assert lam > 0.85
    assert abs(estimate - (rest.mean() * lam + y.mean() * (1 - lam))) < 1e-12
    assert se < 1.1 * rest.std() / np.sqrt(rest.size)


@pytest.mark.slow
def test_coverage_and_width_on_the_grid() -> None:
    """2,000 replications per cell of 2,000 items (the bench's own grid): rate and difference
    intervals cover 93-97%, within 2.5 standard errors of the simulation (0.0049); at rho 0.7
    and a 5% share every interval is at least 25% narrower than people's alone on the same
    labels; everywhere every interval is within 6 points of the best any method can do,
    sqrt(1 - rho^2 (1 - share)); a judge of pure noise makes no interval more than 2% wider."""
    cells = ppi_coverage.grid(replications=2_000, items=2_000)
    slack = 2.5 * np.sqrt(0.95 * 0.05 / 2_000)
    for c in cells:
        for covered in (c.rate_covered, c.difference_covered):
            assert 0.93 - slack <= covered <= 0.97 + slack, c
        assert max(c.width_ratio, c.difference_width_ratio) <= c.theory + 0.06, c
        if c.rho == 0:
            assert c.width_ratio <= 1.02 and c.difference_width_ratio <= 1.02, c
        if c.rho == 0.7 and c.share == 0.05:
            assert c.width_ratio <= 0.75 and c.difference_width_ratio <= 0.75, c
    assert min(c.rate_covered_z for c in cells) < 0.91  # why the rate's interval is a score one


def test_labels_for_width_matches_the_simulated_variance() -> None:
    """The plan's formula against the variance of simulated estimates."""
    rng = np.random.default_rng(3)
    alone, judged = ppi.labels_for_width(0.25, 0.7, 0.05, 20_000)
    n = round(judged)
    y = (rng.random((4_000, 20_000)) < 0.5).astype(float)
    scores = ppi_coverage.judge(rng, y, 0.5, 0.7, 0.1)
    est, *_ = ppi.ppi_mean(y[:, :n], scores[:, :n], scores[:, n:])
    half_width = 1.96 * est.std()
    assert 0.047 < half_width < 0.053 and alone > 1.9 * judged
