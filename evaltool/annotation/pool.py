"""The pool of items and how one is claimed: who may get which item, drawn at random, at a
cost that does not grow with the pool.

An item (a rank-0 response, not gold) is open while its labels that count (raters not
flagged) plus live leases are fewer than k, and, with adaptive overlap, while more labels
could still change its majority. A rater never gets an item they have leased, labelled,
skipped or trained on. A claim draws a system at random among those with open items the rater
has not met, then an item of it by random key, avoiding the context just seen; then it takes
the row (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite's write lock covers the
transaction) and re-counts.

``pool_items`` keeps per item whether it is open and a random draw key, indexed by (system,
open, key), so a claim reads a few index ranges. ``open`` false is always exact; true may be
stale (labels imported, a rater unflagged), and a claim closes such a row when it meets it.
Every change to an item's labels or leases re-counts its row in the same transaction, under
the item's row lock on PostgreSQL; leases past their time are found by index and marked
``lapsed``; a changed rule (overlap k, adaptive) re-counts every row once.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from evaltool.annotation.items import PAIRS, SSA, Items, for_people, live, rule, seen_by, undecided
from evaltool.storage.project import ProjectSettings
from evaltool.storage.schema import (
    DRAW_KEYS,
    Annotator,
    GoldItem,
    PairItem,
    PoolItem,
    Response,
    Setting,
    draw_key,
)
from evaltool.storage.schema import utcnow as _utcnow

__all__ = ["for_people", "live", "rule", "seen_by", "undecided"]  # part of the pool's face

# Candidates ``take`` tries before giving up on this kind of item (others may be claiming the
# same ones at once); the next kind of item is tried after that.
TRIES = 16
# Leases past their time taken back per claim (each claim takes back at least as many as
# the one lease it makes, so none pile up).
RECLAIM = 64


@dataclass(frozen=True)
class Open:
    """An item a rater may get, with the group (system, or pair of systems) it is drawn by."""

    item_id: int
    group: tuple[int, ...]
    context_id: int | None


def labels_given(s: Session, annotator_id: int, kind: Items = SSA) -> int:
    """How many answers of the kind the rater has given (training answers are not labels)."""
    query = select(func.count(kind.answer.id)).where(kind.answer.annotator_id == annotator_id)
    return s.scalar(query) or 0


def lease_of(s: Session, annotator_id: int, item_id: int, kind: Items = SSA) -> Any:
    """The rater's lease on the item, in whatever state (there is at most one)."""
    return s.scalars(
        select(kind.lease).where(kind.lease_key == item_id, kind.lease.annotator_id == annotator_id)
    ).first()


def gold_item(s: Session, response_id: int) -> GoldItem | None:
    """The SSA item's gold answers, or None when it is an ordinary item of the pool."""
    return s.scalars(select(GoldItem).where(GoldItem.response_id == response_id)).first()


def recount(
    s: Session, settings: ProjectSettings, now: datetime, ids: Any = None, kind: Items = SSA
) -> None:
    """Set ``open`` from the answers and leases of the items ``ids`` (a list or a subquery),
    or of every item. On PostgreSQL the caller holds the items' row locks (``lock``)."""
    query = update(kind.row).values(open=rule(settings, now, kind))
    if ids is not None:
        query = query.where(kind.key.in_(ids))
    s.execute(query.execution_options(synchronize_session=False))


def lock(s: Session, ids: list[int], wait: bool = True, kind: Items = SSA) -> list[int]:
    """Take the items' row locks on PostgreSQL, in id order (SQLite's write lock already
    covers the transaction); with ``wait`` false, only those free now. Returns those held."""
    if s.get_bind().dialect.name != "postgresql" or not ids:
        return sorted(ids)
    query = select(kind.locked).where(kind.locked.in_(ids)).order_by(kind.locked)
    return list(s.scalars(query.with_for_update(skip_locked=not wait)))


