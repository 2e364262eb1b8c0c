"""Simulation: Bradley-Terry intervals (``reporting.pairwise.strengths``, the report's) cover
the true strengths, on a grid of systems, comparisons per pair and tie shares.

Each replication draws strengths evenly spread over [-0.8, 0.8] in a random order (system 0
the anchor), then every pair of systems on each of ``comparisons`` contexts: a tie with the
tie share, else a win drawn so that the expected score (ties half a win, as the report counts
them) is the Bradley-Terry probability. Per cell: the share of 95% intervals (contexts
resampled, 1,000 resamples) that hold the true strength, over every system but the anchor.
The target is 93-97%; the last line says whether every cell met it.

    .venv/bin/python bench/pairwise_coverage.py [--replications 400] [--resamples 1000]
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evaltool.reporting.pairwise import Comparisons, pair_index, strengths

SYSTEMS = (3, 5, 8)
COMPARISONS = (50, 200, 1000)
TIES = (0.0, 0.15, 0.3)
TARGET = (0.93, 0.97)


def simulate(rng: np.random.Generator, theta: np.ndarray, contexts: int, ties: float):  # type: ignore[no-untyped-def]
    """Every pair on every context, with randomised sides."""
    pairs = np.array(pair_index(len(theta)))
    a = np.tile(pairs[:, 0], contexts)
    b = np.tile(pairs[:, 1], contexts)
    context = np.repeat(np.arange(contexts), len(pairs))
    p = 1 / (1 + np.exp(-(theta[a] - theta[b])))
    win = rng.random(len(a)) < (p - ties / 2) / (1 - ties)
    score = np.where(rng.random(len(a)) < ties, 0.5, win.astype(float))
    return Comparisons.of(context, a, b, score, rng.random(len(a)) < 0.5)


def cell(n: int, contexts: int, ties: float, reps: int, resamples: int, seed: int) -> float:
    """The share of intervals that hold the truth in one cell of the grid."""
    rng = np.random.default_rng(seed)
    held = total = 0
    for r in range(reps):
        theta = rng.permutation(np.linspace(-0.8, 0.8, n))
        theta -= theta[0]
        out = strengths(simulate(rng, theta, contexts, ties), n, resamples=resamples, seed=seed + r)
        for s in out[1:]:
            held += s.low <= theta[s.system] <= s.high
            total += 1
    return held / total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replications", type=int, default=400)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print("| systems | comparisons per pair | tie share | coverage |")
    print("|---:|---:|---:|---:|")
    ok = True
    started = time.perf_counter()
    grid = itertools.product(SYSTEMS, COMPARISONS, TIES)
    for k, (n, m, ties) in enumerate(grid):
        covered = cell(n, m, ties, args.replications, args.resamples, args.seed + 1000 * k)
        ok &= TARGET[0] <= covered <= TARGET[1]
        print(f"| {n} | {m} | {ties:.2f} | {covered:.1%} |", flush=True)
    verdict = "every cell" if ok else "NOT every cell"
    print(
        f"\n{verdict} within {TARGET[0]:.0%}-{TARGET[1]:.0%} "
        f"({args.replications} replications, {time.perf_counter() - started:.0f} s)"
    )


if __name__ == "__main__":
    main()
