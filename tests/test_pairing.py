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
