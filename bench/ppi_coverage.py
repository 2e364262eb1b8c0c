"""Simulation: judge-assisted (PPI++) intervals cover the truth and are narrower than people's
alone, on a grid of rates, judge-human correlations, judge biases and human shares.

Each simulated system has ``--items`` items; a person's verdict on an item is 1 with the
system's rate. A judge scores every item: rate + bias + (verdict - rate) + noise, the noise
set so that the score correlates ``rho`` with the verdict (rho 0: pure noise). People label a
uniformly random share. Per cell: the share of 95% intervals (``reporting.ppi``) that hold
the rate (the report's score interval, and ppi_py's z-interval beside it), and the same for
the paired difference between two systems on the same items (the second system's rate lower,
the judge biased for the first only; z-interval); and the judge-assisted interval's width
over the human-only interval's on the same labels (Wilson's for rates, z for differences),
with the width theory predicts for a tuned judge, sqrt(1 - rho^2 (1 - share)): no method
does better, so at a share of 50% a judge of rho 0.7 narrows the interval by 13% at most.

    .venv/bin/python bench/ppi_coverage.py [--replications 2000] [--items 2000]
"""

from __future__ import annotations

import argparse
import itertools
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evaltool.reporting.ppi import classical_mean, ppi_mean, ppi_rate

RATES = {0.05: 0.03, 0.5: 0.4, 0.95: 0.9}  # a rate, and the second system's for differences
RHOS = (0.0, 0.3, 0.5, 0.7, 0.9)
BIASES = (0.0, 0.1, 0.2)
SHARES = (0.05, 0.2, 0.5)


@dataclass(frozen=True)
class Cell:
    """One point of the grid and what the simulation found there."""

    rate: float
    rho: float
    bias: float
    share: float
    rate_covered: float  # the score interval (the report's)
    rate_covered_z: float  # ppi_py's z-interval
    difference_covered: float
    width_ratio: float  # judge-assisted over human-only (Wilson's), mean over replications
    difference_width_ratio: float  # over the human-only z-interval
    theory: float


def judge(rng: np.random.Generator, y: np.ndarray, rate: float, rho: float, bias: float):  # type: ignore[no-untyped-def]
    """Scores that correlate ``rho`` with the verdicts ``y`` and average ``rate + bias``."""
    sd = np.sqrt(rate * (1 - rate))
    noise = rng.standard_normal(y.shape)
    if rho == 0:
        return rate + bias + sd * noise
    return rate + bias + (y - rate) + sd * np.sqrt(1 / rho**2 - 1) * noise


def cell(
    rng: np.random.Generator,
    rate: float,
    rho: float,
    bias: float,
    share: float,
    items: int,
    replications: int,
) -> Cell:
    """Simulate one point of the grid, every replication at once."""
    n = round(share * items)
    other = RATES[rate]
    y_a = (rng.random((replications, items)) < rate).astype(float)
    y_b = (rng.random((replications, items)) < other).astype(float)
    s_a = judge(rng, y_a, rate, rho, bias)
    s_b = judge(rng, y_b, other, rho, 0.0)
    labelled, judged, rest = y_a[:, :n], s_a[:, :n], s_a[:, n:]
    _, low, high, _ = ppi_rate(labelled, judged, rest)
    covered = float(((low <= rate) & (rate <= high)).mean())
    _, zlow, zhigh, _, _ = ppi_mean(labelled, judged, rest)
    z_covered = float(((zlow <= rate) & (rate <= zhigh)).mean())
    _, hlow, hhigh, _ = ppi_rate(labelled, judged, rest, lam=0.0)  # Wilson's, people alone
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = float(np.nanmean((high - low) / (hhigh - hlow)))
    d, d_hat = y_a - y_b, s_a - s_b
    _, dlow, dhigh, dse, _ = ppi_mean(d[:, :n], d_hat[:, :n], d_hat[:, n:])
    truth = rate - other
    paired = float(((dlow <= truth) & (truth <= dhigh)).mean())
    _, _, _, dhuman = classical_mean(d[:, :n])
    with np.errstate(divide="ignore", invalid="ignore"):
        d_ratio = float(np.nanmean(dse / dhuman))
    theory = float(np.sqrt(1 - rho**2 * (1 - share)))
    return Cell(rate, rho, bias, share, covered, z_covered, paired, ratio, d_ratio, theory)


def grid(replications: int, items: int, seed: int = 0) -> list[Cell]:
    """Every cell of the grid, each from its own stream."""
    cells = []
    for i, (rate, rho, bias, share) in enumerate(itertools.product(RATES, RHOS, BIASES, SHARES)):
        rng = np.random.default_rng([seed, i])
        cells.append(cell(rng, rate, rho, bias, share, items, replications))
    return cells


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--replications", type=int, default=2000)
    ap.add_argument("--items", type=int, default=2000, help="Items per system.")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    cells = grid(args.replications, args.items, args.seed)
    print(f"{args.items} items per system, {args.replications} replications per cell")
    print(
        " rate   rho  bias share | covered: rate  rate (z)  difference | width/human: rate "
        " difference  theory"
    )
    for c in cells:
        print(
            f"{c.rate:5.2f} {c.rho:5.1f} {c.bias:5.1f} {c.share:5.2f} | {c.rate_covered:13.3f} "
            f"{c.rate_covered_z:8.3f} {c.difference_covered:11.3f} | {c.width_ratio:17.3f} "
            f"{c.difference_width_ratio:11.3f} {c.theory:7.3f}"
        )
    covered = [x for c in cells for x in (c.rate_covered, c.difference_covered)]
    print(f"coverage: {min(covered):.3f} to {max(covered):.3f} (target 0.93 to 0.97)")
    z = [c.rate_covered_z for c in cells]
    print(f"rates with ppi_py's z-interval instead: {min(z):.3f} to {max(z):.3f}")
    at = [c for c in cells if c.rho == 0.7]
    for share in SHARES:
        ratios = [
            r for c in at if c.share == share for r in (c.width_ratio, c.difference_width_ratio)
        ]
        print(
            f"rho 0.7, human share {share:.0%}: width {1 - max(ratios):.1%} to "
            f"{1 - min(ratios):.1%} narrower than human-only"
        )
    noise = max(max(c.width_ratio, c.difference_width_ratio) for c in cells if c.rho == 0)
    print(f"pure-noise judge: at most {noise - 1:+.1%} wider than human-only")


if __name__ == "__main__":
    main()
