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
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from evaltool.annotation import pool
from evaltool.annotation.gold import update_flag
from evaltool.errors import UserError
from evaltool.storage.project import ProjectSettings, load_settings
from evaltool.storage.schema import Annotator, Assignment, Context, GoldItem, Label, Response, Study
from evaltool.storage.schema import utcnow as _now

_rng = random.SystemRandom()
# Draws a claim makes before it says nothing is left (each one closes the stale rows it met;
# on PostgreSQL the candidates may all be held by concurrent claims).
ROUNDS = 8
SKIP_REASONS = ("cannot judge", "text is broken", "offensive", "other")


@dataclass(frozen=True)
class Task:
    """One item to label: the context turns and the response; the system stays hidden."""

    response_id: int
    turns: list[str]
    response: str
    expires_at: datetime


def to_task(s: Session, a: Assignment) -> Task:
    """The item behind a lease, as the page shows it."""
    response = s.get(Response, a.response_id)
    assert response is not None
    turns = s.scalar(select(Context.turns).where(Context.id == response.context_id))
    return Task(response.id, list(turns or []), response.text, a.expires_at)


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


def current_lease(s: Session, me: Annotator, now: datetime) -> Assignment | None:
    """The rater's live lease, oldest first (a refresh shows the same item)."""
    return s.scalars(
        select(Assignment)
        .where(Assignment.annotator_id == me.id, pool.live(now))
        .order_by(Assignment.leased_at, Assignment.id)
        .limit(1)
    ).first()


def _last_context(s: Session, me: Annotator) -> int | None:
    return s.scalar(
        select(Response.context_id)
        .join(Assignment, Assignment.response_id == Response.id)
        .where(Assignment.annotator_id == me.id)
        .order_by(Assignment.leased_at.desc(), Assignment.id.desc())
        .limit(1)
    )


def want_gold(rng: random.Random, s: Session, me: Annotator, settings: ProjectSettings) -> bool:
    """Mix in a gold item now? At the project's rate, or, for a study's worker, so that the
    study's gold items per worker fall evenly over their quota."""
    if me.study_id is None:
        return settings.gold_rate > 0 and rng.random() < settings.gold_rate
    study = s.get(Study, me.study_id)
    assert study is not None
    done = pool.labels_given(s, me.id)
    gold_done = (
        s.scalar(
            select(func.count(Label.id))
            .join(GoldItem, GoldItem.response_id == Label.response_id)
            .where(Label.annotator_id == me.id)
        )
        or 0
    )
    left, gold_left = study.items_per_worker - done, study.gold_per_worker - gold_done
    return gold_left > 0 and (gold_left >= left or rng.random() < gold_left / left)


def claim(
    rng: random.Random, s: Session, me: Annotator, settings: ProjectSettings, now: datetime
) -> Assignment | None:
    """Lease a new item: gold or pool as ``want_gold`` says, the other kind if none is left."""
    avoid = _last_context(s, me)
    gold_first = want_gold(rng, s, me, settings)
    for gold in (gold_first, not gold_first):
        if gold:
            items = pool.draw(rng, pool.open_gold(s, me), avoid)
            lease = pool.take(s, me, items, settings, now, capped=False)
        else:
            lease = _claim_pool(rng, s, me, settings, now, avoid)
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
) -> Assignment | None:
    """A pool item: rows re-counted first if the rule changed, lapsed leases taken back,
    then candidates drawn until one is leased (stale rows met on the way get closed)."""
    pool.sync(s, settings, now)
    pool.reclaim(s, settings, now)
    for _ in range(ROUNDS):
        found = pool.candidates(s, rng, me, avoid)
        if not found:
            return None
        lease = pool.take(s, me, found, settings, now, rng=rng)
        if lease is not None:
            return lease
    return None


def store_label(
    s: Session,
    me: Annotator,
    response_id: int,
    sensible: bool,
    specific: bool,
    seconds: float | None,
    source: str,
) -> bool:
    """Store one answer on a leased item in this transaction; False when it is already there."""
    settings = load_settings(s)
    ensure_may_label(me, settings)
    pool.lock(s, [response_id])  # one change to the item at a time
    mine = select(Label.id).where(Label.response_id == response_id, Label.annotator_id == me.id)
    if s.scalar(mine) is not None:
        return False
    lease = _usable_lease(s, me, response_id, settings)
    if seconds is None:
        seconds = (_now() - lease.leased_at).total_seconds()
    s.add(
        Label(
            response_id=response_id,
            annotator_id=me.id,
            sensible=bool(sensible),
            specific=bool(sensible and specific),
            seconds=round(seconds, 3),
            source=source,
        )
    )
    lease.state = "done"
    s.flush()
    if pool.gold_item(s, response_id) is not None:
        if update_flag(s, me, settings):
            pool.recount_rater(s, me.id, settings)
    else:
        pool.recount(s, settings, _now(), [response_id])
    return True


def _usable_lease(
    s: Session, me: Annotator, response_id: int, settings: ProjectSettings
) -> Assignment:
    """The annotator's lease on the item; a late answer still counts while a slot is free."""
    lease = pool.lease_of(s, me.id, response_id)
    if lease is None or lease.state == "skipped":
        raise UserError("this item was not given to you; reload the page")
    now = _now()
    expired = lease.expires_at <= now and pool.gold_item(s, response_id) is None
    if expired and pool.slots_used(s, response_id, now, but=me.id) >= settings.overlap:
        raise UserError(
            "your time on this item ran out and it went to someone else; your answer was not stored"
        )
    return lease


def undoable(s: Session, me: Annotator) -> tuple[Label, Assignment] | None:
    """The rater's last answer and its lease, while the lease lives and no code is issued."""
    if me.completion_code:
        return None
    last = s.scalars(
        select(Label).where(Label.annotator_id == me.id).order_by(Label.id.desc()).limit(1)
    ).first()
    lease = None if last is None else pool.lease_of(s, me.id, last.response_id)
    if last is None or lease is None or lease.expires_at <= _now():
        return None
    return last, lease


def undo_last(s: Session, me: Annotator) -> int | None:
    """Take back the rater's last answer while its lease lives; the item is theirs again (and
    shown first, being their oldest lease). Returns the item, or None when nothing can be
    undone."""
    found = undoable(s, me)
    if found is None:
        return None
    last, lease = found
    pool.lock(s, [last.response_id])
    s.delete(last)
    lease.state = "leased"
    s.flush()
    settings = load_settings(s)
    if pool.gold_item(s, last.response_id) is not None and update_flag(s, me, settings):
        pool.recount_rater(s, me.id, settings)
    pool.recount(s, settings, _now(), [last.response_id])
    return last.response_id


def skip_item(s: Session, me: Annotator, response_id: int, reason: str) -> None:
    """Record that the rater could not judge the item, and why; it returns to the pool for
    others (its slot is freed) and this rater never meets it again."""
    if reason not in SKIP_REASONS:
        raise UserError(f"{reason!r}: use {', '.join(SKIP_REASONS)}", field="reason")
    pool.lock(s, [response_id])
    lease = pool.lease_of(s, me.id, response_id)
    if lease is None or lease.state not in ("leased", "lapsed"):
        raise UserError("this item is not leased to you; reload the page")
    lease.state, lease.reason = "skipped", reason
    s.flush()
    pool.recount(s, load_settings(s), _now(), [response_id])
