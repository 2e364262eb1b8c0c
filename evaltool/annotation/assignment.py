"""Assignment and labels for the annotation page, with no UI: what the page calls.

``next_task`` leases the annotator's next item; ``submit_label`` stores their answer. Each is
one short write transaction (``BEGIN IMMEDIATE`` on SQLite; ``SELECT ... FOR UPDATE SKIP
LOCKED`` on PostgreSQL), and unique constraints are the last guard, so however many people
work at once: a response (rank 0) never gets more than k labels, nobody sees a response twice,
and a double click or a second tab stores one label. Leases expire (15 minutes by default) and
the item goes back to the pool.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, and_, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from evaltool.annotation.accounts import authenticate
from evaltool.annotation.gold import update_flag
from evaltool.errors import UserError
from evaltool.storage.db import as_engine, session_scope
from evaltool.storage.project import ProjectSettings, load_settings
from evaltool.storage.schema import (
    Annotator,
    Assignment,
    Context,
    GoldItem,
    Label,
    Response,
    utcnow,
)

_rng = random.SystemRandom()


@dataclass(frozen=True)
class Task:
    """One item to label: the context turns and the response; the system stays hidden."""

    response_id: int
    turns: list[str]
    response: str
    expires_at: datetime


@dataclass(frozen=True)
class Progress:
    """How far an annotator is: labels given and items still open to them."""

    labelled: int
    remaining: int


@dataclass(frozen=True)
class Submitted:
    """The outcome of ``submit_label``: stored, or already stored (a double click)."""

    stored: bool
    duplicate: bool


def _live(now: datetime) -> ColumnElement[bool]:
    return and_(Assignment.state == "leased", Assignment.expires_at > now)


def _taken(now: datetime) -> ColumnElement[int]:
    """Labels plus live leases of the outer response: the slots of k already used."""
    labels = select(func.count(Label.id)).where(Label.response_id == Response.id).scalar_subquery()
    leases = (
        select(func.count(Assignment.id))
        .where(Assignment.response_id == Response.id, _live(now))
        .scalar_subquery()
    )
    return labels + leases


def _slots_used(s: Session, response_id: int, now: datetime, but: int | None = None) -> int:
    """Fresh count (new statement, new snapshot) of labels and live leases on one response."""
    labels = s.scalar(select(func.count(Label.id)).where(Label.response_id == response_id)) or 0
    q = select(func.count(Assignment.id)).where(Assignment.response_id == response_id, _live(now))
    if but is not None:
        q = q.where(Assignment.annotator_id != but)
    return labels + (s.scalar(q) or 0)


def _to_task(s: Session, a: Assignment) -> Task:
    response = s.get(Response, a.response_id)
    assert response is not None
    turns = s.scalar(select(Context.turns).where(Context.id == response.context_id))
    return Task(response.id, list(turns or []), response.text, a.expires_at)


def _candidate(
    rng: random.Random,
    s: Session,
    me: Annotator,
    k: int,
    now: datetime,
    gold: bool,
    avoid_context: int | None,
) -> int | None:
    """A response the annotator may get, picked at a random place in a random system's list."""
    seen = select(Assignment.response_id).where(Assignment.annotator_id == me.id)
    gold_ids = select(GoldItem.response_id)
    base = select(Response.id).where(Response.rank == 0, Response.id.not_in(seen))
    if gold:
        base = base.where(Response.id.in_(gold_ids))
    else:
        base = base.where(Response.id.not_in(gold_ids), _taken(now) < k)
    if avoid_context is not None:
        base = base.where(Response.context_id != avoid_context)
    systems = sorted(s.scalars(select(Response.system_id).where(Response.rank == 0).distinct()))
    rng.shuffle(systems)
    top = s.scalar(select(func.max(Response.id))) or 0
    pg = s.get_bind().dialect.name == "postgresql"
    for system_id in systems:
        start = rng.randint(0, top)
        for lower, upper in ((start, None), (None, start)):  # wrap around
            q = base.where(Response.system_id == system_id)
            q = q.where(Response.id >= lower) if lower is not None else q.where(Response.id < upper)
            q = q.order_by(Response.id).limit(1)
            if pg:
                q = q.with_for_update(skip_locked=True, of=Response)
            found = s.scalar(q)
            if found is not None:
                return found
    return None


def _claim(
    rng: random.Random, s: Session, me: Annotator, settings: ProjectSettings, now: datetime
) -> Assignment | None:
    last = s.scalar(
        select(Response.context_id)
        .join(Assignment, Assignment.response_id == Response.id)
        .where(Assignment.annotator_id == me.id)
        .order_by(Assignment.leased_at.desc(), Assignment.id.desc())
        .limit(1)
    )
    want_gold = settings.gold_rate > 0 and rng.random() < settings.gold_rate
    order = [(want_gold, last), (not want_gold, last), (False, None), (True, None)]
    for gold, avoid in order:
        for _ in range(4):
            rid = _candidate(rng, s, me, settings.overlap, now, gold, avoid)
            if rid is None:
                break
            # Re-count after taking the row: a claim that committed meanwhile must be seen.
            if gold or _slots_used(s, rid, now) < settings.overlap:
                lease = Assignment(
                    response_id=rid,
                    annotator_id=me.id,
                    leased_at=now,
                    expires_at=now + timedelta(minutes=settings.lease_minutes),
                )
                s.add(lease)
                s.flush()
                return lease
    return None


