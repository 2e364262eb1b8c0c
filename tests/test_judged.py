"""Judge-assisted SSA: the human share (``collection --human-share``) limits what the pool
offers people, and ``report --judge`` combines a judge's labels on every item with people's on
the share, refusing when people's labels are not that random sample."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import select

from evaltool.annotation import accounts, flow, human_share
from evaltool.reporting import ppi
from evaltool.reporting.judged import agreement_of
from evaltool.storage import db
from evaltool.storage.judging import draw_of, judge_for, store_judge_labels
from evaltool.storage.schema import Context, HumanDraw, Response, System

from .conftest import make_pool

CONTEXTS = 40


def truth(text: str) -> tuple[bool, bool]:
    """People's verdict on a reply "sysJ cI": sensible unless I is a multiple of 3, specific
    when also even; sys1 is a little worse (I a multiple of 5 is nonsense too)."""
    name, c = text.split()
    i = int(c[1:])
    sensible = i % 3 != 0 and not (name == "sys1" and i % 5 == 0)
    return sensible, sensible and i % 2 == 0


def setup(run_cli, tmp_path: Path):  # type: ignore[no-untyped-def]
    assert run_cli("init").exit_code == 0
    engine = db.make_engine(f"sqlite:///{tmp_path / 'evaltool.db'}")
    make_pool(engine, contexts=CONTEXTS, systems=2, ranks=(0,))
    assert run_cli("collection", "--overlap", "1").exit_code == 0
    return engine


def judge_everything(engine, noise: float, seed: int = 0, skip: int = 0) -> None:  # type: ignore[no-untyped-def]
    """A judge that sees the truth through noise (probabilities), on every item but ``skip``."""
    rng = np.random.default_rng(seed)
    with db.session_scope(engine) as s:
        judge = judge_for(
            s, {"name": "j", "kind": "llm", "model": "m", "prompt_version": "t", "settings": {}}
        )
        rows = []
        for rid, text in s.execute(select(Response.id, Response.text).order_by(Response.id)):
            sensible, specific = truth(text)
            p_s = float(np.clip(sensible + rng.normal(0, noise), 0, 1))
            p_sp = float(
                np.clip(
                    (specific or (not sensible and rng.random() < 0.5)) + rng.normal(0, noise), 0, 1
                )
            )
            rows.append({"response_id": rid, "p_sensible": p_s, "p_specific": p_sp, "raw": "test"})
        store_judge_labels(s, judge.id, rows[skip:])


def label_what_people_get(engine, name: str = "r") -> list[int]:  # type: ignore[no-untyped-def]
    """One rater labels every item the pool offers, truthfully; the response ids."""
    token = accounts.add_annotator(engine, name)
    flow.mark_instructions_seen(engine, token)
    with db.session_scope(engine, readonly=True) as s:
        text = dict(s.execute(select(Response.id, Response.text)).all())
    done = []
    view = flow.view(engine, token)
    while view.task is not None:
        done.append(view.task.response_id)
        view = flow.answer(
            engine, token, view.task.response_id, *truth(text[view.task.response_id])
        )
    return done


def test_people_get_only_the_drawn_contexts_and_the_draw_is_recorded(
    run_cli, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    engine = setup(run_cli, tmp_path)
    result = run_cli("collection", "--human-share", "0.25", "--seed", "3")
    assert result.exit_code == 0, result.output
    assert "people label 10 of 40 contexts (seed 3)" in result.output
    with db.session_scope(engine, readonly=True) as s:
        draw, drawn = draw_of(s, 1)
        assert draw is not None and (draw.seed, draw.share, draw.contexts) == (3, 0.25, 10)
        ids = list(s.scalars(select(Context.id).order_by(Context.id)))
    again = np.random.default_rng(3).choice(np.array(ids), size=10, replace=False)
    assert drawn == {int(c) for c in again}  # made again from what is recorded
    labelled = label_what_people_get(engine)
    with db.session_scope(engine, readonly=True) as s:
        where = dict(s.execute(select(Response.id, Response.context_id)).all())
    assert len(labelled) == 20 and {where[r] for r in labelled} == drawn  # both systems
    bad = run_cli("collection", "--human-share", "1.5")
    assert bad.exit_code == 2 and bad.output.startswith("error: --human-share: 1.5 is not")
    both = run_cli("collection", "--human-share", "0.5", "--human-contexts", "3")
    assert (
        both.exit_code == 2
        and both.output.strip() == "error: give --human-share or --human-contexts, one of them"
    )
    again = human_share.draw(engine, None, contexts=40, seed=1)  # a new draw replaces the old
    with db.session_scope(engine, readonly=True) as s:
        assert len(s.scalars(select(HumanDraw)).all()) == 1
    assert again.contexts == 40 and again.labels_outside == 0


def test_report_combines_judge_and_people_and_equals_ppi_on_the_arrays(
    run_cli, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    engine = setup(run_cli, tmp_path)
    judge_everything(engine, noise=0.3)
    refused = run_cli("report", "--judge", "j", "--resamples", "1000")
    assert refused.exit_code == 0
    assert (
        "judge-assisted estimates refused: people's labels on 'd' are not a random share"
        in refused.output
    )
    assert run_cli("collection", "--human-share", "0.5", "--seed", "1").exit_code == 0
    short = run_cli("report", "--judge", "j", "--resamples", "1000")
    assert "40 items of the human share are short of labels" in short.output
    label_what_people_get(engine)
    result = run_cli("report", "--judge", "j", "--resamples", "1000")
    assert result.exit_code == 0, result.output
    assert "judge-assisted: SSA" in result.output
    rep = json.loads((tmp_path / "reports/d/report.json").read_text())
    section = rep["judged"]
    assert section["refused"] is None and section["human_share"]["contexts"] == 20
    # the same numbers from the arrays themselves
    with db.session_scope(engine, readonly=True) as s:
        rows = s.execute(
            select(System.name, Response.id, Response.text, Response.context_id).join(
                System, System.id == Response.system_id
            )
        ).all()
        _, drawn = draw_of(s, 1)
    from evaltool.storage.schema import JudgeLabel

    with db.session_scope(engine, readonly=True) as s:
        p = {
            r: (a, b)
            for r, a, b in s.execute(
                select(JudgeLabel.response_id, JudgeLabel.p_sensible, JudgeLabel.p_specific)
            )
        }
    frame = pd.DataFrame(
        [
            {
                "system": name,
                "drawn": ctx in drawn,
                "y": (truth(text)[0] + truth(text)[1]) / 2,
                "yhat": (p[rid][0] + p[rid][0] * p[rid][1]) / 2,
                "ys": float(truth(text)[0]),
                "yhats": p[rid][0],
            }
            for name, rid, text, ctx in rows
        ]
    )
    by = {s["name"]: s for s in section["systems"]}
    for name in ("sys0", "sys1"):
        own = frame[frame["system"] == name]
        lab, rest = own[own["drawn"]], own[~own["drawn"]]
        est, low, high, _, _ = ppi.ppi_mean(lab["y"], lab["yhat"], rest["yhat"])
        assert abs(by[name]["ssa"]["estimate"] - est) < 1e-12
        assert abs(by[name]["ssa"]["ci_low"] - max(low, 0)) < 1e-12
        est, low, high, _ = ppi.ppi_rate(lab["ys"], lab["yhats"], rest["yhats"])
        assert abs(by[name]["sensibleness"]["ci_high"] - min(high, 1)) < 1e-12
        assert by[name]["human_items"] == 20 and by[name]["human_labels"] == 20
        assert by[name]["ssa"]["width"] < by[name]["ssa"]["human_only_width"]  # a useful judge
        assert by[name]["human_labels_without_judge"] > 20
    comparison = section["comparisons"][0]["ssa"]
    assert comparison["ci_low"] <= comparison["difference"] <= comparison["ci_high"]
    md = (tmp_path / "reports/d/report.md").read_text()
    assert "## Judge-assisted SSA (j: llm, m)" in md and "Cohen's kappa" in md


def test_a_judge_missing_items_is_refused_and_agreement_counts_both_raters() -> None:
    people = np.array([1, 1, 1, 0, 0, 0, 1, 0], bool)
    judge = np.array([1, 1, 0, 0, 0, 1, 1, 0], bool)
    a = agreement_of(people, judge)
    assert a["confusion"] == [[3, 1], [1, 3]] and a["accuracy"] == 0.75
    assert abs(a["kappa"] - 0.5) < 1e-12


def test_an_unfinished_judge_is_refused(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    engine = setup(run_cli, tmp_path)
    judge_everything(engine, noise=0.3, skip=5)
    assert run_cli("collection", "--human-share", "0.5").exit_code == 0
    label_what_people_get(engine)
    result = run_cli("report", "--judge", "j", "--resamples", "1000")
    assert "the judge has not labelled 5 of 80 items" in result.output
    missing = run_cli("report", "--judge", "nobody", "--resamples", "1000")
    assert missing.exit_code == 2 and "--judge: no judge 'nobody' (judges: j)" in missing.output


def test_calibrate_fits_the_thresholds_people_agree_with(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A judge whose probabilities are the truth shifted down: the fitted sensible threshold
    sits below 0.5 and agrees perfectly; the report's agreement then uses it."""
    engine = setup(run_cli, tmp_path)
    judge_everything(engine, noise=0.0)
    with db.session_scope(engine) as s:
        from evaltool.storage.schema import JudgeLabel

        for row in s.scalars(select(JudgeLabel)):
            row.p_sensible = 0.2 + 0.2 * row.p_sensible  # 0.2 or 0.4: all below 0.5
    label_what_people_get(engine)
    result = run_cli("judge", "calibrate", "j")
    assert result.exit_code == 0, result.output
    assert "j: sensible at 0.400 (kappa 1.00)" in result.output and "on 80 items" in result.output
    assert run_cli("report", "--judge", "j", "--resamples", "1000").exit_code == 0
    rep = json.loads((tmp_path / "reports/d/report.json").read_text())
    assert rep["judged"]["judge"]["thresholds"]["sensible"] == 0.4
    assert rep["judged"]["agreement"]["sensible"]["kappa"] == 1.0
    few = run_cli("judge", "calibrate", "nobody")
    assert few.exit_code == 2


