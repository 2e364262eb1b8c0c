"""Importing responses and labels made elsewhere (another tool, a crowdsourcing platform).

Same rules as the validation-set import: the whole file is checked first, any problem is one
line naming file, line and field, and nothing is written unless everything is valid.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from evaltool.contexts import resolve_dataset
from evaltool.db import session_scope
from evaltool.errors import UserError
from evaltool.fileio import Record, read_records, require_str
from evaltool.schema import Annotator, Context, Label, Response, System
from evaltool.systems import SystemSpec, register_system

TRUE = {"true", "1", "yes", "y", "да", "t"}
FALSE = {"false", "0", "no", "n", "нет", "f"}


@dataclass(frozen=True)
class Imported:
    """What an import did."""

    added: int
    unchanged: int
    note: str = ""


def _contexts(session: Session, dataset: str | None) -> dict[str, int]:
    ds = resolve_dataset(session, dataset)
    rows = session.execute(
        select(Context.external_id, Context.id).where(Context.dataset_id == ds.id)
    )
    return {ext: i for ext, i in rows}


def _context_id(path: Path, rec: Record, contexts: dict[str, int]) -> int:
    key = require_str(path, rec, "context_id").strip()
    if key not in contexts:
        raise UserError(f"{path}:{rec.line}: unknown context_id {key!r} in this dataset")
    return contexts[key]


def parse_bool(path: Path, rec: Record, field: str, *, required: bool = True) -> bool | None:
    """A yes/no cell: true/false, 1/0, yes/no or да/нет; blank is None when not required."""
    value = rec.fields.get(field)
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    text = "" if value is None else str(value).strip().lower()
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    if not text and not required:
        return None
    what = "missing" if not text else f"not a yes/no value ({value!r})"
    raise UserError(f"{path}:{rec.line}: '{field}' is {what}; use true/false or 1/0")


def import_responses(
    engine: Engine, path: str | Path, system: str, dataset: str | None = None
) -> Imported:
    """Import ``context_id``/``response`` rows (optional ``rank``, default 0) as a system of
    kind ``imported``; rows already stored identically are skipped."""
    path = Path(path)
    records = read_records(path)
    with session_scope(engine) as s:
        contexts = _contexts(s, dataset)
        parsed: dict[tuple[int, int], tuple[int, str]] = {}
        for rec in records:
            ctx = _context_id(path, rec, contexts)
            text = require_str(path, rec, "response", blank_ok=True)
            rank_raw = rec.fields.get("rank") or 0
            try:
                rank = int(rank_raw)
            except (TypeError, ValueError):
                raise UserError(f"{path}:{rec.line}: 'rank' must be a whole number") from None
            if (ctx, rank) in parsed:
                first = parsed[(ctx, rank)][0]
                raise UserError(f"{path}:{rec.line}: duplicate context_id (first on line {first})")
            parsed[(ctx, rank)] = (rec.line, text.strip())
    system_id = register_system(engine, SystemSpec(system, "imported"))
    with session_scope(engine) as s:
        stored = {
            (r.context_id, r.rank): r.text
            for r in s.scalars(select(Response).where(Response.system_id == system_id))
        }
        new = []
        for (ctx, rank), (line, text) in parsed.items():
            if (ctx, rank) not in stored:
                new.append(
                    Response(
                        context_id=ctx,
                        system_id=system_id,
                        rank=rank,
                        text=text,
                        meta={"imported_from": path.name},
                    )
                )
            elif stored[(ctx, rank)] != text:
                raise UserError(
                    f"{path}:{line}: system {system!r} already has a different "
                    "response to this context"
                )
        s.add_all(new)
    return Imported(len(new), len(parsed) - len(new))


def import_labels(engine: Engine, path: str | Path, dataset: str | None = None) -> Imported:
    """Import ``context_id, system, annotator, sensible, specific`` rows for rank-0 responses.

    Annotators are created as needed, without login tokens. ``specific`` is stored false when
    ``sensible`` is false (PROTOCOL.md); the result says how many rows that changed.
    """
    path = Path(path)
    records = read_records(path)
    with session_scope(engine) as s:
        contexts = _contexts(s, dataset)
        systems = dict(s.execute(select(System.name, System.id)).all())
        responses = {
            (c, sy): r
            for r, c, sy in s.execute(
                select(Response.id, Response.context_id, Response.system_id).where(
                    Response.rank == 0
                )
            ).all()
        }
        annotators = dict(s.execute(select(Annotator.name, Annotator.id)).all())
        parsed: dict[tuple[int, str], tuple[int, bool, bool]] = {}
        coerced = 0
        for rec in records:
            ctx = _context_id(path, rec, contexts)
            system = require_str(path, rec, "system").strip()
            if system not in systems:
                raise UserError(
                    f"{path}:{rec.line}: unknown system {system!r}; "
                    "import its responses first (`evaltool responses import`)"
                )
            response = responses.get((ctx, systems[system]))
            if response is None:
                raise UserError(
                    f"{path}:{rec.line}: system {system!r} has no response to "
                    f"context {rec.fields.get('context_id')!r}"
                )
            annotator = require_str(path, rec, "annotator").strip()
            sensible = parse_bool(path, rec, "sensible")
            specific = parse_bool(path, rec, "specific", required=bool(sensible))
            if not sensible and specific:
                coerced += 1
            key = (response, annotator)
            if key in parsed:
                raise UserError(
                    f"{path}:{rec.line}: annotator {annotator!r} labelled this item "
                    f"already (line {parsed[key][0]})"
                )
            parsed[key] = (rec.line, bool(sensible), bool(sensible and specific))
        for name in {a for _, a in parsed} - set(annotators):
            row = Annotator(name=name, role="annotator", active=False)
            s.add(row)
            s.flush()
            annotators[name] = row.id
        stored = {(lab.response_id, lab.annotator_id): lab for lab in s.scalars(select(Label))}
        new: list[Any] = []
        for (response, name), (line, sensible, specific) in parsed.items():
            old = stored.get((response, annotators[name]))
            if old is None:
                new.append(
                    Label(
                        response_id=response,
                        annotator_id=annotators[name],
                        sensible=sensible,
                        specific=specific,
                        source="import",
                    )
                )
            elif (old.sensible, old.specific) != (sensible, specific):
                raise UserError(
                    f"{path}:{line}: annotator {name!r} already has a different label for this item"
                )
        s.add_all(new)
    note = (
        f"{coerced} rows had specific=yes with sensible=no: stored as not specific"
        if coerced
        else ""
    )
    return Imported(len(new), len(parsed) - len(new), note)
