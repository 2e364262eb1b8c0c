"""The active human share: chances from the judge's uncertainty (``reporting.active``), drawn
and recorded (``collection --active``), and the weighted estimate the report gives, held to
ppi_py's weighted estimator, to its own arrays, and by simulation to its coverage."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from evaltool.reporting import active
from evaltool.storage import db
from evaltool.storage.judging import chances_of, draw_of
from evaltool.storage.schema import Context, JudgeLabel, Response, System

from .test_judged import judge_everything, label_what_people_get, setup, truth

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import active_coverage

try:
    import ppi_py
except ImportError:  # pragma: no cover - CI installs it (the test extra)
    if os.environ.get("CI"):
        raise
    ppi_py = None


def test_chances_average_the_share_stay_in_bounds_and_follow_uncertainty() -> None:
    rng = np.random.default_rng(0)
    u = np.concatenate([np.zeros(50), rng.random(300) ** 3, np.full(5, 40.0)])
    for share, floor in ((0.05, 0.1), (0.3, 0.5), (0.6, 0.2), (0.2, 1.0)):
        pi = active.chances(u, share, floor)
        assert abs(pi.mean() - share) < 1e-9 and pi.max() <= 1.0
        assert pi.min() >= share * floor - 1e-12  # the floor: no chance near zero
        order = np.argsort(u, kind="stable")
        assert np.all(np.diff(pi[order]) >= -1e-12)  # more uncertain, more likely
    assert np.allclose(active.chances(u, 0.2, 1.0), 0.2)  # floor 1 is the uniform share
    staged = active.staged(u, 0.3, 0.4, 0.1)
    assert abs(staged.mean() - 0.3) < 1e-9 and staged.min() >= 0.1


@pytest.mark.skipif(ppi_py is None, reason="ppi-python is not installed (pip install .[test])")
@pytest.mark.parametrize("lam", [0.0, 0.6, 1.0])
def test_the_weighted_estimate_equals_ppi_py_with_weights(lam: float) -> None:
    """ppi_py's weighted PPI++ (weights rescaled to sum to n) is the inverse-probability one
    when the weights 1/pi of the labelled items sum to N, as they do here."""
    rng = np.random.default_rng(1)
    f = rng.random(10)
    labelled = np.zeros(10, bool)
    pi = np.array([0.5, 0.9, 0.5, 0.9, 1 / 3, 0.9, 1 / 3, 0.9, 0.9, 0.9])
    labelled[[0, 2, 4, 6]] = True  # 2 + 2 + 3 + 3 = 10 = N
    y = np.where(labelled, (rng.random(10) < f).astype(float), np.nan)
    ours = active.ipw_mean(y, f, pi, labelled, lam=lam)[0]
    w = 1 / pi[labelled]
    theirs = ppi_py.ppi_mean_pointestimate(
        y[labelled], f[labelled], f, lam=lam, w=w, w_unlabeled=np.ones(10)
    )
    assert abs(float(ours) - float(np.ravel(theirs)[0])) < 1e-12


def test_the_variance_is_the_design_variance_on_average() -> None:
    """sd(Z)/sqrt(N) against the spread of the estimate over many campaigns (items, verdicts
    and Bernoulli draws all new each time), and no bias: the mean of Beta(0.4, 0.4) is 1/2."""
    rng = np.random.default_rng(2)
    shape = (4_000, 2_000)
    p = rng.beta(0.4, 0.4, shape)
    y_all = (rng.random(shape) < p).astype(float)
    pi = active.chances(np.sqrt(p * (1 - p)), 0.1, 0.3)
    labelled = rng.random(shape) < pi
    est, _, _, se, _ = active.ipw_mean(np.where(labelled, y_all, np.nan), p, pi, labelled)
    assert abs(np.mean(est) - 0.5) < 3 * np.std(est) / np.sqrt(shape[0])
    assert abs(np.mean(se) / np.std(est) - 1) < 0.03


def test_an_active_campaign_end_to_end(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """judge run's labels, a uniform pilot people label, collection --active keeping it,
    people's labels on the rest through the labelling path, and report --judge's weighted
    estimate, equal to the estimator on the database's own arrays."""
    engine = setup(run_cli, tmp_path)
    judge_everything(engine, noise=0.35)
    assert run_cli("collection", "--human-share", "0.25", "--seed", "2").exit_code == 0
    label_what_people_get(engine)
    with db.session_scope(engine, readonly=True) as s:
        _, pilot = draw_of(s, 1)
    for args, message in (
        (("--active",), "error: --active: --active needs --human-share P"),
        (("--human-share", "0.5", "--floor", "0.5"), "error: --active: --judge and --floor go"),
        (("--human-share", "0.5", "--active", "--floor", "0"), "error: --floor: 0 is not a floor"),
        (
            ("--human-share", "0.5", "--active", "--judge", "nope"),
            "error: --judge: no judge 'nope'",
        ),
        (("--human-share", "0.2", "--active"), "error: --human-share: 0.2 is not above the pilot"),
    ):
        out = run_cli("collection", *args)
        assert out.exit_code == 2 and out.output.startswith(message), out.output
    with db.session_scope(engine, readonly=True) as s:
        assert draw_of(s, 1)[1] == pilot  # nothing changed
    out = run_cli("collection", "--human-share", "0.5", "--active", "--seed", "5")
    assert out.exit_code == 0, out.output
    assert "drawn actively (expected 20, seed 5" in out.output
    assert "chosen on 10 labelled pilot contexts; 10 pilot contexts kept" in out.output
    with db.session_scope(engine, readonly=True) as s:
        draw, drawn = draw_of(s, 1)
        assert draw is not None and draw.design == "active" and draw.pilot == 10
        chances = chances_of(s, draw.id)
        ids = list(s.scalars(select(Context.id).order_by(Context.id)))
    assert sorted(chances) == ids and abs(np.mean(list(chances.values())) - 0.5) < 1e-9
    assert pilot <= drawn
    others = [c for c in ids if c not in pilot]
    second = [(chances[c] - 0.25) / 0.75 for c in others]
    hits = np.random.default_rng(5).random(len(others)) < np.array(second)
    assert drawn == pilot | {c for c, h in zip(others, hits, strict=True) if h}  # from the record
    label_what_people_get(engine, "r2")
    result = run_cli("report", "--judge", "j", "--resamples", "1000")
    assert result.exit_code == 0, result.output
    section = json.loads((tmp_path / "reports/d/report.json").read_text())["judged"]
    assert section["estimator"] == "ipw-ppi++" and section["refused"] is None
    assert section["human_share"]["design"] == "active" and section["human_share"]["judge"] == "j"
    md = (tmp_path / "reports/d/report.md").read_text()
    assert "drawn actively" in md and "inverse-probability-weighted" in md
    _same_as_arrays(engine, section, chances, drawn)
    planned = run_cli("plan", "--judge", "j", "--width", "0.3", "--active", "--judged-items", "40")
    assert planned.exit_code == 0 and "drawn actively (floor 0.5" in planned.output, planned.output


