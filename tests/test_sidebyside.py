"""The report's side-by-side section from pair answers in the database: strengths equal an
independent Bradley-Terry fit, files, --pairs-only, and what is left out."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from sqlalchemy import select

from evaltool.annotation.accounts import add_annotator
from evaltool.annotation.pairing import build_pairs
from evaltool.reporting.pairwise import Comparisons
from evaltool.storage import db
from evaltool.storage.schema import Annotator, PairItem, PairLabel, System

from .conftest import make_pool
from .test_pairwise import reference_fit

TRUTH = {"sys0": 0.0, "sys1": 0.5, "sys2": -0.4, "sys3": 0.9}


def simulated_answers(url: str, contexts: int = 30, raters: int = 3, seed: int = 0) -> None:
    """Every pair of four systems on each context, answered by ``raters`` simulated raters
    from a Bradley-Terry model with 20% ties."""
    engine = db.make_engine(url)
    make_pool(engine, contexts=contexts, systems=4, ranks=(0,))
    build_pairs(engine, None, list(TRUTH), seed=seed)
    for i in range(raters):
        add_annotator(engine, f"r{i}")
    rng = np.random.default_rng(seed)
    with db.session_scope(engine) as s:
        names = dict(s.execute(select(System.id, System.name)).all())
        people = list(s.scalars(select(Annotator.id).order_by(Annotator.id)))
        for item in s.scalars(select(PairItem)):
            d = TRUTH[names[item.system_a]] - TRUTH[names[item.system_b]]
            for who in people:
                if rng.random() < 0.2:
                    side = "tie"
                else:
                    a_won = rng.random() < (1 / (1 + np.exp(-d)) - 0.1) / 0.8
                    side = "left" if a_won == item.a_left else "right"
                s.add(PairLabel(pair_id=item.id, annotator_id=who, side=side, source="simulated"))


def independent(url: str, anchor: str) -> dict[str, float]:
    """The answers read straight from the tables, fitted by the independent regression."""
    with db.session_scope(db.make_engine(url)) as s:
        names = dict(s.execute(select(System.id, System.name)).all())
        rows = s.execute(
            select(PairItem.context_id, PairItem.system_a, PairItem.system_b, PairItem.a_left,
                   PairLabel.side).join(PairItem, PairItem.id == PairLabel.pair_id)
        ).all()  # fmt: skip
    order = sorted(TRUTH)
    score = {"tie": 0.5}
    c = Comparisons.of(
        [r[0] for r in rows],
        [order.index(names[r[1]]) for r in rows],
        [order.index(names[r[2]]) for r in rows],
        [score.get(side, float((side == "left") == a_left)) for *_, a_left, side in rows],
    )
    fitted = reference_fit(c, len(order), order.index(anchor))
    return dict(zip(order, fitted.tolist(), strict=True))


def test_report_strengths_equal_an_independent_fit(
    run_cli, sqlite_url: str, tmp_path: Path
) -> None:
    simulated_answers(sqlite_url)
    out = tmp_path / "r"
    got = run_cli(
        "report", "--pairs-only", "--anchor", "sys1", "--resamples", "1000", "--out", str(out),
        "--db", sqlite_url,
    )  # fmt: skip
    assert got.exit_code == 0, got.output
    assert sorted(p.name for p in out.iterdir()) == ["pairwise.png", "report.json", "report.md"]
    report = json.loads((out / "report.json").read_text())["pairwise"]
    want = independent(sqlite_url, "sys1")
    for s in report["systems"]:
        assert abs(s["strength"] - want[s["name"]]) < 1e-4
        assert s["ci_low"] <= s["strength"] <= s["ci_high"]
    assert report["systems"][0]["name"] == "sys3"
    assert report["answers"] == 4 * 3 // 2 * 30 * 3 and report["anchor"] == "sys1"
    assert 0.4 < report["position_bias"]["left_share"] < 0.6
    assert report["agreement"]["raw"] is not None
    text = (out / "report.md").read_text()
    assert (
        "## Side by side" in text and "Position bias" in text and "SSA" not in text.split("\n")[0]
    )


def test_full_report_has_both_sections_and_flagged_raters_are_left_out(
    run_cli, sqlite_url: str, tmp_path: Path
) -> None:
    simulated_answers(sqlite_url, contexts=8)
    with db.session_scope(db.make_engine(sqlite_url)) as s:
        s.scalars(select(Annotator).where(Annotator.name == "r0")).one().flagged = True
    out = tmp_path / "r"
    got = run_cli("report", "--resamples", "1000", "--out", str(out), "--db", sqlite_url)
    assert got.exit_code == 0, got.output
    assert {"ssa.png", "items.csv", "pairwise.png"} <= {p.name for p in out.iterdir()}
    report = json.loads((out / "report.json").read_text())
    assert report["systems"] and report["pairwise"]["answers"] == 6 * 8 * 2
    assert report["pairwise"]["left_out"]["flagged"] == 6 * 8
    assert "side-by-side strength" in got.output


def test_pairs_only_without_pair_answers_is_a_one_line_error(run_cli, sqlite_url: str) -> None:
    make_pool(db.make_engine(sqlite_url), contexts=2, systems=2)
    got = run_cli("report", "--pairs-only", "--db", sqlite_url)
    assert got.exit_code == 2 and "no pair answers yet" in got.output
    assert len(got.output.strip().splitlines()) == 1
