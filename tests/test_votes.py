"""The one vote rule (``reporting.votes``) and the places that must agree with it."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import create_engine, literal, select

from evaltool.annotation import pool
from evaltool.annotation.gold import is_correct
from evaltool.annotation.studies import PLATFORMS
from evaltool.reporting import votes
from evaltool.storage import schema


def patterns(k: int) -> list[tuple[int, int, int]]:
    """Every (yes sensible, yes specific, labels) an item can have on its way to k labels;
    specific answers come only with sensible ones."""
    return [(ys, yp, n) for n in range(k + 1) for ys in range(n + 1) for yp in range(ys + 1)]


@pytest.mark.parametrize("k", range(1, 8))
def test_adaptive_overlap_sql_agrees_with_the_vote_rule(k: int) -> None:
    engine = create_engine("sqlite://")
    cases = patterns(k)
    exprs = [pool.undecided(literal(ys), literal(yp), literal(n), k) for ys, yp, n in cases]
    with engine.connect() as conn:
        sql = [bool(conn.scalar(select(e))) for e in exprs]
    pure = [not votes.decided(ys, yp, n, k) for ys, yp, n in cases]
    assert sql == pure
    ys, yp, n = (np.array(c) for c in zip(*cases, strict=True))
    assert (~votes.decided(ys, yp, n, k)).tolist() == pure  # arrays and numbers alike


def test_a_decided_item_keeps_its_vote_whatever_comes_next() -> None:
    for k in range(1, 8):
        for ys, yp, n in patterns(k):
            if n == 0 or not votes.decided(ys, yp, n, k):
                continue
            now = votes.item_votes(ys, yp, k)
            for more_s in range(k - n + 1):
                for more_p in range(more_s + 1):
                    end = votes.item_votes(ys + more_s, yp + more_p, k)
                    assert (bool(end[0]), bool(end[1])) == (bool(now[0]), bool(now[1]))


def test_gold_rule_on_one_answer_and_on_arrays() -> None:
    rows = [
        (True, True, True, True, True),
        (True, False, True, True, False),
        (True, False, True, None, True),  # specific not checked
        (False, False, True, None, False),
        (False, False, False, True, True),  # specific checked only where sensible is expected
    ]
    for *answer, want in rows:
        assert bool(is_correct(*answer)) is want
    cols = [list(c) for c in zip(*rows, strict=True)]
    assert is_correct(*cols[:4]).tolist() == cols[4]


def test_platforms_are_the_ones_the_database_accepts() -> None:
    assert sorted(PLATFORMS) == sorted(schema.PLATFORMS)
