"""Importing responses, labels and judges' verdicts made elsewhere (another tool, a
crowdsourcing platform, a judge run on other hardware).

Same rules as the validation-set import: the whole file is checked first, any problem is one
line naming file, line and field, and nothing is written unless everything is valid.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, insert, select
from sqlalchemy.orm import Session

from evaltool.errors import UserError
from evaltool.storage.contexts import resolve_dataset
from evaltool.storage.db import created_once, session_scope
from evaltool.storage.fileio import Record, parse_bool, read_records, require_str
from evaltool.storage.judging import judge_for, store_judge_labels
from evaltool.storage.project import recount_pool_later
from evaltool.storage.schema import (
    NAME_LENGTH,
    Annotator,
    Context,
    JudgeLabel,
    Label,
    Response,
    System,
    check_name,
)
from evaltool.storage.systems import SystemSpec, register

INSERT_CHUNK = 20_000  # labels per INSERT: memory stays bounded at any file size


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


def import_responses(
    engine: Engine, path: str | Path, system: str, dataset: str | None = None
) -> Imported:
    """Import ``context_id``/``response`` rows (optional ``rank``, default 0) as a system of
    kind ``imported``; rows already stored identically are skipped. A file with a ``system``
    column (``export dataset``'s items) gives the system only its own rows."""
    path = Path(path)
    system = check_name("system", system, field="system")
    records = _own_rows(path, read_records(path), system)
    with created_once(f"system {system!r}"), session_scope(engine) as s:
        contexts = _contexts(s, dataset)
        parsed: dict[tuple[int, int], tuple[int, str]] = {}
        for rec in records:
            ctx = _context_id(path, rec, contexts)
            text = require_str(path, rec, "response", blank_ok=True)
            try:
                rank = int(rec.fields.get("rank") or 0)
            except (TypeError, ValueError):
                raise UserError(f"{path}:{rec.line}: 'rank' must be a whole number") from None
            if (ctx, rank) in parsed:
                first = parsed[(ctx, rank)][0]
                raise UserError(f"{path}:{rec.line}: duplicate context_id (first on line {first})")
            parsed[(ctx, rank)] = (rec.line, text.strip())
        system_id = register(s, SystemSpec(system, "imported")).id
        stored = {
            (r.context_id, r.rank): r.text
            for r in s.scalars(select(Response).where(Response.system_id == system_id))
        }
        new = []
        for (ctx, rank), (line, text) in parsed.items():
            if (ctx, rank) not in stored:
                meta = {"imported_from": path.name}
                new.append(
                    Response(context_id=ctx, system_id=system_id, rank=rank, text=text, meta=meta)
                )
            elif stored[(ctx, rank)] != text:
                raise UserError(
                    f"{path}:{line}: system {system!r} already has a different "
                    "response to this context"
                )
        s.add_all(new)
    return Imported(len(new), len(parsed) - len(new))


def _own_rows(path: Path, records: list[Record], system: str) -> list[Record]:
    """The rows of ``system`` when the file names each row's system, else every row."""
    if not any("system" in r.fields for r in records):
        return records
    own = [r for r in records if r.fields.get("system") == system]
    if not own:
        names = sorted({str(r.fields.get("system")) for r in records})
        raise UserError(
            f"{path}: no rows of system {system!r} (its systems: {', '.join(names)})",
            field="system",
        )
    return own


ParsedLabels = dict[tuple[int, str], tuple[int, bool, bool]]


def import_labels(engine: Engine, path: str | Path, dataset: str | None = None) -> Imported:
    """Import ``context_id, system, annotator, sensible, specific`` rows for rank-0 responses.

    Annotators are created as needed, without login tokens. ``specific`` is stored false when
    ``sensible`` is false (docs/protocol.md); the result says how many rows that changed.
    """
    path = Path(path)
    records = read_records(path)
    with created_once("the same annotators or labels"), session_scope(engine) as s:
        parsed, coerced = _parse_labels(s, path, records, dataset)
        added = _store_labels(s, path, parsed)
        recount_pool_later(s)
    note = f"{coerced} rows had specific=yes with sensible=no: stored as not specific"
    return Imported(added, len(parsed) - added, note if coerced else "")


def _parse_labels(
    s: Session, path: Path, records: list[Record], dataset: str | None
) -> tuple[ParsedLabels, int]:
    """Check every row; returns (response, annotator) -> (line, sensible, specific) and how
    many rows said specific without sensible."""
    items = Items(s, path, dataset)
    parsed: ParsedLabels = {}
    coerced = 0
    for rec in records:
        response = items.named(rec)
        annotator = require_str(path, rec, "annotator", max_length=NAME_LENGTH).strip()
        sensible = parse_bool(path, rec, "sensible")
        specific = parse_bool(path, rec, "specific", required=bool(sensible))
        coerced += bool(not sensible and specific)
        key = (response, annotator)
        if key in parsed:
            raise UserError(
                f"{path}:{rec.line}: annotator {annotator!r} labelled this item "
                f"already (line {parsed[key][0]})"
            )
        parsed[key] = (rec.line, bool(sensible), bool(sensible and specific))
    return parsed, coerced


class Items:
    """The dataset's items (rank-0 responses) as a file's rows name them: ``response_id``,
    or ``context_id`` and ``system``."""

    def __init__(self, s: Session, path: Path, dataset: str | None) -> None:
        self.path, self.contexts = path, _contexts(s, dataset)
        self.systems = dict(s.execute(select(System.name, System.id)).all())
        rank0 = select(Response.id, Response.context_id, Response.system_id).where(
            Response.rank == 0, Response.context_id.in_(list(self.contexts.values()))
        )
        self.responses = {(c, sy): r for r, c, sy in s.execute(rank0).all()}
        self.ids = set(self.responses.values())

    def named(self, rec: Record) -> int:
        """The response id a row names, or a one-line error."""
        path = self.path
        if rec.fields.get("response_id") not in (None, ""):
            try:
                rid = int(rec.fields["response_id"])
            except (TypeError, ValueError):
                raise UserError(f"{path}:{rec.line}: 'response_id' must be a number") from None
            if rid not in self.ids:
                raise UserError(f"{path}:{rec.line}: no item with response_id {rid} here")
            return rid
        ctx = _context_id(path, rec, self.contexts)
        system = require_str(path, rec, "system").strip()
        if system not in self.systems:
            raise UserError(
                f"{path}:{rec.line}: unknown system {system!r}; import its responses first",
                step="import-responses",
            )
        response = self.responses.get((ctx, self.systems[system]))
        if response is None:
            raise UserError(
                f"{path}:{rec.line}: system {system!r} has no response to "
                f"context {rec.fields.get('context_id')!r}"
            )
        return response


def _store_labels(s: Session, path: Path, parsed: ParsedLabels) -> int:
    """Add the labels not stored yet (and annotators without links); returns how many."""
    annotators = dict(s.execute(select(Annotator.name, Annotator.id)).all())
    for name in sorted({a for _, a in parsed} - set(annotators)):
        row = Annotator(name=name, role="annotator", active=False)
        s.add(row)
        s.flush()
        annotators[name] = row.id
    have = select(Label.response_id, Label.annotator_id, Label.sensible, Label.specific)
    stored = {(r, a): (sensible, specific) for r, a, sensible, specific in s.execute(have)}
    new = []
    for (response, name), (line, sensible, specific) in parsed.items():
        old = stored.get((response, annotators[name]))
        if old is None:
            new.append(
                {
                    "response_id": response,
                    "annotator_id": annotators[name],
                    "sensible": sensible,
                    "specific": specific,
                    "source": "import",
                }
            )
        elif old != (sensible, specific):
            raise UserError(
                f"{path}:{line}: annotator {name!r} already has a different label for this item"
            )
    for start in range(0, len(new), INSERT_CHUNK):
        s.execute(insert(Label), new[start : start + INSERT_CHUNK])
    return len(new)


def import_judge_labels(
    engine: Engine, path: str | Path, name: str, model: str, dataset: str | None = None
) -> Imported:
    """A judge's verdicts made elsewhere: per item (``response_id``, or ``context_id`` and
    ``system``) ``p_sensible`` and ``p_specific`` (specific given sensible; blank: not
    asked), or ``sensible`` and ``specific`` as yes/no. The judge ``name`` (kind
    ``imported``) is made when new; verdicts already stored identically are skipped."""
    path = Path(path)
    records = read_records(path)
    name = check_name("judge", name, field="name")
    with created_once(f"judge {name!r}"), session_scope(engine) as s:
        items = Items(s, path, dataset)
        parsed: dict[int, tuple[int, float, float | None]] = {}
        for rec in records:
            rid = items.named(rec)
            if rid in parsed:
                raise UserError(f"{path}:{rec.line}: item listed twice (line {parsed[rid][0]})")
            parsed[rid] = (rec.line, *_verdict(path, rec))
        spec = {"name": name, "kind": "imported", "model": model, "revision": None}
        spec |= {"prompt_version": None, "settings": {}, "provenance": {"file": path.name}}
        judge = judge_for(s, spec)
        have = select(JudgeLabel.response_id, JudgeLabel.p_sensible, JudgeLabel.p_specific)
        stored = {
            r: (ps, pp) for r, ps, pp in s.execute(have.where(JudgeLabel.judge_id == judge.id))
        }
        new = []
        for rid, (line, ps, pp) in parsed.items():
            if rid not in stored:
                new.append({"response_id": rid, "p_sensible": ps, "p_specific": pp, "raw": None})
            elif stored[rid] != (ps, pp):
                raise UserError(f"{path}:{line}: judge {name!r} already has another verdict here")
        store_judge_labels(s, judge.id, new)
    return Imported(len(new), len(parsed) - len(new))


def _verdict(path: Path, rec: Record) -> tuple[float, float | None]:
    """(p_sensible, p_specific) of a row: probabilities, or yes/no as 1 and 0."""
    if rec.fields.get("p_sensible") in (None, ""):
        if rec.fields.get("sensible") in (None, ""):
            raise UserError(f"{path}:{rec.line}: give 'p_sensible' (0 to 1) or 'sensible'")
        specific = parse_bool(path, rec, "specific", required=False)
        sensible = float(bool(parse_bool(path, rec, "sensible")))
        return sensible, None if specific is None else float(specific)
    return _probability(path, rec, "p_sensible"), (
        None
        if rec.fields.get("p_specific") in (None, "")
        else _probability(path, rec, "p_specific")
    )


def _probability(path: Path, rec: Record, field: str) -> float:
    try:
        value = float(rec.fields[field])  # type: ignore[arg-type]
    except (TypeError, ValueError):
        value = float("nan")
    if not 0.0 <= value <= 1.0:
        raise UserError(f"{path}:{rec.line}: '{field}' must be a number from 0 to 1")
    return value
