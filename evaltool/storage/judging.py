"""Reading and writing judges, their labels and a dataset's human share (``storage.schema.judge``).

Storage only: which items a judge has labelled, what it said, and which contexts were drawn
for people. What the labels mean for a report is ``reporting.judged``'s; how the share limits
the pool is ``annotation.pool``'s.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session, aliased

from evaltool.errors import UserError
from evaltool.storage.schema import (
    Context,
    GoldItem,
    HumanDraw,
    HumanDrawChance,
    HumanDrawContext,
    Judge,
    JudgeLabel,
    JudgePairLabel,
    PairItem,
    PoolItem,
    Response,
    System,
)


def get_judge(s: Session, name: str) -> Judge:
    """The judge called ``name``, or a one-line error listing the judges there are."""
    judge = s.scalars(select(Judge).where(Judge.name == name)).first()
    if judge is None:
        known = ", ".join(s.scalars(select(Judge.name).order_by(Judge.name))) or "none yet"
        raise UserError(f"no judge {name!r} (judges: {known})", field="judge")
    return judge


def judge_for(s: Session, spec: dict[str, Any]) -> Judge:
    """The judge with this name, made when new; an existing one must have the same model,
    prompt version and settings (a changed judge is a new judge: give it another name)."""
    judge = s.scalars(select(Judge).where(Judge.name == spec["name"])).first()
    if judge is None:
        judge = Judge(**spec)
        s.add(judge)
        s.flush()
        return judge
    for key in ("kind", "model", "revision", "prompt_version", "settings"):
        if getattr(judge, key) != spec.get(key):
            raise UserError(
                f"judge {spec['name']!r} was made with another {key} ({getattr(judge, key)!r}); "
                "give this one another name",
                field="name",
            )
    return judge


def set_thresholds(s: Session, name: str, sensible: float, specific: float) -> None:
    """Store the thresholds that turn the judge's probabilities into yes or no."""
    judge = get_judge(s, name)
    judge.threshold_sensible, judge.threshold_specific = sensible, specific


def note_provenance(s: Session, judge_id: int, facts: dict[str, Any]) -> None:
    """Add what a run learnt (the models and fingerprints a server answered as) to the
    judge's provenance, keeping every value seen across runs."""
    judge = s.get(Judge, judge_id)
    if judge is None:
        return
    merged = dict(judge.provenance or {})
    for key, values in facts.items():
        merged[key] = sorted(set(merged.get(key, [])) | set(values))
    judge.provenance = merged


def judges(s: Session) -> list[tuple[Judge, int]]:
    """Every judge with how many items it has labelled."""
    counts = dict(
        s.execute(
            select(JudgeLabel.judge_id, func.count(JudgeLabel.id)).group_by(JudgeLabel.judge_id)
        ).all()
    )
    return [(j, counts.get(j.id, 0)) for j in s.scalars(select(Judge).order_by(Judge.name))]


def items(s: Session, dataset_id: int) -> pd.DataFrame:
    """The dataset's items (its rows of ``pool_items``: rank-0 responses; a row made gold
    since is left out): response, system, context."""
    query = (
        select(PoolItem.response_id, PoolItem.system_id, PoolItem.context_id)
        .join(Context, Context.id == PoolItem.context_id)
        .where(
            Context.dataset_id == dataset_id,
            PoolItem.response_id.not_in(select(GoldItem.response_id)),
        )
        .order_by(PoolItem.response_id)
    )
    return pd.DataFrame(s.execute(query).all(), columns=["response_id", "system_id", "context_id"])


def judged(s: Session, judge_id: int) -> set[int]:
    """The responses this judge has labelled."""
    return set(s.scalars(select(JudgeLabel.response_id).where(JudgeLabel.judge_id == judge_id)))


def store_judge_labels(s: Session, judge_id: int, rows: list[dict[str, Any]]) -> int:
    """Store the judge's labels (response_id, p_sensible, p_specific, raw); how many."""
    if rows:
        s.execute(insert(JudgeLabel), [{**r, "judge_id": judge_id} for r in rows])
    return len(rows)


def judge_frame(s: Session, judge_id: int, dataset_id: int) -> pd.DataFrame:
    """The judge's labels on the dataset's items: response, system, context, p_sensible,
    p_specific."""
    query = (
        select(
            JudgeLabel.response_id,
            Response.system_id,
            Response.context_id,
            JudgeLabel.p_sensible,
            JudgeLabel.p_specific,
        )
        .join(Response, Response.id == JudgeLabel.response_id)
        .join(Context, Context.id == Response.context_id)
        .where(JudgeLabel.judge_id == judge_id, Context.dataset_id == dataset_id)
    )
    columns = ["response_id", "system_id", "context_id", "p_sensible", "p_specific"]
    return pd.DataFrame(s.execute(query).all(), columns=columns)


