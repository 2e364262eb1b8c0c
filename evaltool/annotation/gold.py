"""Gold items: responses with known answers, mixed into annotators' queues to check them.

An annotator whose accuracy on gold items falls below the threshold (after enough of them)
is flagged; the report leaves flagged annotators out, and the page stops them if the project
says so (``evaltool collection --stop-flagged``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session

from evaltool.errors import UserError
from evaltool.storage.db import session_scope
from evaltool.storage.fileio import Record, parse_bool, read_records, require_str
from evaltool.storage.project import ProjectSettings
from evaltool.storage.schema import (
    Annotator,
    Context,
    GoldItem,
    Label,
    PairItem,
    PairLabel,
    PoolItem,
    Response,
    System,
    chosen,
)


@dataclass(frozen=True)
class GoldRow:
    """One row of a gold file, checked."""

    line: int
    sensible: bool
    specific: bool | None
    training: bool
    explanation: str | None


def import_gold(engine: Engine, path: str | Path) -> tuple[int, int]:
    """Mark responses as gold: rows give ``response_id`` or ``context_id`` + ``system``, then
    ``sensible`` and ``specific`` (blank: not checked), and optionally ``training`` (yes: a
    teaching item for a study's qualification step) with an ``explanation`` shown after the
    answer. Returns (added, updated)."""
    path = Path(path)
    records = read_records(path)
    with session_scope(engine) as s:
        wanted: dict[int, GoldRow] = {}
        for rec in records:
            rid = _response_of(s, path, rec)
            if rid in wanted:
                raise UserError(
                    f"{path}:{rec.line}: response listed twice (line {wanted[rid].line})"
                )
            wanted[rid] = _gold_row(path, rec)
        existing = {g.response_id: g for g in s.scalars(select(GoldItem))}
        for rid, row in wanted.items():
            gold = existing.get(rid) or GoldItem(response_id=rid)
            gold.expected_sensible, gold.expected_specific = row.sensible, row.specific
            gold.training, gold.explanation = row.training, row.explanation
            s.add(gold)
        s.execute(delete(PoolItem).where(PoolItem.response_id.in_(list(wanted))))
    updated = len(set(wanted) & set(existing))
    return len(wanted) - updated, updated


def _response_of(s: Session, path: Path, rec: Record) -> int:
    """The rank-0 response a gold row names, by ``response_id`` or ``context_id`` + ``system``."""
    if rec.fields.get("response_id") not in (None, ""):
        try:
            rid = int(rec.fields["response_id"])
        except (TypeError, ValueError):
            raise UserError(f"{path}:{rec.line}: 'response_id' must be a number") from None
        if s.get(Response, rid) is None:
            raise UserError(f"{path}:{rec.line}: no response with id {rid}")
        return rid
    ctx = require_str(path, rec, "context_id").strip()
    system = require_str(path, rec, "system").strip()
    rid = s.scalar(
        select(Response.id)
        .join(Context, Context.id == Response.context_id)
        .join(System, System.id == Response.system_id)
        .where(Context.external_id == ctx, System.name == system, Response.rank == 0)
    )
    if rid is None:
        raise UserError(f"{path}:{rec.line}: system {system!r} has no response to context {ctx!r}")
    return rid


def _gold_row(path: Path, rec: Record) -> GoldRow:
    sensible = bool(parse_bool(path, rec, "sensible"))
    specific = parse_bool(path, rec, "specific", required=False)
    expected = None if specific is None else bool(sensible and specific)
    return GoldRow(rec.line, sensible, expected, *teaching(path, rec))


def teaching(path: Path, rec: Record) -> tuple[bool, str | None]:
    """A gold row's ``training`` (yes: a qualification item) and ``explanation`` (shown
    after the answer), for gold items and gold pairs alike."""
    training = bool(parse_bool(path, rec, "training", required=False))
    explanation = rec.fields.get("explanation")
    if explanation is not None and not isinstance(explanation, str):
        raise UserError(f"{path}:{rec.line}: 'explanation' must be text")
    return training, (explanation or "").strip() or None


def is_correct(sensible: Any, specific: Any, gold_sensible: Any, gold_specific: Any) -> Any:
    """Whether an answer on a gold item is right: sensible must match, and specific too where
    the gold item checks it (not blank) and expects a sensible reply. One answer or arrays.

    >>> bool(is_correct(True, False, True, None)), bool(is_correct(True, False, True, True))
    (True, False)
    """
    expected = np.asarray(gold_sensible, dtype=bool)
    blank = pd.isna(gold_specific)
    checked = ~np.asarray(blank, dtype=bool) & expected
    want = np.asarray(np.where(blank, False, gold_specific), dtype=bool)
    specific_ok = np.asarray(specific, dtype=bool) == want
    return (np.asarray(sensible, dtype=bool) == expected) & (~checked | specific_ok)


def gold_accuracy(session: Session, annotator_id: int) -> tuple[int, int]:
    """(gold items answered, answered correctly) by one annotator: SSA items and gold pairs
    (right when the answer chose the known better system, or a tie where one is known)."""
    rows = session.execute(
        select(
            Label.sensible, Label.specific, GoldItem.expected_sensible, GoldItem.expected_specific
        )
        .join(GoldItem, GoldItem.response_id == Label.response_id)
        .where(Label.annotator_id == annotator_id)
    ).all()
    right = int(np.sum(is_correct(*(list(col) for col in zip(*rows, strict=True))))) if rows else 0
    pairs = session.execute(
        select(PairLabel.side, PairItem.a_left, PairItem.expected)
        .join(PairItem, PairItem.id == PairLabel.pair_id)
        .where(PairLabel.annotator_id == annotator_id, PairItem.expected.is_not(None))
    ).all()
    right += sum(chosen(side, a_left) == expected for side, a_left, expected in pairs)
    return len(rows) + len(pairs), right


def update_flag(session: Session, annotator: Annotator, settings: ProjectSettings) -> bool:
    """Flag the annotator when gold accuracy is below the threshold after enough gold items;
    True when this newly flagged them."""
    answered, correct = gold_accuracy(session, annotator.id)
    if annotator.flagged or answered < settings.gold_min_items:
        return False
    annotator.flagged = correct / answered < settings.gold_threshold
    return annotator.flagged
