"""What the database holds: contexts, responses and labels, and what is still to be labelled."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine, func, select

from evaltool.db import session_scope
from evaltool.project import load_settings
from evaltool.schema import Annotator, Context, Dataset, Label, Response, System


@dataclass
class Status:
    """Counts for ``evaltool status``; each list holds (name, numbers...) rows."""

    overlap: int
    datasets: list[tuple[str, int]] = field(default_factory=list)
    systems: list[tuple[str, str, str, int, int]] = field(default_factory=list)
    labels_by_system: list[tuple[str, int, int, int]] = field(default_factory=list)
    labels_by_annotator: list[tuple[str, int, bool]] = field(default_factory=list)


def collect_status(engine: Engine) -> Status:
    """Count contexts per dataset, responses per system and labels per system and annotator.

    ``labels_by_system`` rows are (system, labels, items fully labelled, items still short of
    the project's overlap k); items are rank-0 responses, the ones annotators see.
    """
    with session_scope(engine, readonly=True) as s:
        status = Status(overlap=load_settings(s).overlap)
        status.datasets = [
            (name, n)
            for name, n in s.execute(
                select(Dataset.name, func.count(Context.id))
                .outerjoin(Context, Context.dataset_id == Dataset.id)
                .group_by(Dataset.id, Dataset.name)
                .order_by(Dataset.name)
            )
        ]
        rules = {
            sid: (settings or {}).get("decoding") or "-"
            for sid, settings in s.execute(select(System.id, System.settings))
        }
        status.systems = [
            (name, kind, rules[sid], items or 0, total or 0)
            for sid, name, kind, items, total in s.execute(
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
        ]
        per_item = (
            select(Response.id, Response.system_id, func.count(Label.id).label("n"))
            .outerjoin(Label, Label.response_id == Response.id)
            .where(Response.rank == 0)
            .group_by(Response.id, Response.system_id)
            .subquery()
        )
        k = status.overlap
        status.labels_by_system = [
            (name, int(labels or 0), int(done or 0), int(short or 0))
            for name, labels, done, short in s.execute(
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
        ]
        status.labels_by_annotator = [
            (name, n, flagged)
            for name, n, flagged in s.execute(
                select(Annotator.name, func.count(Label.id), Annotator.flagged)
                .outerjoin(Label, Label.annotator_id == Annotator.id)
                .group_by(Annotator.id, Annotator.name, Annotator.flagged)
                .order_by(Annotator.name)
            )
        ]
    return status
