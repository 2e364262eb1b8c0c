"""What the database holds: contexts, responses and labels, and what is still to be labelled."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from evaltool.storage.db import session_scope
from evaltool.storage.project import load_settings
from evaltool.storage.schema import (
    Annotator,
    Assignment,
    Context,
    Dataset,
    GoldItem,
    Label,
    Response,
    System,
)


@dataclass
class Status:
    """Counts for ``evaltool status`` and the admin page; each list holds (name, numbers...).

    Items are rank-0 responses, the ones annotators judge. Gold items are checks on the
    raters, not part of the pool: they are counted apart and never towards k.
    """

    overlap: int
    datasets: list[tuple[str, int]] = field(default_factory=list)
    systems: list[tuple[str, str, str, int, int]] = field(default_factory=list)
    labels_by_system: list[tuple[str, int, int, int]] = field(default_factory=list)
    labels_by_annotator: list[tuple[str, int, bool]] = field(default_factory=list)
    gold_items: int = 0
    skips: dict[str, Any] = field(default_factory=dict)


def collect_status(engine: Engine) -> Status:
    """Count contexts per dataset, responses per system and labels per system and annotator.

    ``labels_by_system`` rows are (system, labels, items fully labelled, items still short of
    the project's overlap k), gold items left out.
    """
    with session_scope(engine, readonly=True) as s:
        return Status(
            overlap=load_settings(s).overlap,
            datasets=_datasets(s),
            systems=_systems(s),
            labels_by_system=labels_by_system(s, load_settings(s).overlap),
            labels_by_annotator=_annotators(s),
            gold_items=s.scalar(select(func.count(GoldItem.id))) or 0,
            skips=skips(s),
        )


def _datasets(s: Session) -> list[tuple[str, int]]:
    query = (
        select(Dataset.name, func.count(Context.id))
        .outerjoin(Context, Context.dataset_id == Dataset.id)
        .group_by(Dataset.id, Dataset.name)
        .order_by(Dataset.name)
    )
    return [(name, n) for name, n in s.execute(query)]


def _systems(s: Session) -> list[tuple[str, str, str, int, int]]:
    rules = {
        sid: (settings or {}).get("decoding") or "-"
        for sid, settings in s.execute(select(System.id, System.settings))
    }
    query = (
        select(
            System.id,
            System.name,
            System.kind,
            func.sum(func.cast(Response.rank == 0, type_=Response.rank.type)),
            func.count(Response.id),
        )
        .outerjoin(Response, Response.system_id == System.id)
        .group_by(System.id, System.name, System.kind)
        .order_by(System.name)
    )
    return [
        (name, kind, rules[sid], items or 0, total or 0)
        for sid, name, kind, items, total in s.execute(query)
    ]


def labels_by_system(s: Session, k: int) -> list[tuple[str, int, int, int]]:
    """(system, labels, items with k labels, items short of k), gold items left out."""
    per_item = (
        select(Response.id, Response.system_id, func.count(Label.id).label("n"))
        .outerjoin(Label, Label.response_id == Response.id)
        .where(Response.rank == 0, Response.id.not_in(select(GoldItem.response_id)))
        .group_by(Response.id, Response.system_id)
        .subquery()
    )
    query = (
        select(
            System.name,
            func.sum(per_item.c.n),
            func.count(per_item.c.id).filter(per_item.c.n >= k),
            func.count(per_item.c.id).filter(per_item.c.n < k),
        )
        .join(per_item, per_item.c.system_id == System.id)
        .group_by(System.id, System.name)
        .order_by(System.name)
    )
    return [
        (name, int(labels or 0), int(done or 0), int(short or 0))
        for name, labels, done, short in s.execute(query)
    ]


def _annotators(s: Session) -> list[tuple[str, int, bool]]:
    query = (
        select(Annotator.name, func.count(Label.id), Annotator.flagged)
        .outerjoin(Label, Label.annotator_id == Annotator.id)
        .group_by(Annotator.id, Annotator.name, Annotator.flagged)
        .order_by(Annotator.name)
    )
    return [(name, n, flagged) for name, n, flagged in s.execute(query)]


def skips(s: Session, dataset_id: int | None = None) -> dict[str, Any]:
    """Items raters skipped as impossible to judge: how many, per system and per reason."""
    query = (
        select(System.name, Assignment.reason, func.count(Assignment.id))
        .join(Response, Response.id == Assignment.response_id)
        .join(System, System.id == Response.system_id)
        .where(Assignment.state == "skipped")
        .group_by(System.name, Assignment.reason)
    )
    if dataset_id is not None:
        query = query.join(Context, Context.id == Response.context_id).where(
            Context.dataset_id == dataset_id
        )
    by_system: dict[str, int] = {}
    by_reason: dict[str, int] = {}
    for name, reason, n in s.execute(query):
        by_system[name] = by_system.get(name, 0) + n
        by_reason[reason or "other"] = by_reason.get(reason or "other", 0) + n
    return {"items": sum(by_system.values()), "by_system": by_system, "by_reason": by_reason}
