"""Leases and labels inside one transaction: claim the next item, store an answer, undo it,
skip. ``flow`` calls these; it is the one public labelling path.

Each flow call is one short write transaction (``BEGIN IMMEDIATE`` on SQLite; row locks with
``SKIP LOCKED`` on PostgreSQL), and unique constraints are the last guard, so however many
people work at once: an item never gets more than k labels that count, nobody meets an item
twice, and a double click or a second tab stores one label. Leases expire (15 minutes by
default) and the item goes back to the pool; so does a skipped item.
"""

from __future__ import annotations

import random
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from evaltool.annotation import pool
from evaltool.annotation.gold import update_flag
from evaltool.annotation.items import SSA, Items
from evaltool.annotation.tasks import Task, TaskKind
from evaltool.errors import UserError
from evaltool.storage.project import ProjectSettings, load_settings
from evaltool.storage.schema import Annotator, Study
from evaltool.storage.schema import utcnow as _now

_rng = random.SystemRandom()
# Draws a claim makes before it says nothing is left (each one closes the stale rows it met;
# on PostgreSQL the candidates may all be held by concurrent claims).
ROUNDS = 8
SKIP_REASONS = ("cannot judge", "text is broken", "offensive", "other")
__all__ = ["Task"]


def to_task(s: Session, a: Any, kind: TaskKind) -> Any:
    """The item behind a lease, as the page shows it."""
    return kind.show(s, a)


def paused(me: Annotator, settings: ProjectSettings) -> bool:
    """Whether the project stops this rater: flagged on check items, with stopping on."""
    return me.flagged and settings.stop_flagged


def ensure_may_label(me: Annotator, settings: ProjectSettings) -> None:
    """Refuse an answer from a rater the project has stopped."""
    if paused(me, settings):
        raise UserError(
            "your answers on check items were often wrong, so labelling is "
            "paused for you; please contact the project admin"
        )


def current_lease(s: Session, me: Annotator, now: datetime, kind: Items = SSA) -> Any:
    """The rater's live lease, oldest first (a refresh shows the same item)."""
    lease = kind.lease
    return s.scalars(
        select(lease)
        .where(lease.annotator_id == me.id, pool.live(now, lease))
        .order_by(lease.leased_at, lease.id)
        .limit(1)
    ).first()


def _last_context(s: Session, me: Annotator, kind: Items) -> int | None:
    lease = kind.lease
    return s.scalar(
        select(kind.context)
        .join(lease, kind.lease_key == kind.locked)
        .where(lease.annotator_id == me.id)
        .order_by(lease.leased_at.desc(), lease.id.desc())
        .limit(1)
    )


def want_gold(
    rng: random.Random, s: Session, me: Annotator, settings: ProjectSettings, kind: Items = SSA
) -> bool:
    """Mix in a gold item now? At the project's rate, or, for a study's worker, so that the
    study's gold items per worker fall evenly over their quota."""
    if me.study_id is None:
        return settings.gold_rate > 0 and rng.random() < settings.gold_rate
    study = s.get(Study, me.study_id)
    assert study is not None
    done = pool.labels_given(s, me.id, kind)
    answer = kind.answer
    gold_done = (
        s.scalar(
            select(func.count(answer.id)).where(
                answer.annotator_id == me.id, kind.answer_key.in_(kind.gold)
            )
        )
        or 0
    )
    left, gold_left = study.items_per_worker - done, study.gold_per_worker - gold_done
    return gold_left > 0 and (gold_left >= left or rng.random() < gold_left / left)


def claim(
    rng: random.Random,
    s: Session,
    me: Annotator,
    settings: ProjectSettings,
    now: datetime,
    kind: Items = SSA,
) -> Any:
    """Lease a new item: gold or pool as ``want_gold`` says, the other if none is left."""
    avoid = _last_context(s, me, kind)
    gold_first = want_gold(rng, s, me, settings, kind)
    for gold in (gold_first, not gold_first):
        if gold:
            items = pool.draw(rng, pool.open_gold(s, me, kind=kind), avoid)
            lease = pool.take(s, me, items, settings, now, capped=False, kind=kind)
        else:
            lease = _claim_pool(rng, s, me, settings, now, avoid, kind)
        if lease is not None:
            return lease
    return None


def _claim_pool(
    rng: random.Random,
    s: Session,
    me: Annotator,
    settings: ProjectSettings,
    now: datetime,
    avoid: int | None,
    kind: Items,
) -> Any:
    """A pool item: rows re-counted first if the rule changed, lapsed leases taken back,
    then candidates drawn until one is leased (stale rows met on the way get closed)."""
    pool.sync(s, settings, now, kind)
    pool.reclaim(s, settings, now, kind)
    for _ in range(ROUNDS):
        found = pool.candidates(s, rng, me, avoid, kind)
        if not found:
            return None
        lease = pool.take(s, me, found, settings, now, rng=rng, kind=kind)
        if lease is not None:
            return lease
    return None


