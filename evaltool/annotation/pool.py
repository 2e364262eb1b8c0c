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

from sqlalchemy import and_, exists, func, select, text, union, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from evaltool.storage.project import POOL_RULE, ProjectSettings
from evaltool.storage.schema import (
    DRAW_KEYS,
    Annotator,
    Assignment,
    Chat,
    ChatTurn,
    Context,
    GoldItem,
    HumanDraw,
    HumanDrawContext,
    Label,
    PoolItem,
    Response,
    Setting,
    System,
    TrainingAnswer,
    draw_key,
)
from evaltool.storage.schema import utcnow as _utcnow

# Candidates ``take`` tries before giving up on this kind of item (others may be claiming the
# same ones at once); the next kind of item is tried after that.
TRIES = 16
# Leases past their time taken back per claim (each claim takes back at least as many as
# the one lease it makes, so none pile up).
RECLAIM = 64


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
    """Every item the rater has met in any way: leased, labelled, skipped, trained on, or
    said by a bot in a chat they had (nobody labels their own chat)."""
    chatted = select(ChatTurn.response_id).join(Chat, Chat.id == ChatTurn.chat_id)
    return union(
        select(Assignment.response_id).where(Assignment.annotator_id == annotator_id),
        select(Label.response_id).where(Label.annotator_id == annotator_id),
        select(TrainingAnswer.response_id).where(TrainingAnswer.annotator_id == annotator_id),
        chatted.where(Chat.annotator_id == annotator_id, ChatTurn.response_id.is_not(None)),
    )


def undecided(ys: Any, yp: Any, n: Any, k: int) -> Any:
    """More labels (up to k) could still change the item's majority on a question; SQL or
    numbers. The vote rule is ``reporting.votes``; a test checks this agrees with its
    ``decided``."""
    left = k - n
    sensible_open = (2 * ys <= k) & (2 * (ys + left) > k)
    specific_open = (2 * yp <= k) & (2 * (yp + left) > k)
    return sensible_open | specific_open


def _counted(column: Any) -> Any:
    """A count over the outer pool row's labels that count (raters not flagged): of all of
    them, or of those where ``column`` is true."""
    query = (
        select(func.count(Label.id))
        .join(Annotator, Annotator.id == Label.annotator_id)
        .where(Label.response_id == PoolItem.response_id, Annotator.flagged.is_(False))
    )
    return (query if column is None else query.where(column)).scalar_subquery()


def for_people() -> Any:
    """SQL over a ``pool_items`` row: people label its context (every context of a dataset
    without a human share; only the drawn ones of a dataset with one)."""
    drawn = exists().where(HumanDrawContext.context_id == PoolItem.context_id)
    shared = exists().where(
        HumanDraw.dataset_id == Context.dataset_id, Context.id == PoolItem.context_id
    )
    return drawn | ~shared


def rule(settings: ProjectSettings, now: datetime) -> Any:
    """SQL over a ``pool_items`` row: the item is open now (seen or not by anyone); an item
    made gold since it was stored, or outside its dataset's human share, is never open."""
    n = _counted(None)
    held = (
        select(func.count(Assignment.id))
        .where(Assignment.response_id == PoolItem.response_id, live(now))
        .scalar_subquery()
    )
    short = n + held < settings.overlap
    if settings.adaptive:
        ys, yp = _counted(Label.sensible), _counted(Label.specific)
        short = short & ((n == 0) | undecided(ys, yp, n, settings.overlap))
    return short & ~exists().where(GoldItem.response_id == PoolItem.response_id) & for_people()


def recount(s: Session, settings: ProjectSettings, now: datetime, ids: Any = None) -> None:
    """Set ``open`` from the labels and leases of the items ``ids`` (a list or a subquery),
    or of every item. On PostgreSQL the caller holds the items' row locks (``lock``)."""
    query = update(PoolItem).values(open=rule(settings, now))
    if ids is not None:
        query = query.where(PoolItem.response_id.in_(ids))
    s.execute(query.execution_options(synchronize_session=False))


def lock(s: Session, ids: list[int], wait: bool = True) -> list[int]:
    """Take the items' row locks on PostgreSQL, in id order (SQLite's write lock already
    covers the transaction); with ``wait`` false, only those free now. Returns those held."""
    if s.get_bind().dialect.name != "postgresql" or not ids:
        return sorted(ids)
    query = select(Response.id).where(Response.id.in_(ids)).order_by(Response.id)
    return list(s.scalars(query.with_for_update(skip_locked=not wait)))


def sync(s: Session, settings: ProjectSettings, now: datetime) -> None:
    """Re-count every item when the rule changed since the pool last counted (or after a
    bulk change); a primary-key read otherwise."""
    want = {"overlap": settings.overlap, "adaptive": settings.adaptive}
    row = s.get(Setting, POOL_RULE)
    if row is not None and row.value == want:
        return
    if s.get_bind().dialect.name == "postgresql":  # one re-count at a time, none mid-change
        s.execute(text("LOCK TABLE pool_items IN SHARE ROW EXCLUSIVE MODE"))
        s.expire_all()
        row = s.get(Setting, POOL_RULE)
        if row is not None and row.value == want:
            return
    rebuild(s, settings, now)
    if row is None:
        s.add(Setting(key=POOL_RULE, value=want))
    else:
        row.value = want
    s.flush()


