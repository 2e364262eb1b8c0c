"""Simulation: the active human share's intervals cover the truth, and how many people's labels
it saves against the uniform share for the same SSA interval width.

Each replication has ``--contexts`` contexts answered by two systems. An item's hidden chances
of being sensible and of being specific given sensible are logit-normal (the first averages
the cell's rate, the second 1/2; the spread is set so that a calibrated judge's predicted SSA
correlates ``rho`` with people's item SSA); people's verdicts are drawn from them. The judge
is *calibrated* (it reports those chances), *miscalibrated* (overconfident and biased up:
logit x 1.6 + 0.7) or has a *poor uncertainty* score (calibrated predictions, but the
uncertainty the draw uses is another context's, so it tells nothing). The active design is
the one ``collection --active`` makes: a uniform pilot of a third of the share, the floor
chosen on the pilot, the rest drawn with chances from the judge's uncertainty
(``reporting.active``); the uniform design draws the whole share at random
(``reporting.ppi``). Per cell: the coverage of the 95% intervals for sensibleness (score
interval), SSA and the SSA difference, and the people's labels the uniform share needs for
the same variance of system A's SSA estimate (``saving``), beside the most any chance rule could
save knowing each item's true expected error (``ceiling``).

    .venv/bin/python bench/active_coverage.py [--replications 500] [--contexts 1477]
"""

from __future__ import annotations

import argparse
import itertools
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
from scipy.special import expit, logit
from scipy.stats import norm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evaltool.reporting.active import choose_floor, ipw_difference, ipw_score, item_sd, staged

RATES = {0.05: 0.03, 0.5: 0.4, 0.95: 0.9}  # system A's sensibleness rate, and system B's
RHOS = (0.3, 0.5, 0.7, 0.9)
JUDGES = ("calibrated", "miscalibrated", "poor uncertainty")
SHARES = (0.03, 0.1, 0.2)
PILOT = [1 / 3]  # the pilot, as a share of the share (--pilot)
NODES, WEIGHTS = np.polynomial.hermite_e.hermegauss(80)


@dataclass(frozen=True)
class Cell:
    rate: float
    rho: float
    judge: str
    share: float
    sensible_covered: float
    ssa_covered: float
    difference_covered: float
    saving: float  # 1 - active labels / uniform labels for the same SSA variance
    ceiling: float  # the most any chance rule could save here
    floor: float  # mean floor the pilot chose


def mean_chance(mu: float, sigma: float) -> float:
    """E[expit(mu + sigma g)], g standard normal (Gauss-Hermite)."""
    return float((WEIGHTS * expit(mu + sigma * NODES)).sum() / WEIGHTS.sum())


def centre(rate: float, sigma: float) -> float:
    """The logit centre whose chances average ``rate`` at this spread."""
    lo, hi = -20.0, 20.0
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if mean_chance(mid, sigma) < rate else (lo, mid)
    return (lo + hi) / 2


@cache
def spread(rate: float, rho: float) -> float:
    """The spread of the logits at which a calibrated judge correlates ``rho`` with item SSA."""
    rng = np.random.default_rng(12345)
    g = rng.standard_normal((2, 200_000))
    u = rng.random((2, 200_000))
    lo, hi = 0.01, 12.0
    for _ in range(40):
        sigma = (lo + hi) / 2
        qs = expit(centre(rate, sigma) + sigma * g[0])
        qp = expit(sigma * g[1])
        ssa = ((u[0] < qs) * (1.0 + (u[1] < qp))) / 2
        r = np.corrcoef(ssa, (qs + qs * qp) / 2)[0, 1]
        lo, hi = (sigma, hi) if r < rho else (lo, sigma)
    return (lo + hi) / 2


def system(rng: np.random.Generator, shape: tuple[int, int], rate: float, sigma: float, judge: str):  # type: ignore[no-untyped-def]
    """(people's SSA, sensible, the judge's predicted SSA and sensible, its uncertainty)."""
    qs = expit(centre(rate, sigma) + sigma * rng.standard_normal(shape))
    qp = expit(sigma * rng.standard_normal(shape))
    sensible = (rng.random(shape) < qs).astype(float)
    ssa = sensible * (1.0 + (rng.random(shape) < qp)) / 2
    ps, pp = qs, qp
    if judge == "miscalibrated":
        ps, pp = (expit(1.6 * logit(np.clip(q, 1e-12, 1 - 1e-12)) + 0.7) for q in (qs, qp))
    sd, hat = item_sd(ps, pp), (ps + ps * pp) / 2
    if judge == "poor uncertainty":
        sd = rng.permuted(sd, axis=-1)
    mse = item_sd(qs, qp) ** 2 + (hat - (qs + qs * qp) / 2) ** 2  # E[(SSA - hat)^2 | chances]
    return ssa, sensible, hat, ps, sd, mse


def truth(rate: float, sigma: float) -> tuple[float, float]:
    """(sensibleness, SSA) over the whole population."""
    sens = mean_chance(centre(rate, sigma), sigma)
    return sens, (sens + sens * mean_chance(0.0, sigma)) / 2


