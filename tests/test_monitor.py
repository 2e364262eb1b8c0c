"""The admin page's numbers, counted in the database, against the same numbers made from
every label (the way they were made before the scale issue)."""

from __future__ import annotations

import random
from datetime import timedelta

import pandas as pd

from evaltool.annotation import monitor
from evaltool.reporting.agreement import annotator_table
from evaltool.reporting.votes import majority
from evaltool.storage import db
from evaltool.storage.schema import Annotator, GoldItem, Label, utcnow

from .conftest import make_pool


def table_from_every_label(labels: pd.DataFrame, people: pd.DataFrame) -> pd.DataFrame:
    """The rater table computed label by label: the oracle."""
    per_item = labels.groupby("response_id")["sensible"].agg(["sum", "size"])
    joined = labels.join(per_item, on="response_id")
    others_yes = joined["sum"] - joined["sensible"].astype(int)
    others = joined["size"] - 1
    joined["agrees"] = majority(others_yes, others) == joined["sensible"]
    gold = joined[joined["correct"].notna()]
    g = joined.groupby("annotator_id")
    span_h = (g["created_at"].max() - g["created_at"].min()).dt.total_seconds() / 3600
    judged = joined[(others >= 2) & (2 * others_yes != others)]
    stats = pd.DataFrame(
        {
            "labels": g.size(),
            "per_hour": (g.size() / span_h.clip(lower=1 / 60)).round(1),
            "median_seconds": g["seconds"].median().round(1),
            "agreement": judged.groupby("annotator_id")["agrees"].mean().astype(float).round(3),
            "gold_answered": gold.groupby("annotator_id").size(),
            "gold_accuracy": gold.groupby("annotator_id")["correct"].mean().astype(float).round(3),
        }
    )
    out = people.join(stats, on="annotator_id").fillna({"labels": 0, "gold_answered": 0})
    return out.astype({"labels": int, "gold_answered": int}).drop(columns="annotator_id")


def test_rater_table_from_counts_is_the_table_from_every_label(any_db) -> None:  # type: ignore[no-untyped-def]
    """Random labels from 7 raters (one flagged, one with none) on 60 items with 1 to 5 labels
    each, 10 of them gold: every column of the table is the same both ways."""
    rng = random.Random(3)
    ids = make_pool(any_db, contexts=30, systems=2, ranks=(0,))
    start = utcnow()
    with db.session_scope(any_db) as s:
        people = [Annotator(name=f"r{i}", token_hash=f"h{i}", flagged=i == 2) for i in range(7)]
        s.add_all(people)
        s.flush()
        for rid in ids[:10]:
            s.add(
                GoldItem(
                    response_id=rid,
                    expected_sensible=rng.random() < 0.7,
                    expected_specific=rng.choice([None, True, False]),
                )
            )
        for rid in ids:
            for who in rng.sample(people[:6], rng.randint(1, 5)):
                sensible = rng.random() < 0.7
                s.add(
                    Label(
                        response_id=rid,
                        annotator_id=who.id,
                        sensible=sensible,
                        specific=sensible and rng.random() < 0.6,
                        seconds=None if rng.random() < 0.1 else rng.uniform(1, 30),
                        created_at=start + timedelta(minutes=rng.uniform(0, 300)),
                    )
                )
    fast = annotator_table(**vars(monitor.rater_counts(any_db)))
    slow = table_from_every_label(monitor.checked_labels(any_db), monitor.people(any_db))
    pd.testing.assert_frame_equal(fast, slow, check_dtype=False)
    assert fast["agreement"].notna().sum() >= 5 and fast["gold_answered"].sum() > 0
    assert fast.loc[fast["name"] == "r6", "labels"].item() == 0
