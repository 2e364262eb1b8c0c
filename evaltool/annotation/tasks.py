"""The kinds of task the labelling pool serves, in one registry: where each keeps its items
(``items``), what the page shows of a leased item, and the answer row it stores.

A rater does one kind: their study's (``Study.task``), or the project's (``collection
--task``) outside a study. ``flow`` picks the kind here and leases through ``assignment``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from evaltool.annotation.items import PAIRS, SSA, Items
from evaltool.errors import UserError
from evaltool.storage.project import ProjectSettings
from evaltool.storage.schema import (
    SIDES,
    TASK_KINDS,
    Annotator,
    ChatTurn,
    Context,
    Label,
    PairItem,
    PairLabel,
    Response,
    Study,
)

# The longest reason a pair answer keeps (a short note, not an essay).
REASON_CHARS = 500


@dataclass(frozen=True)
class Task:
    """One SSA item to label: the context turns and the response; the system stays hidden."""

    response_id: int
    turns: list[str]
    response: str
    expires_at: datetime

    @property
    def item_id(self) -> int:
        return self.response_id


@dataclass(frozen=True)
class PairTask:
    """One pair item: the context and the two replies as shown (left, right), or two whole
    conversations (``conversation``: lists of turns); neither system is named."""

    item_id: int
    turns: list[str]
    left: list[str]
    right: list[str]
    conversation: bool
    expires_at: datetime


@dataclass(frozen=True)
class TaskKind:
    """A kind of task: its items for the leasing machinery and what the page shows."""

    name: str
    items: Items
    show: Callable[[Session, Any], Task | PairTask]


def _ssa_task(s: Session, lease: Any) -> Task:
    response = s.get(Response, lease.response_id)
    assert response is not None
    turns = s.scalar(select(Context.turns).where(Context.id == response.context_id))
    return Task(response.id, list(turns or []), response.text, lease.expires_at)


def _chat_turns(s: Session, chat_id: int | None) -> list[str]:
    rows = s.scalars(
        select(ChatTurn.text).where(ChatTurn.chat_id == chat_id).order_by(ChatTurn.position)
    )
    return [t or "" for t in rows]


def pair_sides(s: Session, item: PairItem) -> tuple[list[str], list[str], list[str], bool]:
    """A pair item's context and its two sides as system a's and b's (a reply each, or a
    chat's turns each), and whether they are whole conversations."""
    if item.design == "chats":
        return [], _chat_turns(s, item.chat_a), _chat_turns(s, item.chat_b), True
    a = [s.get(Response, item.response_a).text]  # type: ignore[union-attr]
    b = [s.get(Response, item.response_b).text]  # type: ignore[union-attr]
    turns = s.scalar(select(Context.turns).where(Context.id == item.context_id)) or []
    return list(turns), a, b, False


def _pair_task(s: Session, lease: Any) -> PairTask:
    item = s.get(PairItem, lease.pair_id)
    assert item is not None
    turns, a, b, conversation = pair_sides(s, item)
    left, right = (a, b) if item.a_left else (b, a)
    return PairTask(item.id, turns, left, right, conversation, lease.expires_at)


TASKS: dict[str, TaskKind] = {
    "ssa": TaskKind("ssa", SSA, _ssa_task),
    "pairs": TaskKind("pairs", PAIRS, _pair_task),
}
assert tuple(TASKS) == TASK_KINDS


def kind_for(s: Session, me: Annotator, settings: ProjectSettings) -> TaskKind:
    """The kind of task the rater does: their study's, or the project's."""
    if me.study_id is not None:
        task = s.scalar(select(Study.task).where(Study.id == me.study_id))
        return TASKS[task or "ssa"]
    return TASKS[settings.task]


def ssa_answer(item_id: int, sensible: bool, specific: bool) -> Label:
    """An SSA label (specific only if sensible), before the lease fills in who and when."""
    return Label(response_id=item_id, sensible=bool(sensible), specific=bool(sensible and specific))


def pair_answer(item_id: int, side: str, reason: str | None) -> PairLabel:
    """A pair answer: the side chosen as shown, and an optional short reason."""
    if side not in SIDES:
        raise UserError(f"{side!r}: use {', '.join(SIDES)}", field="side")
    reason = (reason or "").strip() or None
    if reason is not None and len(reason) > REASON_CHARS:
        raise UserError(f"the reason has {len(reason)} characters; keep it to {REASON_CHARS}")
    return PairLabel(pair_id=item_id, side=side, reason=reason)
