"""Pair items through the one labelling path: designs and sides from a seed, leases capped
at k, double answers, undo, skip, gold pairs, and the kind of task a rater does."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from sqlalchemy import func, select

from evaltool.annotation import flow
from evaltool.annotation.accounts import add_annotator
from evaltool.annotation.pairing import build_pairs
from evaltool.annotation.tasks import PairTask
from evaltool.errors import UserError
from evaltool.storage import db
from evaltool.storage.project import save_settings
from evaltool.storage.schema import PairAssignment, PairItem, PairLabel, Response, chosen

from .conftest import make_pool


def pair_campaign(engine, contexts=6, systems=3, overlap=2, **kw):  # type: ignore[no-untyped-def]
    make_pool(engine, contexts=contexts, systems=systems, ranks=(0,))
    built = build_pairs(engine, None, [f"sys{j}" for j in range(systems)], **kw)
    with db.session_scope(engine) as s:
        save_settings(s, task="pairs", overlap=overlap, gold_rate=0.0)
    return built


def label_all(engine, token, side="left"):  # type: ignore[no-untyped-def]
    seen = []
    view = flow.view(engine, token)
    while view.kind == "task":
        assert isinstance(view.task, PairTask)
        seen.append(view.task.item_id)
        view = flow.choose(engine, token, view.task.item_id, side)
    return seen, view


def test_designs_and_sides_come_from_the_seed(sqlite_url: str) -> None:
    engine = db.make_engine(sqlite_url)
    built = pair_campaign(engine, contexts=10, systems=3, seed=4)
    assert (built.added, built.kept, built.design) == (30, 0, "all")
    with db.session_scope(engine) as s:
        items = s.execute(
            select(PairItem.context_id, PairItem.system_a, PairItem.system_b, PairItem.a_left)
        ).all()
    assert len(set(items)) == 30 and 5 < sum(a for *_, a in items) < 25
    again = build_pairs(engine, None, ["sys0", "sys1", "sys2"], seed=4)
    assert (again.added, again.kept) == (0, 30)
    other = db.make_engine(sqlite_url.replace("test.db", "other.db"), must_exist=False)
    db.upgrade(other)
    pair_campaign(other, contexts=10, systems=3, seed=4)
    with db.session_scope(other) as s:
        assert (
            s.execute(
                select(PairItem.context_id, PairItem.system_a, PairItem.system_b, PairItem.a_left)
            ).all()
            == items
        )


def test_random_design_draws_a_number_of_contexts_per_pair(sqlite_url: str) -> None:
    engine = db.make_engine(sqlite_url)
    built = pair_campaign(engine, contexts=10, systems=3, comparisons=4)
    assert (built.added, built.design) == (12, "random")
    with db.session_scope(engine) as s:
        per = Counter(s.execute(select(PairItem.system_a, PairItem.system_b)).all())
    assert set(per.values()) == {4}


def test_bad_designs_are_one_line_errors(run_cli, sqlite_url: str) -> None:
    engine = db.make_engine(sqlite_url)
    make_pool(engine, contexts=2, systems=2, ranks=(0,))
    out = run_cli("pairs", "make", "sys0", "--db", sqlite_url)
    assert out.exit_code == 2 and "two or more systems" in out.output
    out = run_cli("pairs", "make", "sys0", "nope", "--db", sqlite_url)
    assert out.exit_code == 2 and "no system 'nope'" in out.output
    out = run_cli("pairs", "make", "sys0", "sys1", "--db", sqlite_url)
    assert out.exit_code == 0 and "2 pair items made (chosen design, seed 0)" in out.output


def test_the_page_shows_sides_as_stored_and_never_a_system(any_db) -> None:
    pair_campaign(any_db, contexts=2, systems=2)
    token = add_annotator(any_db, "a")
    task = flow.view(any_db, token).task
    with db.session_scope(any_db) as s:
        item = s.get(PairItem, task.item_id)
        a = s.get(Response, item.response_a).text
        b = s.get(Response, item.response_b).text
    assert (task.left, task.right) == (([a], [b]) if item.a_left else ([b], [a]))
    assert not hasattr(task, "system_a")


def test_each_pair_gets_k_answers_from_distinct_raters(any_db) -> None:
    pair_campaign(any_db, contexts=4, systems=3, overlap=2)
    tokens = [add_annotator(any_db, f"r{i}") for i in range(4)]
    seen = [label_all(any_db, t)[0] for t in tokens]
    assert all(len(x) == len(set(x)) for x in seen)
    with db.session_scope(any_db) as s:
        counts = Counter(s.scalars(select(PairLabel.pair_id)))
        assert s.scalar(select(func.count(PairItem.id))) == 12
    assert set(counts.values()) == {2} and len(counts) == 12


def test_concurrent_raters_never_push_a_pair_over_k(any_db) -> None:
    pair_campaign(any_db, contexts=5, systems=3, overlap=2)
    tokens = [add_annotator(any_db, f"r{i}") for i in range(6)]
    threads = [threading.Thread(target=label_all, args=(any_db, t)) for t in tokens]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    with db.session_scope(any_db) as s:
        counts = Counter(s.scalars(select(PairLabel.pair_id)))
    assert max(counts.values()) <= 2 and sum(counts.values()) == 30


def test_double_answer_undo_and_skip(any_db) -> None:
    pair_campaign(any_db, contexts=2, systems=2)
    token = add_annotator(any_db, "a")
    first = flow.view(any_db, token).task.item_id
    view = flow.choose(any_db, token, first, "tie", reason="  both fine ")
    assert view.stored and view.can_undo
    assert not flow.choose(any_db, token, first, "left").stored
    again = flow.undo(any_db, token)
    assert again.task.item_id == first and again.done == 0
    flow.choose(any_db, token, first, "right")
    second = flow.view(any_db, token).task.item_id
    assert flow.skip(any_db, token, second, "cannot judge").kind == "empty"
    with db.session_scope(any_db) as s:
        rows = s.execute(select(PairLabel.pair_id, PairLabel.side, PairLabel.reason)).all()
        state = s.scalar(select(PairAssignment.state).where(PairAssignment.pair_id == second))
    assert rows == [(first, "right", None)] and state == "skipped"
    with pytest.raises(UserError, match="'up'"):
        flow.choose(any_db, token, first, "up")


def test_a_rater_does_the_kind_of_task_the_project_says(sqlite_url: str) -> None:
    engine = db.make_engine(sqlite_url)
    pair_campaign(engine, contexts=2, systems=2)
    token = add_annotator(engine, "a")
    task = flow.view(engine, token).task
    with pytest.raises(UserError, match="another kind of task"):
        flow.answer(engine, token, task.item_id, True, True)
    with db.session_scope(engine) as s:
        save_settings(s, task="ssa")
    assert flow.view(engine, token).task.response  # an SSA item now


def test_wrong_answers_on_gold_pairs_flag_the_rater(sqlite_url: str) -> None:
    engine = db.make_engine(sqlite_url)
    pair_campaign(engine, contexts=8, systems=2, overlap=3)
    with db.session_scope(engine) as s:
        gold = list(s.scalars(select(PairItem).order_by(PairItem.id).limit(6)))
        for g in gold:
            g.expected, g.open = "a", False
        save_settings(s, gold_rate=0.5, gold_min_items=3, gold_threshold=0.7)
        wanted = {g.id: ("right" if g.a_left else "left") for g in gold}  # always wrong
    token = add_annotator(engine, "a")
    view = flow.view(engine, token)
    while view.kind == "task" and not _flagged(engine):
        side = wanted.get(view.task.item_id, "tie")
        view = flow.choose(engine, token, view.task.item_id, side)
    assert _flagged(engine)
    with db.session_scope(engine) as s:
        rows = s.execute(
            select(PairLabel.side, PairItem.a_left, PairItem.expected).join(
                PairItem, PairItem.id == PairLabel.pair_id
            )
        ).all()
    assert all(chosen(side, a_left) != "a" for side, a_left, exp in rows if exp)


def _flagged(engine) -> bool:  # type: ignore[no-untyped-def]
    from evaltool.storage.schema import Annotator

    with db.session_scope(engine) as s:
        return bool(s.scalar(select(Annotator.flagged).where(Annotator.name == "a")))


def test_export_pairs_in_arena_fields(run_cli, sqlite_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json

    import pandas as pd

    engine = db.make_engine(sqlite_url)
    pair_campaign(engine, contexts=2, systems=2, overlap=1)
    token = add_annotator(engine, "vera")
    first = flow.view(engine, token).task
    flow.choose(engine, token, first.item_id, "left", reason="короче")
    out = tmp_path / "pairs.jsonl"
    got = run_cli("export", "pairs", "--format", "jsonl", "--out", str(out), "--db", sqlite_url)
    assert got.exit_code == 0, got.output
    (row,) = [json.loads(line) for line in out.read_text().splitlines()]
    with db.session_scope(engine) as s:
        item = s.get(PairItem, first.item_id)
        a = s.get(Response, item.response_a).text
    shown_left = first.left[0]
    assert row["winner"] == ("model_a" if shown_left == a else "model_b")
    assert row["model_a_side"] == ("left" if item.a_left else "right")
    assert (row["model_a"], row["model_b"], row["judge"]) == ("sys0", "sys1", "vera")
    assert row["response_a"] == a and row["context"] == [
        "привет",
        f"реплика {row['context_id'][1:]}",
    ]
    assert row["reason"] == "короче"
    csv_out, parquet = tmp_path / "p.csv", tmp_path / "p.parquet"
    run_cli("export", "pairs", "--out", str(csv_out), "--db", sqlite_url)
    assert json.loads(pd.read_csv(csv_out)["context"][0]) == row["context"]
    run_cli("export", "pairs", "--format", "parquet", "--out", str(parquet), "--db", sqlite_url)
    assert list(pd.read_parquet(parquet)["context"][0]) == row["context"]


def test_gold_pairs_from_a_file_all_or_nothing(run_cli, sqlite_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = db.make_engine(sqlite_url)
    pair_campaign(engine, contexts=4, systems=3)
    bad = tmp_path / "bad.csv"
    bad.write_text("context_id,better,worse\nc0,sys0,sys1\nc1,sys2,sys2\n")
    out = run_cli("gold", "import", str(bad), "--pairs", "--db", sqlite_url)
    assert out.exit_code == 2
    assert out.output.strip().endswith(f"{bad}:3: 'better' and 'worse' name the same system")
    for rows, message in (
        ("c9,sys0,sys1", "no context 'c9'"),
        ("c0,sys0,nope", "system 'nope' has no response to 'c0'"),
        ("c0,sys0,sys1\nc0,sys1,sys0", "pair listed twice (line 2)"),
    ):
        bad.write_text(f"context_id,better,worse\n{rows}\n")
        out = run_cli("gold", "import", str(bad), "--pairs", "--db", sqlite_url)
        assert out.exit_code == 2 and message in out.output, out.output
    with db.session_scope(engine) as s:
        assert s.scalar(select(func.count()).where(PairItem.expected.is_not(None))) == 0
    good = tmp_path / "gold.csv"
    good.write_text("context_id,better,worse,explanation\nc0,sys1,sys0,так\nc1,sys2,sys0,\n")
    out = run_cli("gold", "import", str(good), "--pairs", "--db", sqlite_url)
    assert out.exit_code == 0 and "gold pairs: 0 added, 2 updated" in out.output
    with db.session_scope(engine) as s:
        gold = {i.context_id: i for i in s.scalars(select(PairItem).where(PairItem.expected != ""))}
        assert sorted(i.expected for i in gold.values()) == ["b", "b"]  # sys1 > sys0, sys2 > sys0
        assert {i.explanation for i in gold.values()} == {"так", None}
        assert not any(i.open for i in gold.values())  # never counted, only checks people


def _training_pairs(engine, tmp_path, run_cli, url: str) -> None:  # type: ignore[no-untyped-def]
    """Two teaching pairs on contexts no design paired: sys1 better than sys0."""
    path = tmp_path / "training.jsonl"
    rows = [
        f'{{"context_id": "c{i}", "better": "sys1", "worse": "sys0", "training": true, '
        f'"explanation": "почему {i}"}}'
        for i in (4, 5)
    ]
    path.write_text("\n".join(rows) + "\n")
    out = run_cli("gold", "import", str(path), "--pairs", "--seed", "1", "--db", url)
    assert out.exit_code == 0 and "gold pairs: 2 added, 0 updated" in out.output


@pytest.mark.parametrize("right", [True, False])
def test_pair_qualification_with_feedback_pass_or_stop(
    run_cli, sqlite_url: str, tmp_path, right: bool
) -> None:  # type: ignore[no-untyped-def]
    from evaltool.annotation import studies
    from evaltool.storage.schema import PairTrainingAnswer

    engine = db.make_engine(sqlite_url)
    make_pool(engine, contexts=6, systems=2, ranks=(0,))
    build_pairs(engine, None, ["sys0", "sys1"], comparisons=4, seed=0)
    with db.session_scope(engine) as s:
        for item in s.scalars(select(PairItem).where(PairItem.context_id > 4)):
            s.delete(item)  # leave c4 and c5 unpaired for the training pairs
    _training_pairs(engine, tmp_path, run_cli, sqlite_url)
    studies.create_study(engine, "q", "generic", 2, qualification=2, pass_mark=1.0, task="pairs")
    token = studies.join_study(engine, "q", {"worker_id": "t"}).token
    for step in range(2):
        v = flow.view(engine, token)
        assert v.kind == "training" and v.training == (step + 1, 2) and v.extra["question"] is None
        with db.session_scope(engine) as s:
            item = s.get(PairItem, v.task.item_id)
            better = "right" if item.a_left else "left"  # sys1 is b, the lower id is sys0
            worse = "left" if better == "right" else "right"
        fb = flow.choose(engine, token, v.task.item_id, better if right else worse)
        assert fb.kind == "feedback" and fb.feedback["correct"] is right
        assert fb.feedback["side"] == better and fb.feedback["explanation"].startswith("почему")
    assert fb.feedback["passed"] is right
    v = flow.view(engine, token)
    if right:
        seen, v = label_all(engine, token)
        assert v.kind == "finished" and len(seen) == 2
    else:
        assert v.kind == "stopped" and v.message == "failed qualification"
    with db.session_scope(engine) as s:
        assert s.scalar(select(func.count(PairTrainingAnswer.id))) == 2
        assert s.scalar(select(func.count(PairLabel.id))) == (2 if right else 0)  # kept apart
