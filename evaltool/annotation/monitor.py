"""What the admin page shows, read from the database: progress per system and per study, the
pace of the last hour, and the labels with each gold answer checked. The statistics over them
(agreement with the others, pace per rater) are ``reporting.agreement.annotator_table``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pandas as pd
from sqlalchemy import Engine, func, select

from evaltool.annotation.gold import is_correct
from evaltool.storage.db import session_scope
from evaltool.storage.labels import label_frame
from evaltool.storage.project import load_settings
from evaltool.storage.schema import Annotator, Label, Study, utcnow
from evaltool.storage.status import labels_by_system

RECENT = timedelta(hours=1)  # the pace an ETA is read from


@dataclass(frozen=True)
class Progress:
    """Per system: items, labels, items done and short, share done; and how many labels are
    missing to reach k everywhere, and how many came in the last hour."""

    systems: pd.DataFrame
    missing: int
    recent: int


def progress(engine: Engine) -> Progress:
    """Per system: items (rank 0, gold left out as in ``status``), labels, items with k labels,
    items still short, share done; missing labels and the last hour's pace."""
    with session_scope(engine, readonly=True) as s:
        k = load_settings(s).overlap
        rows = labels_by_system(s, k)
        recent = s.scalar(select(func.count(Label.id)).where(Label.created_at > utcnow() - RECENT))
    out = pd.DataFrame(rows, columns=["system", "labels", "done", "short"])
    out.insert(1, "items", out["done"] + out["short"])
    out["done_share"] = (out["done"] / out["items"].clip(lower=1)).round(3)
    missing = int((out["items"] * k - out["labels"]).clip(lower=0).sum()) if len(out) else 0
    return Progress(out, missing, recent or 0)


def studies(engine: Engine) -> list[tuple[str, bool, int | None, int, int]]:
    """Per study: name, open, target workers, workers who came, workers finished."""
    with session_scope(engine, readonly=True) as s:
        rows = s.execute(
            select(
                Study.name,
                Study.open,
                Study.max_workers,
                func.count(Annotator.id),
                func.count(Annotator.completion_code),
            )
            .outerjoin(Annotator, Annotator.study_id == Study.id)
            .group_by(Study.id)
            .order_by(Study.name)
        ).all()
    return [tuple(r) for r in rows]  # type: ignore[misc]


def people(engine: Engine) -> pd.DataFrame:
    """Every annotator: id, name, role, active, flagged."""
    columns = ["annotator_id", "name", "role", "active", "flagged"]
    query = select(
        Annotator.id, Annotator.name, Annotator.role, Annotator.active, Annotator.flagged
    )
    with session_scope(engine, readonly=True) as s:
        return pd.DataFrame([tuple(r) for r in s.execute(query)], columns=columns)


def checked_labels(engine: Engine) -> pd.DataFrame:
    """Every label, with ``correct`` on gold items (the gold rule) and NA elsewhere."""
    with session_scope(engine, readonly=True) as s:
        labels = label_frame(s)
    gold = labels["gold_sensible"].notna()
    labels["correct"] = pd.Series(pd.NA, index=labels.index, dtype="boolean")
    if gold.any():
        g = labels[gold]
        labels.loc[gold, "correct"] = is_correct(
            g["sensible"], g["specific"], g["gold_sensible"], g["gold_specific"]
        )
    return labels
