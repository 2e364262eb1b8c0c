"""The systems registry: who answered, with which settings, and what is still to answer.

A system is created only once everything about a run has been checked, and a later run under
the same name must use the same settings and the same provenance keys the caller marks as
binding; the error names what differs, so a corrected re-run works.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from evaltool.errors import UserError
from evaltool.storage.contexts import resolve_dataset
from evaltool.storage.db import created_once, session_scope
from evaltool.storage.schema import Context, Dataset, Perplexity, Response, System, check_name


@dataclass(frozen=True)
class SystemSpec:
    """What a run would register: compared field by field with a stored system."""

    name: str
    kind: str
    model: str | None = None
    revision: str | None = None
    settings: dict[str, Any] | None = None
    provenance: dict[str, Any] | None = None
    # Provenance keys a later run must match; the rest may change between runs.
    binding: tuple[str, ...] = ()


def differences(row: System, spec: SystemSpec) -> list[tuple[str, Any, Any]]:
    """(what, stored, new) for everything that differs between a stored system and a spec."""
    settings, old, new = spec.settings or {}, row.provenance or {}, spec.provenance or {}
    pairs = [(f, getattr(row, f), getattr(spec, f)) for f in ("kind", "model", "revision")]
    pairs += [(k, row.settings.get(k), settings.get(k)) for k in sorted({*settings, *row.settings})]
    pairs += [(k, old[k], new[k]) for k in spec.binding if k in old and k in new]
    return [(k, a, b) for k, a, b in pairs if a != b]


def find_system(session: Session, spec: SystemSpec) -> System | None:
    """The stored system of that name, checked against ``spec``; None when there is none."""
    row = session.scalars(select(System).where(System.name == spec.name)).one_or_none()
    if row is not None:
        changed = ", ".join(f"{k}: {a} -> {b}" for k, a, b in differences(row, spec))
        if changed:
            raise UserError(
                f"system {spec.name!r} was made differently ({changed}); "
                "run it the same way to resume, or give a new system name to keep both"
            )
    return row


def register(session: Session, spec: SystemSpec, run: dict[str, Any] | None = None) -> System:
    """Create the system in this transaction, or reuse a compatible one; ``run`` is appended
    to its run log."""
    check_name("system", spec.name, field="system")
    row = find_system(session, spec)
    if row is None:
        row = System(
            name=spec.name,
            kind=spec.kind,
            model=spec.model,
            revision=spec.revision,
            settings=spec.settings or {},
            provenance=dict(spec.provenance or {}),
        )
        session.add(row)
    if run is not None:
        log = list((row.provenance or {}).get("runs", []))
        row.provenance = {**(row.provenance or {}), "runs": [*log, run]}
    session.flush()
    return row


def register_system(engine: Engine, spec: SystemSpec, run: dict[str, Any] | None = None) -> int:
    """``register`` in a transaction of its own; returns the system's id."""
    with created_once(f"system {spec.name!r}"), session_scope(engine) as s:
        return register(s, spec, run).id


def close_run(engine: Engine, system_id: int, facts: dict[str, Any]) -> None:
    """Add what a run learnt while it ran (the models a server answered as, say) to the
    system's last run log entry."""
    with session_scope(engine) as s:
        row = s.get(System, system_id)
        if row is None:
            return
        prov = dict(row.provenance or {})
        runs = list(prov.get("runs") or [{}])
        runs[-1] = {**runs[-1], **facts}
        row.provenance = {**prov, "runs": runs}


def dataset_contexts(
    engine: Engine, dataset: str | None, system: str | None = None
) -> tuple[Dataset, list[Context], set[int]]:
    """The dataset, all its contexts by id, and the ids of those the named system answered."""
    with session_scope(engine, readonly=True) as s:
        ds = resolve_dataset(s, dataset)
        query = select(Context).where(Context.dataset_id == ds.id).order_by(Context.id)
        contexts = list(s.scalars(query))
        done: set[int] = set()
        if system:
            done = set(
                s.scalars(
                    select(Response.context_id)
                    .join(System, System.id == Response.system_id)
                    .where(System.name == system, Response.rank == 0)
                )
            )
    return ds, contexts, done


# One stored response: (context id, rank, text, meta).
ResponseRow = tuple[int, int, str, dict[str, Any]]


def store_responses(engine: Engine, system_id: int, rows: list[ResponseRow]) -> None:
    """Write responses in one transaction; rows someone else wrote meanwhile are an error."""
    try:
        with session_scope(engine) as s:
            s.add_all(
                Response(context_id=c, system_id=system_id, rank=r, text=t, meta=m)
                for c, r, t, m in rows
            )
    except IntegrityError:
        raise UserError(
            "another process wrote responses for the same system meanwhile; run one "
            "generation per system at a time, then re-run it to finish"
        ) from None


def require_system(session: Session, name: str) -> System:
    """The named system, or a user error saying how to make it."""
    row = session.scalars(select(System).where(System.name == name)).one_or_none()
    if row is None:
        raise UserError(f"no system {name!r}: its responses must be stored first", field="system")
    return row


def record_perplexity(
    engine: Engine,
    system: str,
    dataset_id: int,
    value: float,
    tokens: int,
    contexts: int,
    model: str,
    settings: dict[str, Any],
) -> None:
    """Keep a model's perplexity on a dataset with the system; a new measurement replaces the
    old one. The system must exist."""
    with session_scope(engine) as s:
        row = require_system(s, system)
        old = s.scalars(
            select(Perplexity).where(
                Perplexity.system_id == row.id, Perplexity.dataset_id == dataset_id
            )
        ).one_or_none()
        if old is not None:
            s.delete(old)
            s.flush()
        s.add(
            Perplexity(
                system_id=row.id,
                dataset_id=dataset_id,
                value=value,
                tokens=tokens,
                contexts=contexts,
                model=model,
                settings=settings,
            )
        )


def perplexities(session: Session, dataset_id: int) -> dict[int, float]:
    """Perplexity per system id on the dataset, where measured."""
    query = select(Perplexity.system_id, Perplexity.value).where(
        Perplexity.dataset_id == dataset_id
    )
    return {sid: value for sid, value in session.execute(query)}
