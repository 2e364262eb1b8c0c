"""The task kinds' items as the leasing machinery sees them: where each kind keeps its pool
rows, leases and answers, which groups a draw shuffles, and when an item is open.

``pool`` and ``assignment`` lease, lapse, skip and count through an ``Items`` and never name
a kind's tables; what an answer stores is the kind's own (``tasks``). SSA items are rank-0
responses (rows in ``pool_items``); pair items are their own pool rows (``pair_items``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, func, select, union
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from evaltool.storage.project import PAIR_POOL_RULE, POOL_RULE, ProjectSettings
from evaltool.storage.schema import (
    Annotator,
    Assignment,
    Chat,
    ChatTurn,
    Context,
    GoldItem,
    HumanDraw,
    HumanDrawContext,
    Label,
    PairAssignment,
    PairItem,
    PairLabel,
    PoolItem,
    Response,
    System,
    TrainingAnswer,
)


@dataclass(frozen=True)
class Items:
    """One kind's tables and columns, for leasing (``row``: the pool row with ``open``,
    ``draw_key`` and ``context_id``; ``locked``: the item table's id, whose row lock guards
    an item, gold ones too; ``context``: the item's context; ``gold``: the gold items' ids)."""

    name: str
    row: Any
    key: Any
    group_columns: tuple[Any, ...]
    lease: Any
    lease_key: Any
    answer: Any
    answer_key: Any
    locked: Any
    context: Any
    gold: Any
    rule_key: str
    groups: Callable[[Session], list[tuple[int, ...]]]
    seen: Callable[[int], Any]
    extra_rule: Callable[[ProjectSettings], Any]


def live(now: datetime, lease: Any = Assignment) -> ColumnElement[bool]:
    """Leases that still hold their slot."""
    return and_(lease.state == "leased", lease.expires_at > now)


def _systems(s: Session) -> list[tuple[int, ...]]:
    return [(sid,) for sid in s.scalars(select(System.id).order_by(System.id))]


def _system_pairs(s: Session) -> list[tuple[int, ...]]:
    ids = list(s.scalars(select(System.id).order_by(System.id)))
    return list(itertools.combinations(ids, 2))


def seen_by(annotator_id: int):  # type: ignore[no-untyped-def]
    """Every SSA item the rater has met in any way: leased, labelled, skipped, trained on, or
    said by a bot in a chat they had (nobody labels their own chat)."""
    chatted = select(ChatTurn.response_id).join(Chat, Chat.id == ChatTurn.chat_id)
    return union(
        select(Assignment.response_id).where(Assignment.annotator_id == annotator_id),
        select(Label.response_id).where(Label.annotator_id == annotator_id),
        select(TrainingAnswer.response_id).where(TrainingAnswer.annotator_id == annotator_id),
        chatted.where(Chat.annotator_id == annotator_id, ChatTurn.response_id.is_not(None)),
    )


def pairs_seen_by(annotator_id: int):  # type: ignore[no-untyped-def]
    """Every pair item the rater has leased, answered or skipped, or that shows a chat of
    their own."""
    mine = select(Chat.id).where(Chat.annotator_id == annotator_id)
    return union(
        select(PairAssignment.pair_id).where(PairAssignment.annotator_id == annotator_id),
        select(PairLabel.pair_id).where(PairLabel.annotator_id == annotator_id),
        select(PairItem.id).where(PairItem.chat_a.in_(mine)),
        select(PairItem.id).where(PairItem.chat_b.in_(mine)),
    )


def undecided(ys: Any, yp: Any, n: Any, k: int) -> Any:
    """More labels (up to k) could still change the item's majority on a question; SQL or
    numbers. The vote rule is ``reporting.votes``; a test checks this agrees with its
    ``decided``."""
    left = k - n
    sensible_open = (2 * ys <= k) & (2 * (ys + left) > k)
    specific_open = (2 * yp <= k) & (2 * (yp + left) > k)
    return sensible_open | specific_open


def counted(kind: Items, column: Any = None) -> Any:
    """A count over the outer pool row's answers that count (raters not flagged): of all of
    them, or of those where ``column`` is true."""
    query = (
        select(func.count(kind.answer.id))
        .join(Annotator, Annotator.id == kind.answer.annotator_id)
        .where(kind.answer_key == kind.key, Annotator.flagged.is_(False))
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


def _ssa_rule(settings: ProjectSettings) -> Any:
    """SSA's own conditions: adaptive overlap stops a decided item; gold and items outside
    the human share are never open."""
    extra = ~exists().where(GoldItem.response_id == PoolItem.response_id) & for_people()
    if settings.adaptive:
        n, ys, yp = counted(SSA), counted(SSA, Label.sensible), counted(SSA, Label.specific)
        extra = extra & ((n == 0) | undecided(ys, yp, n, settings.overlap))
    return extra


def _pair_rule(_settings: ProjectSettings) -> Any:
    """A gold pair (its better side known) is never open."""
    return PairItem.expected.is_(None)


def rule(settings: ProjectSettings, now: datetime, kind: Items | None = None) -> Any:
    """SQL over a pool row: the item is open now (seen or not by anyone)."""
    kind = kind or SSA
    held = (
        select(func.count(kind.lease.id))
        .where(kind.lease_key == kind.key, live(now, kind.lease))
        .scalar_subquery()
    )
    return (counted(kind) + held < settings.overlap) & kind.extra_rule(settings)


SSA = Items(
    name="ssa",
    row=PoolItem,
    key=PoolItem.response_id,
    group_columns=(PoolItem.system_id,),
    lease=Assignment,
    lease_key=Assignment.response_id,
    answer=Label,
    answer_key=Label.response_id,
    locked=Response.id,
    context=Response.context_id,
    gold=select(GoldItem.response_id),
    rule_key=POOL_RULE,
    groups=_systems,
    seen=seen_by,
    extra_rule=_ssa_rule,
)
PAIRS = Items(
    name="pairs",
    row=PairItem,
    key=PairItem.id,
    group_columns=(PairItem.system_a, PairItem.system_b),
    lease=PairAssignment,
    lease_key=PairAssignment.pair_id,
    answer=PairLabel,
    answer_key=PairLabel.pair_id,
    locked=PairItem.id,
    context=PairItem.context_id,
    gold=select(PairItem.id).where(PairItem.expected.is_not(None)),
    rule_key=PAIR_POOL_RULE,
    groups=_system_pairs,
    seen=pairs_seen_by,
    extra_rule=_pair_rule,
)