def sync(s: Session, settings: ProjectSettings, now: datetime, kind: Items = SSA) -> None:
    """Re-count every item when the rule changed since the pool last counted (or after a
    bulk change); a primary-key read otherwise."""
    want = {"overlap": settings.overlap, "adaptive": settings.adaptive}
    row = s.get(Setting, kind.rule_key)
    if row is not None and row.value == want:
        return
    if s.get_bind().dialect.name == "postgresql":  # one re-count at a time, none mid-change
        table = kind.row.__tablename__
        s.execute(text(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE"))
        s.expire_all()
        row = s.get(Setting, kind.rule_key)
        if row is not None and row.value == want:
            return
    if kind is SSA:
        rebuild(s, settings, now)
    else:  # pair items are their own pool rows: always whole
        recount(s, settings, now, kind=kind)
    if row is None:
        s.add(Setting(key=kind.rule_key, value=want))
    else:
        row.value = want
    s.flush()


def recount_all(s: Session, settings: ProjectSettings) -> None:
    """Bring every kind's pool up to the settings now (after they changed), so no claim
    waits for it."""
    for kind in (SSA, PAIRS):
        sync(s, settings, _utcnow(), kind)


def rebuild(s: Session, settings: ProjectSettings, now: datetime) -> None:
    """Make ``pool_items`` whole and exact: a row for every rank-0 response that is not gold,
    none for gold items, every row re-counted."""
    gold = select(GoldItem.response_id)
    s.execute(
        PoolItem.__table__.delete().where(PoolItem.response_id.in_(gold))  # type: ignore[attr-defined]
    )
    missing = s.execute(
        select(Response.id, Response.system_id, Response.context_id).where(
            Response.rank == 0,
            Response.id.not_in(gold),
            Response.id.not_in(select(PoolItem.response_id)),
        )
    ).all()
    rows = [
        {"response_id": r, "system_id": y, "context_id": c, "open": True, "draw_key": draw_key(r)}
        for r, y, c in missing
    ]
    if rows:
        s.execute(PoolItem.__table__.insert(), rows)  # type: ignore[attr-defined]
    recount(s, settings, now)


def reclaim(s: Session, settings: ProjectSettings, now: datetime, kind: Items = SSA) -> None:
    """Take back the slots of leases past their time (found by index, not by a scan)."""
    lease = kind.lease
    expired = s.execute(
        select(lease.id, kind.lease_key)
        .where(lease.state == "leased", lease.expires_at <= now)
        .limit(RECLAIM)
    ).all()
    if not expired:
        return
    held = set(lock(s, [item for _, item in expired], wait=False, kind=kind))
    lapsed = [aid for aid, item in expired if item in held]
    s.execute(
        update(lease)
        .where(lease.id.in_(lapsed), lease.state == "leased")
        .values(state="lapsed")
        .execution_options(synchronize_session=False)
    )
    recount(s, settings, now, sorted(held), kind)


def recount_rater(s: Session, annotator_id: int, settings: ProjectSettings) -> None:
    """Re-count the items of every kind a rater answered (after their flag changed: their
    answers stopped or started counting)."""
    for kind in (SSA, PAIRS):
        answered = s.scalars(
            select(kind.answer_key).where(kind.answer.annotator_id == annotator_id)
        )
        recount(s, settings, _utcnow(), lock(s, list(answered), kind=kind), kind)


def candidates(
    s: Session, rng: random.Random, me: Annotator, avoid_context: int | None, kind: Items = SSA
) -> list[Open]:
    """Up to ``TRIES`` open items the rater has not met, in the order to try: a random
    group's (system's, or pair of systems') items from a random key on (the keys are random,
    so each item is equally likely to come first), then the next group's; items of the
    context just seen come last."""
    groups = kind.groups(s)
    rng.shuffle(groups)
    seen = kind.seen(me.id)
    found: list[Open] = []
    for group in groups:
        start = rng.randrange(DRAW_KEYS)
        found += _from_key(s, kind, group, seen, avoid_context, start, TRIES - len(found))
        if len(found) >= TRIES:
            return found
    if avoid_context is not None:
        rows = s.execute(_open_rows(kind, seen).where(kind.row.context_id == avoid_context)).all()
        found += [_open(r) for r in rows]
    return found[:TRIES]


def _open_rows(kind: Items, seen: Any) -> Any:
    """Open pool rows of the kind the rater has not met: (item, group..., context)."""
    return select(kind.key, *kind.group_columns, kind.row.context_id).where(
        kind.row.open.is_(True), kind.key.not_in(seen)
    )


def _open(row: Any) -> Open:
    return Open(row[0], tuple(row[1:-1]), row[-1])


def _from_key(
    s: Session,
    kind: Items,
    group: tuple[int, ...],
    seen: Any,
    avoid_context: int | None,
    start: int,
    limit: int,
) -> list[Open]:
    """The group's open items the rater has not met, in key order from ``start`` round."""
    base = _open_rows(kind, seen).where(
        *(column == value for column, value in zip(kind.group_columns, group, strict=True))
    )
    if avoid_context is not None:
        base = base.where(kind.row.context_id != avoid_context)
    found: list[Open] = []
    for part in (kind.row.draw_key >= start, kind.row.draw_key < start):
        rows = s.execute(base.where(part).order_by(kind.row.draw_key).limit(limit - len(found)))
        found += [_open(r) for r in rows]
        if len(found) >= limit:
            break
    return found


def open_gold(s: Session, me: Annotator, training: bool = False, kind: Items = SSA) -> list[Open]:
    """Gold items the rater has not met (check items, or with ``training`` the teaching
    ones), of either kind."""
    if kind is PAIRS:
        query = (
            select(PairItem.id, PairItem.system_a, PairItem.system_b, PairItem.context_id)
            .where(PairItem.expected.is_not(None), PairItem.training.is_(training))
            .where(PairItem.id.not_in(kind.seen(me.id)))
            .order_by(PairItem.id)
        )
    else:
        query = (
            select(Response.id, Response.system_id, Response.context_id)
            .join(GoldItem, GoldItem.response_id == Response.id)
            .where(GoldItem.training.is_(training), Response.id.not_in(kind.seen(me.id)))
            .order_by(Response.id)
        )
    return [_open(r) for r in s.execute(query).all()]


def draw(rng: random.Random, items: list[Open], avoid_context: int | None) -> list[Open]:
    """A short list (gold items) in the order to try: a random group's items, a random one
    first, then the rest; items of the context just seen come last."""
    by_group: dict[tuple[int, ...], list[Open]] = {}
    for item in items:
        by_group.setdefault(item.group, []).append(item)
    groups = sorted(by_group)
    rng.shuffle(groups)
    order: list[Open] = []
    for group in groups:
        members = by_group[group][:]
        rng.shuffle(members)
        order += members
    return [i for i in order if i.context_id != avoid_context] + [
        i for i in order if i.context_id == avoid_context
    ]


def is_open(
    s: Session, item_id: int, settings: ProjectSettings, now: datetime, kind: Items = SSA
) -> bool:
    """Fresh count (new statement, new snapshot): whether the pool item is open now."""
    query = select(rule(settings, now, kind)).where(kind.key == item_id)
    return bool(s.scalar(query))


def slots_used(
    s: Session, item_id: int, now: datetime, but: int | None = None, kind: Items = SSA
) -> int:
    """Fresh count of the item's counted answers and live leases (``but`` one rater's)."""
    answer, lease = kind.answer, kind.lease
    answers = s.scalar(
        select(func.count(answer.id))
        .join(Annotator, Annotator.id == answer.annotator_id)
        .where(kind.answer_key == item_id, Annotator.flagged.is_(False))
    )
    q = select(func.count(lease.id)).where(kind.lease_key == item_id, live(now, lease))
    if but is not None:
        q = q.where(lease.annotator_id != but)
    return (answers or 0) + (s.scalar(q) or 0)


def take(
    s: Session,
    me: Annotator,
    candidates: list[Open],
    settings: ProjectSettings,
    now: datetime,
    capped: bool = True,
    rng: random.Random | None = None,
    kind: Items = SSA,
) -> Any:
    """Lease the first candidate that is still free (``capped``: a pool item still open,
    re-counted under its lock; its row is re-counted and re-keyed after)."""
    for item in candidates[:TRIES]:
        if not lock(s, [item.item_id], wait=False, kind=kind):
            continue  # a concurrent claim holds it
        if capped and not is_open(s, item.item_id, settings, now, kind):
            recount(s, settings, now, [item.item_id], kind)  # a stale row: close it
            continue
        lease = kind.lease(
            annotator_id=me.id,
            leased_at=now,
            expires_at=now + timedelta(minutes=settings.lease_minutes),
        )
        setattr(lease, kind.lease_key.key, item.item_id)
        s.add(lease)
        s.flush()
        if capped:
            recount(s, settings, now, [item.item_id], kind)
            key = (rng or random).randrange(DRAW_KEYS)
            s.execute(
                update(kind.row)
                .where(kind.key == item.item_id)
                .values(draw_key=key)
                .execution_options(synchronize_session=False)
            )
        return lease
    return None
