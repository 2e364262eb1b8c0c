"""Fitting a judge's yes/no thresholds on people's votes (``evaltool judge calibrate``): the
thresholds at which the judge agrees best with people, by Cohen's kappa. The probabilities
themselves, not these thresholds, feed the judge-assisted estimates; the thresholds only make
the judge's hard labels for the agreement table."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from evaltool.errors import UserError
from evaltool.reporting.aggregate import aggregate_items, included, load
from evaltool.reporting.judged import agreement_of, correlation, item_frame
from evaltool.storage.contexts import resolve_dataset
from evaltool.storage.db import session_scope
from evaltool.storage.judging import get_judge, items, judge_frame


@dataclass(frozen=True)
class Calibration:
    """Thresholds that make the judge agree best with people (Cohen's kappa), and how well."""

    sensible: float
    specific: float
    kappa_sensible: float | None
    kappa_specific: float | None
    items: int


def both_rated(engine: Engine, dataset: str | None, judge_name: str) -> pd.DataFrame:
    """Every item with people's vote and the judge's label (``judged.item_frame`` rows);
    a one-line error when fewer than 10 (too few to fit or plan on)."""
    got = load(engine, dataset)
    kept = got.labels[~got.labels["flagged"]]
    majority = aggregate_items(kept)
    complete, early = included(majority, got.overlap, got.overlap, got.adaptive)
    voted = majority.assign(included=complete | early)
    with session_scope(engine, readonly=True) as s:
        ds = resolve_dataset(s, got.dataset)
        judge = get_judge(s, judge_name)
        frame = item_frame(items(s, ds.id), judge_frame(s, judge.id, ds.id), voted, set())
    both = frame[frame["sensibleness"].notna() & frame["p_sensible"].notna()]
    if len(both) < 10:
        raise UserError(
            f"{len(both)} items have both people's vote and the judge's label; at least 10 "
            "are needed",
            field="judge",
        )
    return both


def pilot_correlation(engine: Engine, dataset: str | None, judge_name: str) -> tuple[float, int]:
    """The judge's correlation with people's item SSA on a pilot, and on how many items."""
    both = both_rated(engine, dataset, judge_name)
    r = correlation(both["ssa"].to_numpy(float), both["hat_ssa"].to_numpy(float))
    if r is None:
        raise UserError("people's or the judge's item SSA is constant on the pilot", field="judge")
    return r, len(both)


def calibrate(engine: Engine, dataset: str | None, judge_name: str) -> Calibration:
    """Fit the judge's thresholds on every item with people's vote and a judge label: first
    sensible, then specific given the sensible threshold."""
    both = both_rated(engine, dataset, judge_name)
    p_s = both["p_sensible"].to_numpy(float)
    t_s, k_s = best_threshold(both["sensibleness"].to_numpy(float) == 1, p_s)
    sure = p_s >= t_s
    p_sp = both["p_specific"].fillna(0.0).to_numpy(float)
    people_sp = both["specificity"].to_numpy(float) == 1
    t_sp, k_sp = best_threshold(people_sp, np.where(sure, p_sp, -1.0))
    return Calibration(t_s, t_sp, k_s, k_sp, len(both))


def best_threshold(people: np.ndarray, p: np.ndarray) -> tuple[float, float | None]:
    """The threshold on ``p`` (yes when p >= it) with the highest Cohen's kappa against
    ``people``, the one nearest 0.5 among equals; and that kappa.

    >>> best_threshold(np.array([0, 0, 1, 1], bool), np.array([0.1, 0.3, 0.35, 0.9]))
    (0.35, 1.0)
    """
    best: tuple[float, float, float | None] = (-2.0, 0.0, None)
    for t in sorted({float(x) for x in p if x >= 0} | {0.5}):
        kappa = agreement_of(people, p >= t)["kappa"]
        score = -1.0 if kappa is None else kappa
        if (score, -abs(t - 0.5)) > (best[0], -abs(best[1] - 0.5)):
            best = (score, t, kappa)
    return best[1], best[2]
