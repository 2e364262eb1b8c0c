"""Project-wide settings kept in the database (overlap k, lease length, gold-check rules)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from evaltool.errors import UserError
from evaltool.storage.schema import TASK_KINDS, Setting


@dataclass(frozen=True)
class ProjectSettings:
    """How labels are collected; stored per database so every page and command agrees.

    >>> ProjectSettings().overlap
    3
    """

    overlap: int = 3
    lease_minutes: float = 15.0
    gold_rate: float = 0.1
    gold_min_items: int = 5
    gold_threshold: float = 0.7
    stop_flagged: bool = False
    adaptive: bool = False
    task: str = "ssa"  # what raters outside a study do (``TASK_KINDS``)
    pair_question: str | None = None  # the pairwise page's question, instead of its default

    def validate(self) -> ProjectSettings:
        """Raise a user error for values that make no sense; return self."""
        if self.overlap < 1:
            raise UserError("must be 1 or more", field="overlap")
        if self.lease_minutes <= 0:
            raise UserError("must be positive", field="lease_minutes")
        if not 0 <= self.gold_rate <= 1:
            raise UserError("must be between 0 and 1", field="gold_rate")
        if not 0 <= self.gold_threshold <= 1:
            raise UserError("must be between 0 and 1", field="gold_threshold")
        if self.gold_min_items < 1:
            raise UserError("must be 1 or more", field="gold_min_items")
        if self.task not in TASK_KINDS:
            raise UserError(f"{self.task!r}: use {', '.join(TASK_KINDS)}", field="task")
        return self


def load_settings(session: Session) -> ProjectSettings:
    """The stored settings, with defaults for keys never set."""
    known = {f.name for f in fields(ProjectSettings)}
    rows = session.scalars(select(Setting).where(Setting.key.in_(known)))
    stored = {s.key: s.value for s in rows}
    return ProjectSettings(**stored)


def save_settings(session: Session, **changes: Any) -> ProjectSettings:
    """Change some settings (None values are left alone) and return the new whole."""
    current = load_settings(session)
    new = replace(current, **{k: v for k, v in changes.items() if v is not None}).validate()
    for key, value in asdict(new).items():
        row = session.get(Setting, key)
        if row is None:
            session.add(Setting(key=key, value=value))
        elif row.value != value:
            row.value = value
    return new


# The settings row that records the rule (overlap, adaptive) the labelling pool last counted
# its items under; without it, or when the rule changed, the next claim re-counts every item.
POOL_RULE = "pool_rule"
PAIR_POOL_RULE = "pair_pool_rule"  # the same for pair items


def recount_pool_later(session: Session) -> None:
    """Make the next claim re-count every item of the pool (after a bulk change to labels)."""
    for key in (POOL_RULE, PAIR_POOL_RULE):
        row = session.get(Setting, key)
        if row is not None:
            session.delete(row)