def draw_of(s: Session, dataset_id: int) -> tuple[HumanDraw | None, set[int]]:
    """The dataset's human share (or None) and its contexts."""
    draw = s.scalars(select(HumanDraw).where(HumanDraw.dataset_id == dataset_id)).first()
    if draw is None:
        return None, set()
    chosen = select(HumanDrawContext.context_id).where(HumanDrawContext.draw_id == draw.id)
    return draw, set(s.scalars(chosen))


def chances_of(s: Session, draw_id: int) -> dict[int, float]:
    """Each context's chance of going to people in an active draw (empty for a uniform one)."""
    query = select(HumanDrawChance.context_id, HumanDrawChance.chance).where(
        HumanDrawChance.draw_id == draw_id
    )
    return dict(s.execute(query).all())


def replace_draw(
    s: Session,
    dataset_id: int,
    seed: int,
    share: float | None,
    count: int | None,
    chosen: list[int],
    active: dict[str, Any] | None = None,
) -> HumanDraw:
    """Record a new human share for the dataset, in place of the old one. ``active`` (judge_id,
    floor, pilot, chances: context id to chance) marks an active draw."""
    old = s.scalars(select(HumanDraw.id).where(HumanDraw.dataset_id == dataset_id)).first()
    if old is not None:
        s.execute(delete(HumanDrawChance).where(HumanDrawChance.draw_id == old))
        s.execute(delete(HumanDrawContext).where(HumanDrawContext.draw_id == old))
        s.execute(delete(HumanDraw).where(HumanDraw.id == old))
    about = {} if active is None else {k: active[k] for k in ("judge_id", "floor", "pilot")}
    draw = HumanDraw(
        dataset_id=dataset_id,
        seed=seed,
        share=share,
        count=count,
        contexts=len(chosen),
        design="uniform" if active is None else "active",
        **about,
    )
    s.add(draw)
    s.flush()
    if chosen:
        s.execute(insert(HumanDrawContext), [{"context_id": c, "draw_id": draw.id} for c in chosen])
    if active is not None:
        rows = [
            {"draw_id": draw.id, "context_id": c, "chance": p} for c, p in active["chances"].items()
        ]
        s.execute(insert(HumanDrawChance), rows)
    return draw


def pair_items(s: Session, dataset_id: int) -> list[int]:
    """The dataset's pair items a judge compares (gold pairs left out), in id order."""
    query = select(PairItem.id).where(
        PairItem.dataset_id == dataset_id, PairItem.expected.is_(None)
    )
    return list(s.scalars(query.order_by(PairItem.id)))


def pairs_judged(s: Session, judge_id: int) -> set[int]:
    """The pair items this judge has compared."""
    query = select(JudgePairLabel.pair_id).where(JudgePairLabel.judge_id == judge_id)
    return set(s.scalars(query))


def store_judge_pair_labels(s: Session, judge_id: int, rows: list[dict[str, Any]]) -> int:
    """Store the judge's pair verdicts (pair_id, first, second, winner, raw); how many."""
    if rows:
        s.execute(insert(JudgePairLabel), [{**r, "judge_id": judge_id} for r in rows])
    return len(rows)


def judge_pair_frame(s: Session, judge_id: int, dataset_id: int) -> pd.DataFrame:
    """The judge's pair verdicts on the dataset: pair, context, systems by name, first,
    second, winner."""
    system_a, system_b = aliased(System), aliased(System)
    query = (
        select(
            JudgePairLabel.pair_id,
            PairItem.context_id,
            system_a.name,
            system_b.name,
            JudgePairLabel.first,
            JudgePairLabel.second,
            JudgePairLabel.winner,
        )
        .join(PairItem, PairItem.id == JudgePairLabel.pair_id)
        .join(system_a, system_a.id == PairItem.system_a)
        .join(system_b, system_b.id == PairItem.system_b)
        .where(JudgePairLabel.judge_id == judge_id, PairItem.dataset_id == dataset_id)
        .order_by(JudgePairLabel.pair_id)
    )
    columns = ["pair_id", "context_id", "model_a", "model_b", "first", "second", "winner"]
    return pd.DataFrame(s.execute(query).all(), columns=columns)