def store_answer(
    s: Session, me: Annotator, row: Any, seconds: float | None, source: str, kind: Items = SSA
) -> bool:
    """Store one answer (a kind's answer row, its item set) on a leased item in this
    transaction; False when the rater's answer is already there."""
    settings = load_settings(s)
    ensure_may_label(me, settings)
    item_id = getattr(row, kind.answer_key.key)
    pool.lock(s, [item_id], kind=kind)  # one change to the item at a time
    mine = select(kind.answer.id).where(
        kind.answer_key == item_id, kind.answer.annotator_id == me.id
    )
    if s.scalar(mine) is not None:
        return False
    lease = _usable_lease(s, me, item_id, settings, kind)
    if seconds is None:
        seconds = (_now() - lease.leased_at).total_seconds()
    row.annotator_id, row.seconds, row.source = me.id, round(seconds, 3), source
    s.add(row)
    lease.state = "done"
    s.flush()
    _after_change(s, me, item_id, settings, kind)
    return True


def _is_gold(s: Session, item_id: int, kind: Items) -> bool:
    return (
        s.scalar(select(kind.locked).where(kind.locked == item_id, kind.locked.in_(kind.gold)))
        is not None
    )


def _after_change(
    s: Session, me: Annotator, item_id: int, settings: ProjectSettings, kind: Items
) -> None:
    """Re-count what an answer changed: the rater's items when a gold answer changed their
    flag, else the item's pool row."""
    if _is_gold(s, item_id, kind):
        if update_flag(s, me, settings):
            pool.recount_rater(s, me.id, settings)
    else:
        pool.recount(s, settings, _now(), [item_id], kind)


def _usable_lease(
    s: Session, me: Annotator, item_id: int, settings: ProjectSettings, kind: Items
) -> Any:
    """The annotator's lease on the item; a late answer still counts while a slot is free."""
    lease = pool.lease_of(s, me.id, item_id, kind)
    if lease is None or lease.state == "skipped":
        raise UserError("this item was not given to you; reload the page")
    now = _now()
    expired = lease.expires_at <= now and not _is_gold(s, item_id, kind)
    if expired and pool.slots_used(s, item_id, now, but=me.id, kind=kind) >= settings.overlap:
        raise UserError(
            "your time on this item ran out and it went to someone else; your answer was not stored"
        )
    return lease


def undoable(s: Session, me: Annotator, kind: Items = SSA) -> tuple[Any, Any] | None:
    """The rater's last answer and its lease, while the lease lives and no code is issued."""
    if me.completion_code:
        return None
    answer = kind.answer
    last = s.scalars(
        select(answer).where(answer.annotator_id == me.id).order_by(answer.id.desc()).limit(1)
    ).first()
    item_id = None if last is None else getattr(last, kind.answer_key.key)
    lease = None if last is None else pool.lease_of(s, me.id, item_id, kind)  # type: ignore[arg-type]
    if last is None or lease is None or lease.expires_at <= _now():
        return None
    return last, lease


def undo_last(s: Session, me: Annotator, kind: Items = SSA) -> int | None:
    """Take back the rater's last answer while its lease lives; the item is theirs again (and
    shown first, being their oldest lease). Returns the item, or None when nothing can be
    undone."""
    found = undoable(s, me, kind)
    if found is None:
        return None
    last, lease = found
    item_id = getattr(last, kind.answer_key.key)
    pool.lock(s, [item_id], kind=kind)
    s.delete(last)
    lease.state = "leased"
    s.flush()
    settings = load_settings(s)
    if _is_gold(s, item_id, kind) and update_flag(s, me, settings):
        pool.recount_rater(s, me.id, settings)
    pool.recount(s, settings, _now(), [item_id], kind)
    return item_id


def skip_item(s: Session, me: Annotator, item_id: int, reason: str, kind: Items = SSA) -> None:
    """Record that the rater could not judge the item, and why; it returns to the pool for
    others (its slot is freed) and this rater never meets it again."""
    if reason not in SKIP_REASONS:
        raise UserError(f"{reason!r}: use {', '.join(SKIP_REASONS)}", field="reason")
    pool.lock(s, [item_id], kind=kind)
    lease = pool.lease_of(s, me.id, item_id, kind)
    if lease is None or lease.state not in ("leased", "lapsed"):
        raise UserError("this item is not leased to you; reload the page")
    lease.state, lease.reason = "skipped", reason
    s.flush()
    pool.recount(s, load_settings(s), _now(), [item_id], kind)
