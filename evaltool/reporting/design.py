"""The active human share's design, read from the database: each context's chance from the
judge's uncertainty on its items, and the floor, chosen on a uniform pilot when people have
labelled one (``reporting.active`` has the rules; ``annotation.human_share.draw_active``
draws from the chances).

The pilot is the dataset's current uniform share: its contexts are kept (people's labels on
them stay in the sample), and the rest of the share is drawn among the other contexts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from evaltool.errors import UserError
from evaltool.reporting import active
from evaltool.reporting.aggregate import aggregate_items, included, load
from evaltool.reporting.judged import item_frame
from evaltool.storage.contexts import resolve_dataset
from evaltool.storage.db import session_scope
from evaltool.storage.judging import draw_of, get_judge, items, judge_frame, judges

MIN_PILOT = 10  # labelled pilot contexts needed to choose the floor


@dataclass(frozen=True)
class ActiveDesign:
    """Each context's chance, the pilot kept, the floor and where it came from (``given``,
    ``pilot`` or ``default``), the judge, and how many pilot contexts people had labelled."""

    chances: dict[int, float]
    pilot: set[int]
    floor: float
    floor_from: str
    judge_id: int
    pilot_labelled: int


def active_design(
    engine: Engine, dataset: str | None, judge_name: str, share: float, floor: float | None
) -> ActiveDesign:
    """The chances for an active share of ``share`` from ``judge_name``'s labels (which must
    cover every item), keeping the current uniform share as the pilot."""
    if floor is not None and not 0 < floor <= 1:
        raise UserError(f"{floor:g} is not a floor; use a number above 0, at most 1", field="floor")
    got = _read(engine, dataset, judge_name)
    uncertainty = np.sqrt(got.variances)
    ids = uncertainty.index.to_numpy()
    pilot = got.uniform_share & set(ids.tolist())
    base = len(pilot) / len(ids)
    if share <= base:
        raise UserError(
            f"{share:g} is not above the pilot's share ({len(pilot)} of {len(ids)} contexts, "
            f"{base:.3f}); ask for a larger share",
            field="human_share",
        )
    errors = _pilot_errors(engine, got.dataset, got.population, got.said, pilot).reindex(ids)
    labelled = errors.notna().to_numpy()
    floor_from = "given"
    if floor is None and labelled.sum() >= MIN_PILOT:
        u, e2 = uncertainty.to_numpy(), errors.fillna(0.0).to_numpy()
        floor, floor_from = float(active.choose_floor(u, labelled, e2, share, base)), "pilot"
    elif floor is None:
        floor, floor_from = active.DEFAULT_FLOOR, "default"
    pi = active.staged(uncertainty.to_numpy(), share, floor, base)
    chances = {int(c): float(p) for c, p in zip(ids, pi, strict=True)}
    return ActiveDesign(chances, pilot, floor, floor_from, got.judge_id, int(labelled.sum()))


@dataclass(frozen=True)
class _Judged:
    """What the design reads: the dataset's items, the judge's labels on them, the contexts
    of the current uniform share (empty when there is none or it was active), and each
    context's predicted variance."""

    dataset: str
    judge_id: int
    population: pd.DataFrame
    said: pd.DataFrame
    uniform_share: set[int]
    variances: pd.Series


def _read(engine: Engine, dataset: str | None, judge_name: str) -> _Judged:
    with session_scope(engine, readonly=True) as s:
        ds = resolve_dataset(s, dataset)
        judge_id = get_judge(s, judge_name).id
        population = items(s, ds.id)
        said = judge_frame(s, judge_id, ds.id)
        draw, drawn = draw_of(s, ds.id)
        uniform = set(drawn) if draw is not None and draw.design == "uniform" else set()
        name = ds.name
    variances = context_variances(population, said, judge_name, name)
    return _Judged(name, judge_id, population, said, uniform, variances)


def only_judge(engine: Engine) -> str:
    """The project's one judge, or a one-line error asking which."""
    with session_scope(engine, readonly=True) as s:
        names = [j.name for j, _ in judges(s)]
    if len(names) != 1:
        known = ", ".join(names) or "none yet"
        raise UserError(
            f"name the judge whose labels set the chances (judges: {known})",
            field="judge",
            step=None if names else "run-judge",
        )
    return names[0]


def context_variances(
    population: pd.DataFrame, said: pd.DataFrame, judge_name: str, dataset: str
) -> pd.Series:
    """Per context, the mean over its items of the judge's predicted variance of item SSA
    (``active.item_sd`` squared); a one-line error unless the judge labelled every item."""
    frame = population.merge(said[["response_id", "p_sensible", "p_specific"]], how="left")
    missing = int(frame["p_sensible"].isna().sum())
    if missing or frame.empty:
        raise UserError(
            f"judge {judge_name!r} has not labelled {missing} of {len(frame)} items of "
            f"{dataset!r}; run it to the end first",
            field="judge",
            step="run-judge",
        )
    frame["var"] = active.item_sd(frame["p_sensible"], frame["p_specific"]) ** 2
    return frame.groupby("context_id")["var"].mean()


def planned_ratio(
    engine: Engine, dataset: str | None, judge_name: str, floor: float
) -> tuple[float, int]:
    """(``active.label_ratio`` from the judge's labels on the dataset, items it labelled)."""
    got = _read(engine, dataset, judge_name)
    return active.label_ratio(got.variances.to_numpy(), floor), len(got.population)


def _pilot_errors(
    engine: Engine, dataset: str, population: pd.DataFrame, said: pd.DataFrame, pilot: set[int]
) -> pd.Series:
    """Per pilot context whose every item has a vote: the summed squared gap between people's
    item SSA and the judge's, indexed by context id."""
    if not pilot:
        return pd.Series(dtype=float)
    got = load(engine, dataset)
    majority = aggregate_items(got.labels[~got.labels["flagged"]])
    complete, early = included(majority, got.overlap, got.overlap, got.adaptive)
    frame = item_frame(population, said, majority.assign(included=complete | early), pilot)
    frame = frame[frame["drawn"]]
    gap = (frame["ssa"] - frame["hat_ssa"]) ** 2
    whole = gap.notna().groupby(frame["context_id"]).all()
    total = gap.groupby(frame["context_id"]).sum()
    return total[whole]