def _same_as_arrays(engine, section, chances, drawn) -> None:  # type: ignore[no-untyped-def]
    """Each system's SSA and the difference from ``active`` on arrays read straight from the
    tables, with people's truthful single labels as the votes."""
    with db.session_scope(engine, readonly=True) as s:
        rows = s.execute(
            select(System.name, Response.text, Response.context_id, JudgeLabel.p_sensible)
            .add_columns(JudgeLabel.p_specific)
            .join(System, System.id == Response.system_id)
            .join(JudgeLabel, JudgeLabel.response_id == Response.id)
            .order_by(Response.context_id)
        ).all()
    arrays = {}
    for name in ("sys0", "sys1"):
        own = [r for r in rows if r[0] == name]
        ctx = np.array([r[2] for r in own])
        y = np.array([sum(truth(r[1])) / 2 for r in own])
        ps, pp = np.array([r[3] for r in own]), np.array([r[4] for r in own])
        arrays[name] = (y, (ps + ps * pp) / 2, ctx)
    y, f, ctx = arrays["sys0"]
    pi = np.array([chances[c] for c in ctx])
    labelled = np.isin(ctx, list(drawn))
    est, low, _, _, _ = active.ipw_score(np.where(labelled, y, np.nan), f, pi, labelled)
    got = next(x for x in section["systems"] if x["name"] == "sys0")["ssa"]
    assert abs(got["estimate"] - est) < 1e-9 and abs(got["ci_low"] - max(low, 0)) < 1e-9
    y1, f1, _ = arrays["sys1"]
    d = active.ipw_difference((np.where(labelled, y, np.nan), f), (y1, f1), pi, labelled)
    assert abs(section["comparisons"][0]["ssa"]["difference"] - float(d[0])) < 1e-9


def test_an_unfinished_judge_cannot_set_chances(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    engine = setup(run_cli, tmp_path)
    judge_everything(engine, noise=0.3, skip=3)
    out = run_cli("collection", "--human-share", "0.3", "--active")
    assert out.exit_code == 2
    assert "judge 'j' has not labelled 3 of 80 items of 'd'; run it to the end first" in out.output
    with db.session_scope(engine, readonly=True) as s:
        assert draw_of(s, 1)[0] is None


@pytest.mark.slow
def test_coverage_and_saving_on_a_slice_of_the_bench_grid() -> None:
    """600 replications of the bench's cells at rates 0.05 and 0.5, correlations 0.5 and 0.7:
    every interval covers at least 93% (less 2.5 standard errors of the simulation); at most
    97% (plus the same) unless the people's share holds fewer than three rare answers, where
    the interval is conservative; a useless uncertainty score costs no more than 5% labels;
    a calibrated judge at 0.7 saves at least 25% near a rate of 0.05 at a 20% share, and no
    cell saves more than its ceiling."""
    reps, n = 600, 1477
    slack = 2.5 * np.sqrt(0.95 * 0.05 / reps)
    for i, (rate, rho, judge, share) in enumerate(
        (r, rho, j, sh)
        for r in (0.05, 0.5)
        for rho in (0.5, 0.7)
        for j in active_coverage.JUDGES
        for sh in (0.03, 0.2)
    ):
        c = active_coverage.cell(np.random.default_rng([7, i]), rate, rho, judge, share, reps, n)
        rare = min(rate, 1 - rate) * share * n
        for covered in (c.sensible_covered, c.ssa_covered, c.difference_covered):
            assert covered >= 0.93 - slack, c
            assert covered <= (0.97 + slack if rare >= 3 else 0.995), c
        assert c.saving <= c.ceiling + 0.02, c
        if judge == "poor uncertainty":
            assert c.saving >= -0.05, c
        if (rate, rho, judge, share) == (0.05, 0.7, "calibrated", 0.2):
            assert c.saving >= 0.25, c
