"""What the admin page shows, read from the database: progress per system and per study, the
pace of the last hour, and what each rater's numbers are made from, counted in the database so
that it costs the same at any campaign size. The statistics over them (agreement with the
others, pace per rater) are ``reporting.agreement.annotator_table``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pandas as pd
from sqlalchemy import Engine, Integer, Select, func, select

from evaltool.annotation.gold import is_correct
from evaltool.storage.db import session_scope
from evaltool.storage.labels import label_frame
from evaltool.storage.project import load_settings
from evaltool.storage.schema import Annotator, GoldItem, Label, Response, Study, utcnow
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


@dataclass(frozen=True)
class RaterCounts:
    """What the rater table is made from, with the labels counted in the database.

    ``answers``: annotator_id, sensible, item_yes, item_n, count, first, last: how often (and
    from when to when) a rater answered so on items where ``item_yes`` of ``item_n`` labels,
    theirs included, said sensible. ``seconds``: annotator_id, seconds, one row a label (a
    median needs them all). ``gold``: annotator_id, correct, one row a gold answer.
    """

    people: pd.DataFrame
    answers: pd.DataFrame
    seconds: pd.DataFrame
    gold: pd.DataFrame


def _medians() -> Select:
    """Each rater's median seconds per label, in SQL (the middle one or two of their timed
    labels in order; the index on (annotator_id, seconds) keeps it one pass)."""
    w = {"partition_by": Label.annotator_id}
    ordered = select(
        Label.annotator_id,
        Label.seconds,
        func.row_number().over(order_by=Label.seconds, **w).label("at"),
        func.count().over(**w).label("n"),
    ).where(Label.seconds.is_not(None))
    o = ordered.subquery().c
    middle = o.at.in_([(o.n + 1) // 2, (o.n + 2) // 2])
    return select(o.annotator_id, func.avg(o.seconds)).where(middle).group_by(o.annotator_id)


def rater_counts(engine: Engine) -> RaterCounts:
    """Every rater's labels counted by the database (a few thousand rows at any size)."""

    def ranked(query: Select) -> Select:  # labels of rank-0 responses, as ``label_frame``
        return query.join(Response, Response.id == Label.response_id).where(Response.rank == 0)

    yes = func.sum(Label.sensible.cast(Integer)).label("yes")
    items = ranked(select(Label.response_id, yes, func.count().label("n")))
    items = items.group_by(Label.response_id).subquery("items")
    i = items.c
    when = (func.count(), func.min(Label.created_at), func.max(Label.created_at))
    answers = select(Label.annotator_id, Label.sensible, i.yes, i.n, *when)
    answers = answers.join(items, i.response_id == Label.response_id)
    gold = select(Label.annotator_id, Label.sensible, Label.specific, GoldItem.expected_sensible)
    gold = ranked(gold.add_columns(GoldItem.expected_specific))
    with session_scope(engine, readonly=True) as s:
        got = {
            "answers": s.execute(answers.group_by(Label.annotator_id, Label.sensible, i.yes, i.n)),
            "seconds": s.execute(_medians()),
            "gold": s.execute(gold.join(GoldItem, GoldItem.response_id == Label.response_id)),
        }
        got = {name: rows.all() for name, rows in got.items()}
    columns = ["annotator_id", "sensible", "item_yes", "item_n", "count", "first", "last"]
    answers = pd.DataFrame(got["answers"], columns=columns)
    for col in ("first", "last"):
        answers[col] = pd.to_datetime(answers[col])
    seconds = pd.DataFrame(got["seconds"], columns=["annotator_id", "median_seconds"])
    gold = pd.DataFrame(got["gold"], columns=["annotator_id", "s", "p", "gold_s", "gold_p"])
    gold["correct"] = is_correct(gold["s"], gold["p"], gold["gold_s"], gold["gold_p"])
    return RaterCounts(
        people(engine),
        answers,
        seconds,
        gold[["annotator_id", "correct"]],
    )
