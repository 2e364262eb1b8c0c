"""Simulation: how often 95% intervals for interactive SSA cover the truth when the turns of
one conversation are correlated, resampling conversations (what the report does) or turns.

Each conversation has its own quality: its bot turns are sensible with a rate drawn from
Beta(2.4, 1.6) (mean 0.6; an intra-conversation correlation of about 0.2) and specific, given
sensible, with a rate from Beta(3, 2); a conversation has 7 to 14 bot turns. The truth is the
population's turn-weighted SSA, 0.48. Both intervals come from ``stats.cluster_bootstrap``; the
per-turn one treats every turn as its own cluster.

    .venv/bin/python bench/interactive_coverage.py [--replications 1000] [--conversations 100]
"""

from __future__ import annotations

import argparse

import numpy as np

from evaltool.reporting.stats import cluster_bootstrap

METHOD = "bca"  # what the report uses for bootstrap intervals
BY = ("conversations", "turns")
TRUTH = (0.6 + 0.6 * 0.6) / 2  # E[q] and E[q] E[r] averaged: sensibleness, specificity


def conversations(rng: np.random.Generator, n: int) -> np.ndarray:
    """n conversations as (bot turns, sensible, sensible and specific) counts."""
    turns = rng.integers(7, 15, size=n)
    sensible = rng.binomial(turns, rng.beta(2.4, 1.6, size=n))
    specific = rng.binomial(sensible, rng.beta(3.0, 2.0, size=n))
    return np.stack([turns, sensible, specific], axis=1)


def as_turns(counts: np.ndarray) -> np.ndarray:
    """The same data with each turn its own cluster."""
    rows = []
    for n, s, p in counts:
        rows += [(1, 1, 1)] * p + [(1, 1, 0)] * (s - p) + [(1, 0, 0)] * (n - s)
    return np.array(rows)


def coverage(
    replications: int, n: int, resamples: int = 1000, seed: int = 0, by: tuple[str, ...] = BY
) -> dict[str, float]:
    """Share of replications whose 95% SSA interval holds the truth, by what is resampled."""
    rng = np.random.default_rng(seed)
    hits = dict.fromkeys(by, 0)
    for r in range(replications):
        data = conversations(rng, n)
        for name in by:
            groups = data if name == "conversations" else as_turns(data)
            (iv,), _ = cluster_bootstrap(
                [groups], [], resamples=resamples, seed=r, confidence=0.95, method=METHOD
            )
            hits[name] += iv["ssa"].low <= TRUTH <= iv["ssa"].high
    return {name: h / replications for name, h in hits.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--replications", type=int, default=1000)
    ap.add_argument("--conversations", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    got = coverage(args.replications, args.conversations, seed=args.seed)
    print(f"{args.replications} replications, {args.conversations} conversations per bot")
    print(f"95% intervals resampling conversations cover the truth {got['conversations']:.1%}")
    print(f"95% intervals resampling turns cover it             {got['turns']:.1%}")


if __name__ == "__main__":
    main()
