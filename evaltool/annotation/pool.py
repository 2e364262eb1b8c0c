"""The pool of items and how one is claimed: who may get which item, drawn uniformly at random.

An item (a rank-0 response) is open while its labels that count (raters not flagged) plus
live leases are fewer than k, and, with adaptive overlap, while more labels could still change
its majority. A rater never gets an item they have leased, labelled, skipped or trained on.
A claim draws a system at random among those with open items, then an item uniformly at random
among that system's open items, avoiding the context just seen; then it takes the row (``FOR
UPDATE SKIP LOCKED`` on PostgreSQL; SQLite's write lock covers the transaction) and re-counts.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, select, union
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from evaltool.storage.project import ProjectSettings
from evaltool.storage.schema import (
    Annotator,
    Assignment,
    GoldItem,
    Label,
    Response,
    TrainingAnswer,
)

# Candidates ``take`` tries before giving up on this kind of item (others may be claiming the
# same ones at once); the next kind of item is tried after that.
TRIES = 16


@dataclass(frozen=True)
class Open:
    """An item a rater may get."""

    response_id: int
    system_id: int
    context_id: int


def live(now: datetime) -> ColumnElement[bool]:
    """Leases that still hold their slot."""
    return and_(Assignment.state == "leased", Assignment.expires_at > now)


def labels_given(s: Session, annotator_id: int) -> int:
    """How many labels the rater has given (training answers are not labels)."""
    return s.scalar(select(func.count(Label.id)).where(Label.annotator_id == annotator_id)) or 0


def lease_of(s: Session, annotator_id: int, response_id: int) -> Assignment | None:
    """The rater's lease on the item, in whatever state (there is at most one)."""
    return s.scalars(
        select(Assignment).where(
            Assignment.response_id == response_id, Assignment.annotator_id == annotator_id
        )
    ).first()


def gold_item(s: Session, response_id: int) -> GoldItem | None:
    """The item's gold answers, or None when it is an ordinary item of the pool."""
    return s.scalars(select(GoldItem).where(GoldItem.response_id == response_id)).first()


def seen_by(annotator_id: int):  # type: ignore[no-untyped-def]
    """Every item the rater has met in any way: leased, labelled, skipped or trained on."""
    return union(
        select(Assignment.response_id).where(Assignment.annotator_id == annotator_id),
        select(Label.response_id).where(Label.annotator_id == annotator_id),
        select(TrainingAnswer.response_id).where(TrainingAnswer.annotator_id == annotator_id),
    )


def _counted(column):  # type: ignore[no-untyped-def]
    """A correlated count over the outer response's labels that count (raters not flagged):
    of all of them, or of those where ``column`` is true."""
    query = (
        select(func.count(Label.id))
        .join(Annotator, Annotator.id == Label.annotator_id)
        .where(Label.response_id == Response.id, Annotator.flagged.is_(False))
    )
    return (query if column is None else query.where(column)).scalar_subquery()


def undecided(ys: Any, yp: Any, n: Any, k: int) -> Any:
    """SQL: more labels (up to k) could still change the item's majority on a question. The
    vote rule is ``reporting.votes``; a test checks this agrees with its ``decided``."""
    left = k - n
    sensible_open = (2 * ys <= k) & (2 * (ys + left) > k)
    specific_open = (2 * yp <= k) & (2 * (yp + left) > k)
    return sensible_open | specific_open


def open_items(s: Session, me: Annotator, settings: ProjectSettings, now: datetime) -> list[Open]:
    """Items of the pool the rater may get now (gold items are not in the pool)."""
    n = _counted(None)
    held = (
        select(func.count(Assignment.id))
        .where(Assignment.response_id == Response.id, live(now))
        .scalar_subquery()
    )
    short = n + held < settings.overlap
    if settings.adaptive:
        ys, yp = _counted(Label.sensible), _counted(Label.specific)
        short = short & ((n == 0) | undecided(ys, yp, n, settings.overlap))
    rows = s.execute(
        select(Response.id, Response.system_id, Response.context_id).where(
            Response.rank == 0,
            Response.id.not_in(select(GoldItem.response_id)),
            Response.id.not_in(seen_by(me.id)),
            short,
        )
    ).all()
    return [Open(*r) for r in rows]


def open_gold(s: Session, me: Annotator, training: bool = False) -> list[Open]:
    """Gold items the rater has not met (check items, or with ``training`` the teaching ones)."""
    rows = s.execute(
        select(Response.id, Response.system_id, Response.context_id)
        .join(GoldItem, GoldItem.response_id == Response.id)
        .where(GoldItem.training.is_(training), Response.id.not_in(seen_by(me.id)))
        .order_by(Response.id)
    ).all()
    return [Open(*r) for r in rows]


def draw(rng: random.Random, items: list[Open], avoid_context: int | None) -> list[Open]:
    """Candidates in the order to try: a random system's items, a random one first, then
    the rest; items of the context just seen come last."""
    by_system: dict[int, list[Open]] = {}
    for item in items:
        by_system.setdefault(item.system_id, []).append(item)
    systems = sorted(by_system)
    rng.shuffle(systems)
    order: list[Open] = []
    for sid in systems:
        group = by_system[sid][:]
        rng.shuffle(group)
        order += group
    return [i for i in order if i.context_id != avoid_context] + [
        i for i in order if i.context_id == avoid_context
    ]


def slots_used(s: Session, response_id: int, now: datetime, but: int | None = None) -> int:
    """Fresh count (new statement, new snapshot) of counted labels and live leases."""
    labels = s.scalar(
        select(func.count(Label.id))
        .join(Annotator, Annotator.id == Label.annotator_id)
        .where(Label.response_id == response_id, Annotator.flagged.is_(False))
    )
    q = select(func.count(Assignment.id)).where(Assignment.response_id == response_id, live(now))
    if but is not None:
        q = q.where(Assignment.annotator_id != but)
    return (labels or 0) + (s.scalar(q) or 0)


def take(
    s: Session,
    me: Annotator,
    candidates: list[Open],
    settings: ProjectSettings,
    now: datetime,
    capped: bool = True,
) -> Assignment | None:
    """Lease the first candidate that is still free (``capped``: still short of k)."""
    pg = s.get_bind().dialect.name == "postgresql"
    for item in candidates[:TRIES]:
        if pg:
            got = s.scalar(
                select(Response.id)
                .where(Response.id == item.response_id)
                .with_for_update(skip_locked=True)
            )
            if got is None:  # a concurrent claim holds it
                continue
        if capped and slots_used(s, item.response_id, now) >= settings.overlap:
            continue
        lease = Assignment(
            response_id=item.response_id,
            annotator_id=me.id,
            leased_at=now,
            expires_at=now + timedelta(minutes=settings.lease_minutes),
        )
        s.add(lease)
        s.flush()
        return lease
    return None
