"""The human share of a judged campaign: a seeded and recorded random set of a dataset's
contexts whose items people label (every system's item on each drawn context, so that systems
can be compared pair by pair). A judge labels every item; the pool offers people only the
drawn contexts' items (``pool.for_people``); the report combines the two
(``reporting.judged``). The draw is uniform (``draw``) or active (``draw_active``: each
context with its own chance, set by ``reporting.active`` from the judge's uncertainty).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from evaltool.annotation import pool
from evaltool.errors import UserError
from evaltool.storage.contexts import resolve_dataset
from evaltool.storage.db import as_engine, session_scope
from evaltool.storage.judging import replace_draw
from evaltool.storage.project import load_settings
from evaltool.storage.schema import Context, HumanDrawContext, Label, Response, utcnow


@dataclass(frozen=True)
class Drawn:
    """What a draw chose, and the labels already given outside it (kept, but not part of the
    random sample the judge-assisted report uses)."""

    dataset: str
    contexts: int
    of: int
    seed: int
    labels_outside: int


def draw(
    db: str | Engine | None,
    dataset: str | None,
    share: float | None = None,
    contexts: int | None = None,
    seed: int = 0,
) -> Drawn:
    """Draw ``share`` of the dataset's contexts (or ``contexts`` of them) uniformly at random
    with ``seed``: numpy's ``default_rng(seed).choice`` over the context ids in order, so the
    draw can be made again from what is recorded. Replaces the dataset's earlier draw and
    re-counts the pool in the same transaction."""
    check(share, contexts)
    with session_scope(as_engine(db)) as s:
        ds = resolve_dataset(s, dataset)
        query = select(Context.id).where(Context.dataset_id == ds.id).order_by(Context.id)
        ids = list(s.scalars(query))
        want = contexts if share is None else max(1, round(share * len(ids)))
        if not 1 <= want <= len(ids):
            raise UserError(
                f"{want} contexts asked for, {ds.name!r} has {len(ids)}", field="human_contexts"
            )
        chosen = np.random.default_rng(seed).choice(np.array(ids), size=want, replace=False)
        replace_draw(s, ds.id, seed, share, contexts, sorted(int(c) for c in chosen))
        pool.recount(s, load_settings(s), utcnow())
        return Drawn(ds.name, want, len(ids), seed, _labels_outside(s, ds.id))


def draw_active(
    db: str | Engine | None,
    dataset: str | None,
    chances: dict[int, float],
    pilot: set[int],
    share: float,
    seed: int,
    about: dict[str, Any],
) -> Drawn:
    """Draw each context not in the ``pilot`` (kept, already drawn uniformly) with its chance
    given the pilot's: (chance - pilot share) / (1 - pilot share), one Bernoulli draw each
    from numpy's ``default_rng(seed).random`` over the context ids in order. Records every
    chance and ``about`` (judge_id, floor, pilot) in place of the earlier draw."""
    with session_scope(as_engine(db)) as s:
        ds = resolve_dataset(s, dataset)
        ids = sorted(chances)
        base = len(pilot) / len(ids)
        others = [c for c in ids if c not in pilot]
        second = np.array([(chances[c] - base) / (1 - base) for c in others])
        hits = np.random.default_rng(seed).random(len(others)) < second
        chosen = sorted(pilot | {c for c, hit in zip(others, hits, strict=True) if hit})
        record = {**about, "chances": chances}
        replace_draw(s, ds.id, seed, share, None, chosen, active=record)
        pool.recount(s, load_settings(s), utcnow())
        return Drawn(ds.name, len(chosen), len(ids), seed, _labels_outside(s, ds.id))


def check(share: float | None, contexts: int | None) -> None:
    """A one-line error for a share or count that cannot be drawn (before anything is saved)."""
    if (share is None) == (contexts is None):
        raise UserError(
            "give {human_share} or {human_contexts}, one of them",
            settings=("human_share", "human_contexts"),
        )
    if share is not None and not 0 < share <= 1:
        raise UserError(
            f"{share:g} is not a share; use a number above 0, at most 1", field="human_share"
        )


def _labels_outside(s: Session, dataset_id: int) -> int:
    query = (
        select(func.count(Label.id))
        .join(Response, Response.id == Label.response_id)
        .join(Context, Context.id == Response.context_id)
        .where(
            Context.dataset_id == dataset_id,
            Context.id.not_in(select(HumanDrawContext.context_id)),
        )
    )
    return s.scalar(query) or 0
