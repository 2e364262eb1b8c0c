"""Project-wide settings kept in the database (overlap k, lease length, gold-check rules)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from evaltool.errors import UserError
from evaltool.storage.schema import Setting


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
        return self


def load_settings(session: Session) -> ProjectSettings:
    """The stored settings, with defaults for keys never set."""
    known = {f.name for f in fields(ProjectSettings)}
    stored = {s.key: s.value for s in session.scalars(select(Setting)) if s.key in known}
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