def _ensure_may_label(me: Annotator, settings: ProjectSettings) -> None:
    """The one place that stops a flagged annotator when the project says so."""
    if me.flagged and settings.stop_flagged:
        raise UserError(
            "your answers on check items were often wrong, so labelling is "
            "paused for you; please contact the project admin"
        )


def next_task(
    db: str | Engine | None, token: str | None, rng: random.Random | None = None
) -> Task | None:
    """The annotator's next item, leased to them; the same one again while the lease lives.

    Returns None when nothing is left for them. A bad or disabled token, or an annotator
    stopped after failing gold checks, raises ``UserError``. ``rng`` (default: the system's
    randomness) picks the item; simulations pass a seeded one to be reproducible.
    """
    engine = as_engine(db)
    with session_scope(engine) as s:
        me = authenticate(s, token)
        settings = load_settings(s)
        _ensure_may_label(me, settings)
        now = utcnow()
        current = s.scalars(
            select(Assignment)
            .where(Assignment.annotator_id == me.id, _live(now))
            .order_by(Assignment.leased_at, Assignment.id)
            .limit(1)
        ).first()
        if current is None:
            current = _claim(rng or _rng, s, me, settings, now)
        return None if current is None else _to_task(s, current)


def submit_label(
    db: str | Engine | None,
    token: str | None,
    response_id: int,
    sensible: bool,
    specific: bool,
    seconds: float | None = None,
    source: str = "web",
) -> Submitted:
    """Store the annotator's answer for a leased item; ``specific`` is false unless sensible.

    Submitting the same item again (double click, second tab) stores nothing more. After a
    lease expired the answer is still taken while the item has a free slot.
    """
    try:
        with session_scope(as_engine(db)) as s:
            me = authenticate(s, token)
            settings = load_settings(s)
            _ensure_may_label(me, settings)
            if s.get_bind().dialect.name == "postgresql":  # one submit per item at a time
                s.execute(select(Response.id).where(Response.id == response_id).with_for_update())
            mine = select(Label.id).where(
                Label.response_id == response_id, Label.annotator_id == me.id
            )
            if s.scalar(mine) is not None:
                return Submitted(stored=False, duplicate=True)
            lease = _usable_lease(s, me, response_id, settings)
            if seconds is None:
                seconds = (utcnow() - lease.leased_at).total_seconds()
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
            if s.scalar(select(GoldItem.id).where(GoldItem.response_id == response_id)):
                update_flag(s, me, settings)
            return Submitted(stored=True, duplicate=False)
    except IntegrityError:  # the same label from a second tab committed first
        return Submitted(stored=False, duplicate=True)


def _usable_lease(
    s: Session, me: Annotator, response_id: int, settings: ProjectSettings
) -> Assignment:
    """The annotator's lease on the item; a late answer still counts while a slot is free."""
    lease = s.scalars(
        select(Assignment).where(
            Assignment.response_id == response_id, Assignment.annotator_id == me.id
        )
    ).first()
    if lease is None:
        raise UserError("this item was not given to you; reload the page")
    now = utcnow()
    gold = s.scalar(select(GoldItem.id).where(GoldItem.response_id == response_id))
    expired = lease.expires_at <= now and gold is None
    if expired and _slots_used(s, response_id, now, but=me.id) >= settings.overlap:
        raise UserError(
            "your time on this item ran out and it went to someone else; your answer was not stored"
        )
    return lease


def progress(db: str | Engine | None, token: str | None) -> Progress:
    """Labels the annotator gave and items still open to them (for "labelled N, M left")."""
    engine = as_engine(db)
    with session_scope(engine, readonly=True) as s:
        me = authenticate(s, token)
        k = load_settings(s).overlap
        now = utcnow()
        labelled = s.scalar(select(func.count(Label.id)).where(Label.annotator_id == me.id)) or 0
        seen = select(Assignment.response_id).where(Assignment.annotator_id == me.id)
        open_items = s.scalar(
            select(func.count(Response.id)).where(
                Response.rank == 0,
                Response.id.not_in(seen),
                _taken(now) < k,
                Response.id.not_in(select(GoldItem.response_id)),
            )
        )
        live = s.scalar(
            select(func.count(Assignment.id)).where(Assignment.annotator_id == me.id, _live(now))
        )
        return Progress(labelled, (open_items or 0) + (live or 0))


def mark_instructions_seen(db: str | Engine | None, token: str | None) -> None:
    """Remember that the annotator read the instructions (shown first until then)."""
    with session_scope(as_engine(db)) as s:
        authenticate(s, token).seen_instructions = True


def whoami(db: str | Engine | None, token: str | None) -> Annotator:
    """The annotator behind a token (detached), for the page's header and role checks."""
    with session_scope(as_engine(db), readonly=True) as s:
        return authenticate(s, token)


__all__ = [
    "Progress",
    "Submitted",
    "Task",
    "mark_instructions_seen",
    "next_task",
    "progress",
    "submit_label",
    "whoami",
]
