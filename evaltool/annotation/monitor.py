"""Numbers for the admin page: progress per system and per annotator, pace, gold accuracy,
agreement of each annotator with the others."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Engine, select

from evaltool.annotation.gold import correct_answers
from evaltool.storage.db import session_scope
from evaltool.storage.labels import label_frame
from evaltool.storage.project import load_settings
from evaltool.storage.schema import Annotator
from evaltool.storage.status import labels_by_system


def _labels(engine: Engine) -> pd.DataFrame:
    with session_scope(engine, readonly=True) as s:
        return label_frame(s)


def system_progress(engine: Engine) -> pd.DataFrame:
    """Per system: items (rank 0, gold left out as in ``status``), labels, items with k labels,
    items still short, share done."""
    with session_scope(engine, readonly=True) as s:
        rows = labels_by_system(s, load_settings(s).overlap)
    out = pd.DataFrame(rows, columns=["system", "labels", "done", "short"])
    out.insert(1, "items", out["done"] + out["short"])
    out["done_share"] = (out["done"] / out["items"].clip(lower=1)).round(3)
    return out


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
    gold["correct"] = correct_answers(gold)
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
