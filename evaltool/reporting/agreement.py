"""Rater agreement on one question: raw agreement, Krippendorff's alpha, Fleiss' kappa and
Gwet's AC1, as pure functions on an items x raters matrix of 0/1 with NaN where no label.

Chance-corrected coefficients collapse when almost every label is the same (the "kappa
paradox": raw agreement 0.95, alpha 0.3); AC1 estimates chance agreement differently and does
not, so the report shows it beside alpha and says so when the two disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from evaltool.reporting.votes import majority


def _category_counts(matrix: np.ndarray) -> np.ndarray:
    """Items x categories: how many raters gave each item each value (NaN: no label)."""
    m = np.asarray(matrix, dtype=float)
    values = np.unique(m[~np.isnan(m)])
    return (
        np.stack([(m == v).sum(axis=1) for v in values], axis=1)
        if len(values)
        else np.zeros((len(m), 0))
    )


def raw_agreement(matrix: np.ndarray) -> float | None:
    """Mean share of agreeing rater pairs per item, over items with 2+ labels.

    ``matrix`` is items x raters with NaN for no label.
    >>> raw_agreement(np.array([[1, 1, 0], [0, 0, np.nan]]))
    0.6666666666666666
    """
    counts = _category_counts(matrix)
    k = counts.sum(axis=1)
    ok = k >= 2
    if not ok.any():
        return None
    shares = (counts[ok] * (counts[ok] - 1)).sum(axis=1) / (k[ok] * (k[ok] - 1))
    return float(shares.mean())


def krippendorff_alpha_nominal(matrix: np.ndarray) -> float | None:
    """Krippendorff's alpha for nominal data; items x raters, NaN for missing.

    Uses the coincidence matrix; None when undefined (fewer than 2 pairable values, or every
    value the same, so no disagreement is expected).
    """
    counts = _category_counts(matrix)
    k = counts.sum(axis=1)
    ok = k >= 2
    counts, k = counts[ok], k[ok]
    if len(counts) == 0:
        return None
    weighted = counts / (k - 1)[:, None]
    coincidence = weighted.T @ counts - np.diag(weighted.sum(axis=0))
    total = coincidence.sum()
    marginals = coincidence.sum(axis=0)
    expected = (total**2 - (marginals**2).sum()) / (total * (total - 1))
    if total <= 1 or expected == 0:
        return None
    observed = (total - np.trace(coincidence)) / total
    return float(1 - observed / expected)


def fleiss_kappa(matrix: np.ndarray) -> float | None:
    """Fleiss' kappa; only defined when every item has the same number of labels (>= 2).

    ``matrix`` is items x raters with NaN for no label; returns None when undefined.
    """
    m = np.asarray(matrix, dtype=float)
    per_item = (~np.isnan(m)).sum(axis=1)
    if len(per_item) == 0 or per_item.min() != per_item.max() or per_item[0] < 2:
        return None
    k = int(per_item[0])
    counts = _category_counts(m)
    p_j = counts.sum(axis=0) / counts.sum()
    p_i = ((counts * (counts - 1)).sum(axis=1)) / (k * (k - 1))
    p_bar, p_e = p_i.mean(), (p_j**2).sum()
    if p_e == 1:
        return None
    return float((p_bar - p_e) / (1 - p_e))


@dataclass(frozen=True)
class Coefficient:
    """An agreement coefficient with its standard error and confidence interval."""

    estimate: float
    se: float
    low: float
    high: float


def gwet_ac1(matrix: np.ndarray, confidence: float = 0.95) -> Coefficient | None:
    """Gwet's AC1 for two categories, with Gwet's variance and a t interval (as irrCAC
    computes them, which the tests check); None when fewer than 2 items have 2+ labels.

    >>> m = np.array([[1, 1, 1], [1, 1, 0], [0, 0, 0], [1, 1, 1]], dtype=float)
    >>> round(gwet_ac1(m).estimate, 4)
    0.7
    """
    m = np.asarray(matrix, dtype=float)
    m = m[(~np.isnan(m)).any(axis=1)]
    counts = np.stack([(m == 0).sum(axis=1), (m == 1).sum(axis=1)], axis=1).astype(float)
    r = counts.sum(axis=1)
    n, two = len(r), r >= 2
    if two.sum() < 2:
        return None
    agree = (counts * (counts - 1)).sum(axis=1)
    pa = float((agree[two] / (r[two] * (r[two] - 1))).sum() / two.sum())
    pi = (counts / r[:, None]).mean(axis=0)
    q = 2
    pe = float((pi * (1 - pi)).sum() / (q - 1))
    ac1 = (pa - pe) / (1 - pe)
    den = np.where(r * (r - 1) == 0, -1, r * (r - 1))
    ac1_i = (n / two.sum()) * (agree / den - pe * two) / (1 - pe)
    pe_i = (counts @ (1 - pi)) / (q - 1) / r
    ac1_i = ac1_i - 2 * (1 - ac1) * (pe_i - pe) / (1 - pe)
    se = float(np.sqrt(((ac1_i - ac1) ** 2).sum() / (n * (n - 1))))
    half = sps.t.ppf((1 + confidence) / 2, df=n - 1) * max(se, 1e-15)
    return Coefficient(float(ac1), se, float(ac1 - half), float(min(1.0, ac1 + half)))


# Raw agreement this high with alpha this low is the kappa paradox, not disagreement.
PARADOX_RAW = 0.8
PARADOX_ALPHA = 0.4


def summary(labels: pd.DataFrame, question: str, confidence: float) -> dict[str, Any]:
    """Every agreement figure for one question over labelled items (``response_id``,
    ``annotator_id`` and the 0/1 ``question`` column)."""
    empty: dict[str, Any] = {
        "items": 0,
        "labels": 0,
        "raw_agreement": None,
        "krippendorff_alpha": None,
        "fleiss_kappa": None,
        "gwet_ac1": None,
    }
    if labels.empty:
        return empty
    matrix = labels.pivot_table(
        index="response_id", columns="annotator_id", values=question, aggfunc="first"
    ).astype(float)
    return matrix_summary(matrix.to_numpy(), confidence)


def matrix_summary(m: np.ndarray, confidence: float = 0.95) -> dict[str, Any]:
    """Every agreement figure for an items x raters matrix (NaN where no label)."""
    ac1 = gwet_ac1(m, confidence)
    return {
        "items": len(m),
        "labels": int((~np.isnan(m)).sum()),
        "raw_agreement": raw_agreement(m),
        "krippendorff_alpha": krippendorff_alpha_nominal(m),
        "fleiss_kappa": fleiss_kappa(m),
        "gwet_ac1": None
        if ac1 is None
        else {"estimate": ac1.estimate, "ci_low": ac1.low, "ci_high": ac1.high, "se": ac1.se},
    }


def notes(agreement: dict[str, dict[str, Any]]) -> list[str]:
    """A sentence for each question where raw agreement is high and alpha low."""
    out = []
    for question, a in agreement.items():
        raw, alpha, ac1 = a["raw_agreement"], a["krippendorff_alpha"], a["gwet_ac1"]
        if raw is None or raw < PARADOX_RAW or (alpha is not None and alpha >= PARADOX_ALPHA):
            continue
        alpha_text = "undefined" if alpha is None else f"{alpha:.3f}"
        ac1_text = (
            ""
            if ac1 is None
            else f"; Gwet's AC1, which does not collapse, is {ac1['estimate']:.3f}"
        )
        out.append(
            f"{question}: raw agreement is {raw:.3f} but Krippendorff's alpha is {alpha_text}: "
            "almost every label is the same answer, which makes chance-corrected coefficients "
            f"collapse (the kappa paradox), not a sign that raters disagree{ac1_text}"
        )
    return out


def annotator_table(
    people: pd.DataFrame, answers: pd.DataFrame, seconds: pd.DataFrame, gold: pd.DataFrame
) -> pd.DataFrame:
    """Per annotator: labels, labels per hour, median seconds, gold accuracy, agreement.

    The inputs are counts (``annotation.monitor.RaterCounts``), so the table costs the same at
    any campaign size. Agreement compares each sensible answer with the majority of the other
    raters of the same item (items with at least 2 others and no tie).
    """
    others_yes = answers["item_yes"] - answers["sensible"].astype(int)
    others = answers["item_n"] - 1
    judged = answers[(others >= 2) & (2 * others_yes != others)]
    agrees = majority(others_yes[judged.index], others[judged.index]) == judged["sensible"]
    weight = judged["count"].groupby(judged["annotator_id"])
    g = answers.groupby("annotator_id").agg(
        labels=("count", "sum"), first=("first", "min"), last=("last", "max")
    )
    span_h = (g["last"] - g["first"]).dt.total_seconds() / 3600
    by_gold = gold.groupby("annotator_id")["correct"]
    stats = pd.DataFrame(
        {
            "labels": g["labels"],
            "per_hour": (g["labels"] / span_h.clip(lower=1 / 60)).round(1),
            "median_seconds": seconds.set_index("annotator_id")["median_seconds"].round(1),
            "agreement": (judged["count"] * agrees).groupby(judged["annotator_id"]).sum()
            / weight.sum(),
            "gold_answered": by_gold.size(),
            "gold_accuracy": by_gold.mean().astype(float).round(3),
        }
    )
    stats["agreement"] = stats["agreement"].astype(float).round(3)
    counts = ["labels", "gold_answered"]
    out = people.join(stats, on="annotator_id").fillna({c: 0 for c in counts})
    return out.astype({c: int for c in counts}).drop(columns="annotator_id")
