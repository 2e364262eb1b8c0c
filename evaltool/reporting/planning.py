"""How many contexts and raters a study needs to detect an SSA difference: power by simulation.

A pair of systems A and B, B's SSA higher by the difference to detect, answers ``n``
contexts; each item gets ``k`` raters of the given accuracy; items are majority-voted; the
report's own paired comparison (the score interval of the SSA difference) decides whether B
is detected as better. The share of simulated studies that detect it is the power. Rates and
rater accuracy come from pilot labels or are assumed.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from evaltool.errors import UserError
from evaltool.reporting import intervals as iv
from evaltool.reporting import votes

# How often the two systems' items share their latent answer beyond chance (contexts that are
# easy or hard for both); pilots with two systems replace it with what they show.
DEFAULT_SHARED = 0.5


@dataclass(frozen=True)
class PlanSettings:
    """What to plan for; rates are the weaker system's latent (true) rates."""

    difference: float = 0.05
    power: float = 0.8
    confidence: float = 0.95
    sensibleness: float = 0.7
    specificity: float = 0.5
    rater_accuracy: float = 0.85
    shared: float = DEFAULT_SHARED
    contexts: tuple[int, ...] = (50, 100, 200, 300, 500, 1000)
    raters: tuple[int, ...] = (1, 3, 5)
    simulations: int = 400
    seed: int = 0

    def validate(self) -> PlanSettings:
        """Raise a user error for settings no study could have."""
        checks = [
            ("difference", 0 < self.difference < 1, "must be between 0 and 1"),
            ("power", 0 < self.power < 1, "must be between 0 and 1"),
            ("confidence", 0 < self.confidence < 1, "must be between 0 and 1"),
            ("sensibleness", 0 <= self.sensibleness <= 1, "must be between 0 and 1"),
            ("specificity", 0 <= self.specificity <= 1, "must be between 0 and 1"),
            ("rater_accuracy", 0.5 < self.rater_accuracy <= 1, "must be above 0.5, up to 1"),
            ("simulations", self.simulations >= 100, "must be at least 100"),
            ("contexts", min(self.contexts, default=0) >= 2, "each must be 2 or more"),
            ("raters", min(self.raters, default=0) >= 1, "each must be 1 or more"),
        ]
        for name, ok, message in checks:
            if not ok:
                raise UserError(message, field=name)
        if self.ssa() + self.difference > 1:
            raise UserError("the stronger system's SSA would pass 1", field="difference")
        return self

    def ssa(self) -> float:
        """The weaker system's latent SSA: sensible share, plus specific share of those."""
        return (self.sensibleness + self.sensibleness * self.specificity) / 2


@dataclass
class Plan:
    """Power per (contexts, raters), and the fewest contexts reaching the target per raters."""

    settings: dict[str, Any]
    power: dict[int, dict[int, float]] = field(default_factory=dict)
    needed: dict[int, int | None] = field(default_factory=dict)


def _stronger(s: PlanSettings) -> tuple[float, float]:
    """Latent rates of the system whose SSA is higher by the difference: the sensible share
    rises, specificity among sensible answers stays."""
    sensible = 2 * (s.ssa() + s.difference) / (1 + s.specificity)
    if sensible > 1:
        return 1.0, (2 * (s.ssa() + s.difference) - 1)
    return sensible, s.specificity


def _votes(rng: np.random.Generator, latent: tuple[np.ndarray, np.ndarray], k: int, a: float):  # type: ignore[no-untyped-def]
    """Majority-voted SSA outcomes (0, 0.5, 1) of k raters of accuracy ``a`` (a tie is no)."""
    sensible, specific = latent
    shape = (k, *sensible.shape)
    says_s = np.where(rng.random(shape) < a, sensible, ~sensible)
    says_p = says_s & np.where(rng.random(shape) < a, specific, ~specific)
    vote_s, vote_p = votes.item_votes(says_s.sum(0), says_p.sum(0), k)
    return (vote_s.astype(float) + vote_p) / 2


def power(s: PlanSettings, n: int, k: int) -> float:
    """Share of simulated studies of n contexts and k raters per item that find the stronger
    system better (the interval of the SSA difference lies above 0)."""
    rng = np.random.default_rng([s.seed, n, k])
    r = s.simulations
    u = rng.random((r, n))
    other = np.where(rng.random((r, n)) < s.shared, u, rng.random((r, n)))
    outcomes = []
    for draw, (p, q) in ((u, (s.sensibleness, s.specificity)), (other, _stronger(s))):
        sensible = draw < p
        outcomes.append(
            _votes(rng, (sensible, sensible & (rng.random((r, n)) < q)), k, s.rater_accuracy)
        )
    diff = outcomes[1] - outcomes[0]
    counts = np.stack([np.isclose(diff, v).sum(axis=1) for v in iv.SSA_DIFFERENCE], axis=1)
    distinct, which = np.unique(counts, axis=0, return_inverse=True)
    lows = np.array(
        [
            iv.score_interval(iv.SSA_DIFFERENCE, tuple(map(int, c)), s.confidence)[1]
            for c in distinct
        ]
    )
    return float(np.mean(lows[which.ravel()] > 0))


def plan(s: PlanSettings) -> Plan:
    """Power for every (contexts, raters) and the fewest contexts that reach the target."""
    s = s.validate()
    out = Plan({**asdict(s), "ssa_weaker": s.ssa(), "ssa_stronger": s.ssa() + s.difference})
    for k in s.raters:
        out.power[k] = {n: power(s, n, k) for n in sorted(s.contexts)}
        enough = [n for n, p in out.power[k].items() if p >= s.power]
        out.needed[k] = enough[0] if enough else None
    return out


def from_labels(labels: pd.DataFrame) -> dict[str, float]:
    """Rates and rater accuracy read off pilot labels (``sensible``, ``specific``,
    ``response_id``): accuracy from how often two raters of an item agree on sensible
    (a^2 + (1 - a)^2), latent rates from label-level rates corrected for that accuracy."""
    if labels.empty:
        raise UserError("no pilot labels to plan from: label some items or give the rates")
    per_item = labels.groupby("response_id")["sensible"].agg(["sum", "size"])
    per_item = per_item[per_item["size"] >= 2]
    if per_item.empty:
        raise UserError("the pilot needs items with two or more labels to judge raters")
    pairs = per_item["size"] * (per_item["size"] - 1)
    same = per_item["sum"] * (per_item["sum"] - 1) + (per_item["size"] - per_item["sum"]) * (
        per_item["size"] - per_item["sum"] - 1
    )
    agree = float(same.sum() / pairs.sum())
    a = min(0.99, max(0.55, (1 + math.sqrt(max(2 * agree - 1, 0.0))) / 2))

    def latent(rate: float) -> float:
        return min(1.0, max(0.0, (rate - (1 - a)) / (2 * a - 1)))

    sensible = latent(float(labels["sensible"].mean()))
    sensible_rows = labels[labels["sensible"]]
    specific = latent(float(sensible_rows["specific"].mean())) if len(sensible_rows) else 0.0
    return {"sensibleness": sensible, "specificity": specific, "rater_accuracy": a}
