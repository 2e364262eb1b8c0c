"""The numbers of the report's tables: each system's three metrics and each pair's differences.

Intervals are score intervals over contexts (``intervals``) unless ``--method bca|percentile``
asks for the bootstrap; a bootstrap interval that is missing or has no width falls back to the
score interval and says so. Each pair gets a score-test p-value per metric, Holm-adjusted over
all pairs, and the share of bootstrap resamples at or below zero.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from evaltool.reporting import intervals as iv
from evaltool.reporting.stats import METRICS, Difference, Interval

SUPPORT = {"sensibleness": iv.RATE, "specificity": iv.RATE, "ssa": iv.SSA}
MIN_SYSTEMS_FOR_CORRELATION = 3
DIFFERENCE_SUPPORT = {
    "sensibleness": iv.RATE_DIFFERENCE,
    "specificity": iv.RATE_DIFFERENCE,
    "ssa": iv.SSA_DIFFERENCE,
}


def outcomes(items: pd.DataFrame, system_id: int) -> pd.DataFrame:
    """One row per context the system answered: its item's three outcomes as numbers."""
    own = items[items["system_id"] == system_id].set_index("context_id")
    sensible, specific = own["sensible"].astype(float), own["specific"].astype(float)
    return pd.DataFrame(
        {"sensibleness": sensible, "specificity": specific, "ssa": (sensible + specific) / 2}
    )


def metric(
    values: np.ndarray, support: tuple[float, ...], boot: Interval | None, settings: Any
) -> dict[str, Any]:
    """Estimate and interval of one metric, with the method that made the interval."""
    mean, low, high = iv.score_interval(support, iv.counts_on(support, values), settings.confidence)
    entry = {"estimate": mean, "ci_low": low, "ci_high": high, "interval": "score"}
    if settings.method != "score" and boot is not None:
        if boot.low is not None and boot.high is not None and boot.high > boot.low:
            entry.update(ci_low=boot.low, ci_high=boot.high, interval=settings.method)
        else:
            entry["note"] = "the bootstrap resamples did not vary: score interval instead"
        if boot.note:
            entry["note"] = boot.note
    return entry


def system_metrics(
    items: pd.DataFrame, system_id: int, boot: dict[str, Interval] | None, settings: Any
) -> dict[str, dict[str, Any]]:
    """The system's sensibleness, specificity and SSA with their intervals."""
    own = outcomes(items, system_id)
    return {
        m: metric(own[m].to_numpy(), SUPPORT[m], boot[m] if boot else None, settings)
        for m in METRICS
    }


def comparison(
    items: pd.DataFrame, a: int, b: int, boot: dict[str, Difference] | None, settings: Any
) -> dict[str, Any]:
    """A minus B on the contexts both answered: per metric the difference, its interval, the
    score test's p-value and the share of resamples at or below zero."""
    both = outcomes(items, a).merge(
        outcomes(items, b), left_index=True, right_index=True, suffixes=("", "_b")
    )
    out: dict[str, Any] = {"shared_contexts": len(both)}
    for m in METRICS:
        if both.empty:
            out[m] = None
            continue
        diff = (both[m] - both[f"{m}_b"]).to_numpy()
        support = DIFFERENCE_SUPPORT[m]
        counts = iv.counts_on(support, diff)
        d = boot[m] if boot else None
        interval = Interval(d.difference, d.low, d.high) if d is not None else None
        entry = metric(diff, support, interval, settings)
        out[m] = {
            "difference": entry["estimate"],
            "ci_low": entry["ci_low"],
            "ci_high": entry["ci_high"],
            "interval": entry["interval"],
            "p_value": iv.score_pvalue(support, counts),
            "p_holm": None,
            "share_at_or_below_zero": d.share_at_or_below_zero if d is not None else None,
        }
    return out


def adjust(comparisons: list[dict[str, Any]]) -> None:
    """Fill each comparison's ``p_holm``: Holm over all pairs, per metric."""
    for m in METRICS:
        rows = [c[m] for c in comparisons if c.get(m)]
        for row, p in zip(rows, iv.holm([r["p_value"] for r in rows]), strict=True):
            row["p_holm"] = p


def order_pairs(names: list[str], first: tuple[str, str] | None) -> list[tuple[int, int]]:
    """Every pair of systems (indices into ``names``), the pair a user cares about first.

    >>> order_pairs(["a", "b", "c"], ("c", "a"))
    [(2, 0), (0, 1), (1, 2)]
    """
    pairs = [(i, j) for i in range(len(names)) for j in range(i + 1, len(names))]
    if first is None or first[0] not in names or first[1] not in names:
        return pairs
    head = (names.index(first[0]), names.index(first[1]))
    return [head, *(p for p in pairs if set(p) != set(head))]


def perplexity_vs_ssa(systems: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Spearman's rank correlation of perplexity with SSA over systems that have both (Meena:
    lower perplexity, higher SSA); None with fewer than 3 such systems."""
    both = [s for s in systems if s.get("perplexity") is not None and s.get("ssa")]
    if len(both) < MIN_SYSTEMS_FOR_CORRELATION:
        return None
    ppl = [s["perplexity"] for s in both]
    ssa = [s["ssa"]["estimate"] for s in both]
    rho = float(sps.spearmanr(ppl, ssa).statistic)
    chance = 2 / math.factorial(len(both))
    return {
        "systems": len(both),
        "spearman": rho,
        "note": f"with {len(both)} systems a rank correlation of +1 or -1 happens by chance "
        f"with probability {chance:.3g}: weak evidence unless there are many systems",
    }
