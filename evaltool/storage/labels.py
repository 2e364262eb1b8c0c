"""The one way labels leave the database: a frame the report, the export and the admin page share.

Every label is on a rank-0 response (the one annotators judge); each row carries who gave it,
on which context and system, how long it took, and the gold answers where the item is gold.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sqlalchemy import Integer, func, select
from sqlalchemy.orm import Session, aliased

from evaltool.storage.schema import (
    Annotator,
    Context,
    GoldItem,
    Label,
    PairItem,
    PairLabel,
    Response,
    System,
)

COLUMNS = [
    "label_id",
    "response_id",
    "annotator_id",
    "annotator",
    "flagged",
    "sensible",
    "specific",
    "seconds",
    "source",
    "created_at",
    "context_id",
    "context",
    "system_id",
    "system",
    "gold_sensible",
    "gold_specific",
]


def label_frame(session: Session, dataset_id: int | None = None) -> pd.DataFrame:
    """Every label (of one dataset, or all), in the order they were given."""
    query = (
        select(
            Label.id,
            Label.response_id,
            Label.annotator_id,
            Annotator.name,
            Annotator.flagged,
            Label.sensible,
            Label.specific,
            Label.seconds,
            Label.source,
            Label.created_at,
            Context.id,
            Context.external_id,
            System.id,
            System.name,
            GoldItem.expected_sensible,
            GoldItem.expected_specific,
        )
        .join(Response, Response.id == Label.response_id)
        .join(Context, Context.id == Response.context_id)
        .join(System, System.id == Response.system_id)
        .join(Annotator, Annotator.id == Label.annotator_id)
        .outerjoin(GoldItem, GoldItem.response_id == Label.response_id)
        .where(Response.rank == 0)
        .order_by(Label.id)
    )
    if dataset_id is not None:
        query = query.where(Context.dataset_id == dataset_id)
    frame = pd.DataFrame([tuple(r) for r in session.execute(query)], columns=COLUMNS)
    for col in ("sensible", "specific", "flagged"):
        frame[col] = frame[col].astype(bool)
    return frame


ITEM_COUNTS = ["system_id", "context_id", "labels", "n_sensible", "n_specific"]


def item_counts(session: Session, dataset_id: int | None = None) -> pd.DataFrame:
    """Per rank-0 response with labels from raters who are not flagged: how many labels, and
    how many said sensible and specific; counted by the database, one row an item."""
    per_item = (
        select(
            Label.response_id,
            func.count().label("n"),
            func.sum(Label.sensible.cast(Integer)).label("s"),
            func.sum(Label.specific.cast(Integer)).label("p"),
        )
        .join(Annotator, Annotator.id == Label.annotator_id)
        .where(Annotator.flagged.is_(False))
        .group_by(Label.response_id)
        .subquery()
    )
    query = (
        select(Response.system_id, Response.context_id, per_item.c.n, per_item.c.s, per_item.c.p)
        .select_from(per_item)
        .join(Response, Response.id == per_item.c.response_id)
        .where(Response.rank == 0)
    )
    if dataset_id is not None:
        in_dataset = select(Context.id).where(Context.dataset_id == dataset_id)
        query = query.where(Response.context_id.in_(in_dataset))
    rows = session.execute(query).all()
    columns = zip(*rows, strict=True) if rows else [()] * len(ITEM_COUNTS)
    return pd.DataFrame(
        {
            name: np.array(values, dtype=np.int64)
            for name, values in zip(ITEM_COUNTS, columns, strict=True)
        }
    )


PAIR_COLUMNS = [
    "label_id",
    "pair_id",
    "annotator_id",
    "annotator",
    "flagged",
    "side",
    "reason",
    "seconds",
    "source",
    "created_at",
    "context_id",
    "context",
    "system_a",
    "system_b",
    "model_a",
    "model_b",
    "a_left",
    "expected",
    "design",
]


def pair_label_frame(session: Session, dataset_id: int | None = None) -> pd.DataFrame:
    """Every pair answer (of one dataset, or all) with its item's systems, side shown and
    context, in the order they were given."""
    system_a, system_b = aliased(System), aliased(System)
    query = (
        select(
            PairLabel.id,
            PairLabel.pair_id,
            PairLabel.annotator_id,
            Annotator.name,
            Annotator.flagged,
            PairLabel.side,
            PairLabel.reason,
            PairLabel.seconds,
            PairLabel.source,
            PairLabel.created_at,
            PairItem.context_id,
            Context.external_id,
            PairItem.system_a,
            PairItem.system_b,
            system_a.name,
            system_b.name,
            PairItem.a_left,
            PairItem.expected,
            PairItem.design,
        )
        .join(PairItem, PairItem.id == PairLabel.pair_id)
        .join(Annotator, Annotator.id == PairLabel.annotator_id)
        .join(system_a, system_a.id == PairItem.system_a)
        .join(system_b, system_b.id == PairItem.system_b)
        .outerjoin(Context, Context.id == PairItem.context_id)
        .order_by(PairLabel.id)
    )
    if dataset_id is not None:
        query = query.where(PairItem.dataset_id == dataset_id)
    frame = pd.DataFrame([tuple(r) for r in session.execute(query)], columns=PAIR_COLUMNS)
    for col in ("flagged", "a_left"):
        frame[col] = frame[col].astype(bool)
    return frame