def active(rng: np.random.Generator, u: np.ndarray, e2: np.ndarray, share: float):  # type: ignore[no-untyped-def]
    """(labelled, chances, floors): a uniform pilot of a third of the share, then the rest."""
    reps, n = u.shape
    pilot_n = max(2, round(share * n * PILOT[0]))
    order = rng.random((reps, n)).argsort(-1)
    in_pilot = np.zeros((reps, n), bool)
    np.put_along_axis(in_pilot, order[:, :pilot_n], True, axis=-1)
    pilot = pilot_n / n
    floors = choose_floor(u, in_pilot, e2, share, pilot)
    pi = staged(u, share, floors, pilot)
    second = (pi - pilot) / (1 - pilot)
    labelled = in_pilot | (~in_pilot & (rng.random((reps, n)) < second))
    return labelled, pi, floors


def saving(error2: np.ndarray, pi: np.ndarray, labelled: np.ndarray) -> float:
    """1 - the active share's people's labels over the uniform share's for the same variance
    of the SSA estimate. With the judge's weight 1, a Bernoulli draw adds sum((1 - pi) / pi
    e^2) / N^2 to the variance; the uniform share P' that adds as much solves (1/P' - 1)
    sum(e^2) = sum((1/pi - 1) e^2). Exact for the design, so the figure does not carry the
    noise of a variance estimated from the replications."""
    added = ((1 / pi - 1) * error2).sum(-1).mean()
    total = error2.sum(-1).mean()
    uniform = error2.shape[-1] * total / (added + total)
    return 1 - float(labelled.sum(-1).mean()) / uniform


def ceiling(mse: np.ndarray) -> float:
    """The most any rule can save with each item's true expected error known and no pilot:
    chances proportional to its square root, 1 - mean(sqrt(m))^2 / mean(m)."""
    return float(1 - (np.sqrt(mse).mean(-1) ** 2 / mse.mean(-1)).mean())


def covered(low: np.ndarray, high: np.ndarray, value: float) -> float:
    return float(((low <= value) & (value <= high)).mean())


def cell(rng, rate: float, rho: float, judge: str, share: float, reps: int, n: int) -> Cell:  # type: ignore[no-untyped-def]
    sigma = spread(rate, rho)
    ssa_a, sens_a, hat_a, ps_a, sd_a, mse = system(rng, (reps, n), rate, sigma, judge)
    ssa_b, _, hat_b, _, sd_b, _ = system(rng, (reps, n), RATES[rate], sigma, judge)
    u = np.sqrt((sd_a**2 + sd_b**2) / 2)
    e2 = (ssa_a - hat_a) ** 2 + (ssa_b - hat_b) ** 2
    labelled, pi, floors = active(rng, u, e2, share)
    hide = np.where(labelled, 1.0, np.nan)
    _, lo, hi, _, _ = ipw_score(sens_a * hide, ps_a, pi, labelled, halves=False)
    true_sens, true_ssa = truth(rate, sigma)
    _, s_lo, s_hi, _, _ = ipw_score(ssa_a * hide, hat_a, pi, labelled)
    _, d_lo, d_hi = ipw_difference((ssa_a * hide, hat_a), (ssa_b * hide, hat_b), pi, labelled)
    true_d = true_ssa - truth(RATES[rate], sigma)[1]
    return Cell(
        rate,
        rho,
        judge,
        share,
        covered(lo, hi, true_sens),
        covered(s_lo, s_hi, true_ssa),
        covered(d_lo, d_hi, true_d),
        saving((ssa_a - hat_a) ** 2, pi, labelled),
        ceiling(mse),
        float(floors.mean()),
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--replications", type=int, default=500)
    ap.add_argument("--contexts", type=int, default=1477)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--pilot", type=float, default=1 / 3, help="The pilot's part of the share.")
    args = ap.parse_args()
    PILOT[0] = args.pilot
    print(
        f"{args.contexts} contexts, 2 systems, {args.replications} replications per cell, "
        f"a pilot of {args.pilot:.0%} of the share"
    )
    print(
        " rate  rho  judge             share | covered: sensible   SSA  diff | saving ceiling floor"
    )
    cells = []
    grid = itertools.product(RATES, RHOS, JUDGES, SHARES)
    for i, (rate, rho, judge, share) in enumerate(grid):
        rng = np.random.default_rng([args.seed, i])
        c = cell(rng, rate, rho, judge, share, args.replications, args.contexts)
        cells.append(c)
        print(
            f"{rate:5.2f} {rho:4.1f}  {judge:17s} {share:5.2f} | {c.sensible_covered:17.3f} "
            f"{c.ssa_covered:5.3f} {c.difference_covered:5.3f} | {c.saving:+6.1%} "
            f"{c.ceiling:+7.1%} {c.floor:5.2f}",
            flush=True,
        )
    cover = [v for c in cells for v in (c.sensible_covered, c.ssa_covered, c.difference_covered)]
    se = norm.ppf(0.975) * np.sqrt(0.95 * 0.05 / args.replications)
    print(f"coverage: {min(cover):.3f} to {max(cover):.3f} (target 0.93 to 0.97; 95% of cells")
    print(f"  within +-{se:.3f} of 0.95 by chance alone)")
    for judge in JUDGES:
        at = [c for c in cells if c.rho == 0.7 and c.judge == judge]
        print(
            f"rho 0.7, {judge}: saving (ceiling) by rate and share: "
            + ", ".join(f"{c.rate:g}/{c.share:g} {c.saving:+.0%} ({c.ceiling:+.0%})" for c in at)
        )
    poor = [c.saving for c in cells if c.judge == "poor uncertainty"]
    print(f"poor uncertainty, every cell: worst {min(poor):+.1%} (target: no worse than -5%)")


if __name__ == "__main__":
    main()