def recount_all(s: Session, settings: ProjectSettings) -> None:
    """Bring the pool up to the settings now (after they changed), so no claim waits for it."""
    sync(s, settings, _utcnow())


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


def reclaim(s: Session, settings: ProjectSettings, now: datetime) -> None:
    """Take back the slots of leases past their time (found by index, not by a scan)."""
    expired = s.execute(
        select(Assignment.id, Assignment.response_id)
        .where(Assignment.state == "leased", Assignment.expires_at <= now)
        .limit(RECLAIM)
    ).all()
    if not expired:
        return
    held = set(lock(s, [rid for _, rid in expired], wait=False))
    lapsed = [aid for aid, rid in expired if rid in held]
    s.execute(
        update(Assignment)
        .where(Assignment.id.in_(lapsed), Assignment.state == "leased")
        .values(state="lapsed")
        .execution_options(synchronize_session=False)
    )
    recount(s, settings, now, sorted(held))


def recount_rater(s: Session, annotator_id: int, settings: ProjectSettings) -> None:
    """Re-count the items a rater labelled (after their flag changed: their labels stopped
    or started counting)."""
    labelled = s.scalars(select(Label.response_id).where(Label.annotator_id == annotator_id))
    recount(s, settings, _utcnow(), lock(s, list(labelled)))


def candidates(
    s: Session, rng: random.Random, me: Annotator, avoid_context: int | None
) -> list[Open]:
    """Up to ``TRIES`` open items the rater has not met, in the order to try: a random
    system's items from a random key on (the keys are random, so each item is equally likely
    to come first), then the next system's; items of the context just seen come last."""
    systems = list(s.scalars(select(System.id).order_by(System.id)))
    rng.shuffle(systems)
    seen = seen_by(me.id)
    found: list[Open] = []
    for sid in systems:
        found += _from_key(
            s, sid, seen, avoid_context, rng.randrange(DRAW_KEYS), TRIES - len(found)
        )
        if len(found) >= TRIES:
            return found
    if avoid_context is not None:
        rows = s.execute(
            select(PoolItem.response_id, PoolItem.system_id, PoolItem.context_id).where(
                PoolItem.context_id == avoid_context,
                PoolItem.open.is_(True),
                PoolItem.response_id.not_in(seen),
            )
        ).all()
        found += [Open(*r) for r in rows]
    return found[:TRIES]


def _from_key(
    s: Session, system_id: int, seen: Any, avoid_context: int | None, start: int, limit: int
) -> list[Open]:
    """The system's open items the rater has not met, in key order from ``start`` round."""
    base = select(PoolItem.response_id, PoolItem.system_id, PoolItem.context_id).where(
        PoolItem.system_id == system_id,
        PoolItem.open.is_(True),
        PoolItem.response_id.not_in(seen),
    )
    if avoid_context is not None:
        base = base.where(PoolItem.context_id != avoid_context)
    found: list[Open] = []
    for part in (PoolItem.draw_key >= start, PoolItem.draw_key < start):
        rows = s.execute(base.where(part).order_by(PoolItem.draw_key).limit(limit - len(found)))
        found += [Open(*r) for r in rows]
        if len(found) >= limit:
            break
    return found


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
    """A short list (gold items) in the order to try: a random system's items, a random one
    first, then the rest; items of the context just seen come last."""
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


def is_open(s: Session, response_id: int, settings: ProjectSettings, now: datetime) -> bool:
    """Fresh count (new statement, new snapshot): whether the pool item is open now."""
    query = select(rule(settings, now)).where(PoolItem.response_id == response_id)
    return bool(s.scalar(query))


def slots_used(s: Session, response_id: int, now: datetime, but: int | None = None) -> int:
    """Fresh count of the item's counted labels and live leases (``but`` one rater's)."""
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
    rng: random.Random | None = None,
) -> Assignment | None:
    """Lease the first candidate that is still free (``capped``: a pool item still open,
    re-counted under its lock; its row is re-counted and re-keyed after)."""
    for item in candidates[:TRIES]:
        if not lock(s, [item.response_id], wait=False):
            continue  # a concurrent claim holds it
        if capped and not is_open(s, item.response_id, settings, now):
            recount(s, settings, now, [item.response_id])  # a stale row: close it
            continue
        lease = Assignment(
            response_id=item.response_id,
            annotator_id=me.id,
            leased_at=now,
            expires_at=now + timedelta(minutes=settings.lease_minutes),
        )
        s.add(lease)
        s.flush()
        if capped:
            recount(s, settings, now, [item.response_id])
            key = (rng or random).randrange(DRAW_KEYS)
            s.execute(
                update(PoolItem)
                .where(PoolItem.response_id == item.response_id)
                .values(draw_key=key)
                .execution_options(synchronize_session=False)
            )
        return lease
    return None