def test_plan_says_how_many_peoples_items_a_judge_saves(run_cli) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("plan", "--judge-rho", "0.7", "--width", "0.1", "--judged-items", "1477")
    assert result.exit_code == 0, result.output
    assert "people alone: 385 items per system" in result.output
    assert "on 1477 items: 225 items per system (42% fewer)" in result.output
    far = run_cli("plan", "--judge-rho", "0.9", "--width", "0.02", "--judged-items", "1000")
    assert "no number of people's items reaches it" in far.output
    bad = run_cli("plan", "--judge-rho", "1.2")
    assert bad.exit_code == 2 and bad.output.startswith("error: --judge-rho:")


def test_a_judge_that_favours_one_system_is_flagged(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Three systems; the judge adds 0.4 to one system's probabilities: that system alone is
    flagged, and its judge-assisted SSA still covers people's own."""
    assert run_cli("init").exit_code == 0
    engine = db.make_engine(f"sqlite:///{tmp_path / 'evaltool.db'}")
    make_pool(engine, contexts=CONTEXTS, systems=3, ranks=(0,))
    assert run_cli("collection", "--overlap", "1", "--human-share", "0.5").exit_code == 0
    judge_everything(engine, noise=0.1)
    with db.session_scope(engine) as s:
        from evaltool.storage.schema import JudgeLabel

        sys2 = select(Response.id).join(System).where(System.name == "sys2")
        for row in s.scalars(select(JudgeLabel).where(JudgeLabel.response_id.in_(sys2))):
            row.p_sensible = min(1.0, row.p_sensible + 0.4)
    label_what_people_get(engine)
    assert run_cli("report", "--judge", "j", "--resamples", "1000").exit_code == 0
    section = json.loads((tmp_path / "reports/d/report.json").read_text())["judged"]
    assert section["bias_flags"] == ["sys2"]
    by = {s["name"]: s for s in section["systems"]}
    assert by["sys2"]["bias"]["sensibleness"]["ci_low"] > 0  # its interval excludes 0
    truth_rate = np.mean([truth(f"sys2 c{i}")[0] for i in range(CONTEXTS)])
    assert (
        by["sys2"]["sensibleness"]["ci_low"] <= truth_rate <= by["sys2"]["sensibleness"]["ci_high"]
    )
    md = (tmp_path / "reports/d/report.md").read_text()
    assert "**sys2: the judge's bias differs from the other systems'**" in md


def test_plan_takes_the_correlation_from_a_pilot(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    engine = setup(run_cli, tmp_path)
    judge_everything(engine, noise=0.3)
    label_what_people_get(engine)
    result = run_cli("plan", "--judge", "j", "--width", "0.2", "--judged-items", "80")
    assert result.exit_code == 0, result.output
    line = result.output.splitlines()[0]
    assert line.startswith("from the pilot: j correlates 0.") and line.endswith(
        "with people (80 items)"
    )
    assert "items per system" in result.output


def test_judge_import_all_or_nothing_then_the_judged_report(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Verdicts made elsewhere (by context and system, or by response id; probabilities or
    yes/no) come in whole or not at all, and serve report --judge like a judge run here."""
    from evaltool.storage.schema import Judge, JudgeLabel

    engine = setup(run_cli, tmp_path)
    with db.session_scope(engine, readonly=True) as s:
        rows = s.execute(
            select(Response.id, Response.text, Context.external_id, System.name)
            .join(Context, Context.id == Response.context_id)
            .join(System, System.id == Response.system_id)
            .order_by(Response.id)
        ).all()
    bad = tmp_path / "bad.csv"
    for body, message in (
        ("context_id,system,p_sensible\nc0,sys0,1.5\n", "bad.csv:2: 'p_sensible' must be a number"),
        ("context_id,system,p_sensible\nc0,nope,0.5\n", "bad.csv:2: unknown system 'nope'"),
        ("response_id,sensible\n999999,yes\n", "bad.csv:2: no item with response_id 999999"),
        ("context_id,system\nc0,sys0\n", "bad.csv:2: give 'p_sensible' (0 to 1) or 'sensible'"),
        ("context_id,system,sensible\nc0,sys0,yes\nc0,sys0,no\n", "bad.csv:3: item listed twice"),
    ):
        bad.write_text(body)
        out = run_cli("judge", "import", str(bad), "ext")
        assert out.exit_code == 2 and message in out.output, out.output
    with db.session_scope(engine, readonly=True) as s:
        assert s.scalar(select(Judge.id)) is None  # nothing half-written
    path = tmp_path / "verdicts.jsonl"
    lines = []
    for k, (rid, text, ctx, system) in enumerate(rows):
        sensible, specific = truth(text)
        if k % 2:  # by response id, yes/no
            lines.append(
                json.dumps({"response_id": rid, "sensible": sensible, "specific": specific})
            )
        else:
            p = {"p_sensible": 0.9 if sensible else 0.1, "p_specific": 0.8 if specific else 0.2}
            lines.append(json.dumps({"context_id": ctx, "system": system, **p}))
    path.write_text("\n".join(lines) + "\n")
    out = run_cli("judge", "import", str(path), "ext", "--model", "my/bert")
    assert out.exit_code == 0 and "ext: 80 verdicts imported, 0 already there" in out.output
    again = run_cli("judge", "import", str(path), "ext", "--model", "my/bert")
    assert "0 verdicts imported, 80 already there" in again.output
    with db.session_scope(engine, readonly=True) as s:
        judge = s.scalars(select(Judge)).one()
        assert (judge.kind, judge.model) == ("imported", "my/bert")
        assert s.scalar(
            select(JudgeLabel.p_sensible).where(JudgeLabel.response_id == rows[1][0])
        ) in (0.0, 1.0)
    assert run_cli("collection", "--human-share", "0.5", "--seed", "1").exit_code == 0
    label_what_people_get(engine)
    result = run_cli("report", "--judge", "ext", "--resamples", "1000")
    assert result.exit_code == 0 and "judge-assisted: SSA" in result.output, result.output
