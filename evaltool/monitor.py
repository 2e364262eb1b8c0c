"""Numbers for the admin page: progress per system and per annotator, pace, gold accuracy,
agreement of each annotator with the others."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Engine, select

from evaltool.db import session_scope
from evaltool.project import load_settings
from evaltool.schema import Annotator, GoldItem, Label, Response, System


def _labels(engine: Engine) -> pd.DataFrame:
    with session_scope(engine, readonly=True) as s:
        rows = s.execute(
            select(
                Label.response_id,
                Label.annotator_id,
                Label.sensible,
                Label.specific,
                Label.seconds,
                Label.created_at,
                GoldItem.expected_sensible,
                GoldItem.expected_specific,
            ).outerjoin(GoldItem, GoldItem.response_id == Label.response_id)
        ).all()
    cols = [
        "response_id",
        "annotator_id",
        "sensible",
        "specific",
        "seconds",
        "created_at",
        "gold_sensible",
        "gold_specific",
    ]
    return pd.DataFrame([tuple(r) for r in rows], columns=cols)


def system_progress(engine: Engine) -> pd.DataFrame:
    """Per system: items (rank 0), labels, items with k labels, items still short."""
    with session_scope(engine, readonly=True) as s:
        k = load_settings(s).overlap
        rows = s.execute(
            select(System.name, Response.id)
            .join(Response, Response.system_id == System.id)
            .where(Response.rank == 0, Response.id.not_in(select(GoldItem.response_id)))
        ).all()
    items = pd.DataFrame([tuple(r) for r in rows], columns=["system", "response_id"])
    counts = _labels(engine).groupby("response_id").size().rename("labels")
    items = items.join(counts, on="response_id").fillna({"labels": 0})
    out = items.groupby("system").agg(
        items=("response_id", "size"),
        labels=("labels", "sum"),
        done=("labels", lambda x: int((x >= k).sum())),
    )
    out["short"] = out["items"] - out["done"]
    out["done_share"] = (out["done"] / out["items"]).round(3)
    return out.reset_index().astype({"labels": int})


def annotator_stats(engine: Engine) -> pd.DataFrame:
    """Per annotator: labels, labels per hour, median seconds, gold accuracy, agreement.

    Agreement with the majority compares each sensible answer with the majority of the other
    raters of the same item (items with at least 2 others and no tie).
    """
    labels = _labels(engine)
    with session_scope(engine, readonly=True) as s:
        people = pd.DataFrame(
            [
                tuple(r)
                for r in s.execute(
                    select(
                        Annotator.id,
                        Annotator.name,
                        Annotator.role,
                        Annotator.active,
                        Annotator.flagged,
                    )
                )
            ],
            columns=["annotator_id", "name", "role", "active", "flagged"],
        )
    if labels.empty:
        for col in (
            "labels",
            "per_hour",
            "median_seconds",
            "gold_answered",
            "gold_accuracy",
            "agreement",
        ):
            people[col] = 0 if col in ("labels", "gold_answered") else None
        return people.drop(columns="annotator_id")
    per_item = labels.groupby("response_id")["sensible"].agg(["sum", "size"])
    joined = labels.join(per_item, on="response_id")
    others_yes = joined["sum"] - joined["sensible"].astype(int)
    others = joined["size"] - 1
    decided = (others >= 2) & (2 * others_yes != others)
    joined["agrees"] = (2 * others_yes > others) == joined["sensible"]
    gold = joined[joined["gold_sensible"].notna()].copy()
    gold["correct"] = (gold["sensible"] == gold["gold_sensible"].astype(bool)) & (
        gold["gold_specific"].isna()
        | ~gold["gold_sensible"].astype(bool)
        | (gold["specific"] == gold["gold_specific"].astype(bool))
    )
    g = joined.groupby("annotator_id")
    span_h = (g["created_at"].max() - g["created_at"].min()).dt.total_seconds() / 3600
    stats = pd.DataFrame(
        {
            "labels": g.size(),
            "per_hour": (g.size() / span_h.clip(lower=1 / 60)).round(1),
            "median_seconds": g["seconds"].median().round(1),
            "agreement": joined[decided].groupby("annotator_id")["agrees"].mean().round(3),
            "gold_answered": gold.groupby("annotator_id").size(),
            "gold_accuracy": gold.groupby("annotator_id")["correct"].mean().round(3),
        }
    )
    out = people.join(stats, on="annotator_id").fillna({"labels": 0, "gold_answered": 0})
    return out.astype({"labels": int, "gold_answered": int}).drop(columns="annotator_id")
