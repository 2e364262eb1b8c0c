"""Gold items: responses with known answers, mixed into annotators' queues to check them.

An annotator whose accuracy on gold items falls below the threshold (after enough of them)
is flagged; the report leaves flagged annotators out, and the page stops them if the project
says so (``evaltool assign --stop-flagged``).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from evaltool.errors import UserError
from evaltool.storage.db import session_scope
from evaltool.storage.fileio import parse_bool, read_records, require_str
from evaltool.storage.project import ProjectSettings
from evaltool.storage.schema import Annotator, Context, GoldItem, Label, Response, System


def import_gold(engine: Engine, path: str | Path) -> tuple[int, int]:
    """Mark responses as gold: rows give ``response_id`` or ``context_id`` + ``system``, then
    ``sensible`` and ``specific`` (blank: not checked). Returns (added, updated)."""
    path = Path(path)
    records = read_records(path)
    with session_scope(engine) as s:
        wanted: dict[int, tuple[int, bool, bool | None]] = {}
        for rec in records:
            if rec.fields.get("response_id") not in (None, ""):
                try:
                    rid = int(rec.fields["response_id"])
                except (TypeError, ValueError):
                    raise UserError(f"{path}:{rec.line}: 'response_id' must be a number") from None
                if s.get(Response, rid) is None:
                    raise UserError(f"{path}:{rec.line}: no response with id {rid}")
            else:
                ctx = require_str(path, rec, "context_id").strip()
                system = require_str(path, rec, "system").strip()
                rid = s.scalar(
                    select(Response.id)
                    .join(Context, Context.id == Response.context_id)
                    .join(System, System.id == Response.system_id)
                    .where(Context.external_id == ctx, System.name == system, Response.rank == 0)
                )
                if rid is None:
                    raise UserError(
                        f"{path}:{rec.line}: system {system!r} has no response to context {ctx!r}"
                    )
            sensible = parse_bool(path, rec, "sensible")
            specific = parse_bool(path, rec, "specific", required=False)
            if rid in wanted:
                raise UserError(f"{path}:{rec.line}: response listed twice (line {wanted[rid][0]})")
            expected = None if specific is None else bool(sensible and specific)
            wanted[rid] = (rec.line, bool(sensible), expected)
        existing = {g.response_id: g for g in s.scalars(select(GoldItem))}
        added = updated = 0
        for rid, (_, sensible, specific) in wanted.items():
            if rid in existing:
                existing[rid].expected_sensible, existing[rid].expected_specific = (
                    sensible,
                    specific,
                )
                updated += 1
            else:
                s.add(
                    GoldItem(
                        response_id=rid, expected_sensible=sensible, expected_specific=specific
                    )
                )
                added += 1
    return added, updated


def correct_answers(answers: pd.DataFrame) -> pd.Series:
    """Whether each answer on a gold item is right (``sensible``, ``specific`` against
    ``gold_sensible``, ``gold_specific``): sensible must match, and specific too where the
    gold item checks it (not blank) and expects a sensible reply."""
    expected = answers["gold_sensible"].astype(bool)
    checked = answers["gold_specific"].notna() & expected
    specific_ok = answers["specific"] == answers["gold_specific"].fillna(False).astype(bool)
    return (answers["sensible"].astype(bool) == expected) & (~checked | specific_ok)


def gold_accuracy(session: Session, annotator_id: int) -> tuple[int, int]:
    """(gold items answered, answered correctly) by one annotator."""
    rows = session.execute(
        select(
            Label.sensible, Label.specific, GoldItem.expected_sensible, GoldItem.expected_specific
        )
        .join(GoldItem, GoldItem.response_id == Label.response_id)
        .where(Label.annotator_id == annotator_id)
    ).all()
    columns = ["sensible", "specific", "gold_sensible", "gold_specific"]
    answers = pd.DataFrame([tuple(r) for r in rows], columns=columns)
    return len(answers), int(correct_answers(answers).sum())


def update_flag(session: Session, annotator: Annotator, settings: ProjectSettings) -> None:
    """Flag the annotator when gold accuracy is below the threshold after enough gold items."""
    answered, correct = gold_accuracy(session, annotator.id)
    if answered >= settings.gold_min_items and correct / answered < settings.gold_threshold:
        annotator.flagged = True
