"""The pool's kept state (open flag, draw key, lapsed leases) against the rule it caches: after
the 0005 upgrade of a busy database, and after every step of random labelling sessions."""

from __future__ import annotations

import random
from collections import Counter
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, func, insert, select, union, update

from evaltool.annotation import flow, pool
from evaltool.annotation.accounts import add_annotator, flag, unflag
from evaltool.errors import UserError
from evaltool.storage import db
from evaltool.storage.imports import import_labels
from evaltool.storage.project import load_settings, save_settings
from evaltool.storage.schema import (
    Annotator,
    Assignment,
    Context,
    Dataset,
    GoldItem,
    Label,
    PoolItem,
    Response,
    Setting,
    System,
    TrainingAnswer,
    utcnow,
)

from .conftest import make_pool


def before_0005(s, me: Annotator, settings, now: datetime) -> set[int]:  # type: ignore[no-untyped-def]
    """The items a rater could get before revision 0005: the scan it replaced, verbatim."""

    def counted(column):  # type: ignore[no-untyped-def]
        query = (
            select(func.count(Label.id))
            .join(Annotator, Annotator.id == Label.annotator_id)
            .where(Label.response_id == Response.id, Annotator.flagged.is_(False))
        )
        return (query if column is None else query.where(column)).scalar_subquery()

    n = counted(None)
    held = (
        select(func.count(Assignment.id))
        .where(Assignment.response_id == Response.id, pool.live(now))
        .scalar_subquery()
    )
    short = n + held < settings.overlap
    if settings.adaptive:
        ys, yp = counted(Label.sensible), counted(Label.specific)
        short = short & ((n == 0) | pool.undecided(ys, yp, n, settings.overlap))
    return set(
        s.scalars(
            select(Response.id).where(
                Response.rank == 0,
                Response.id.not_in(select(GoldItem.response_id)),
                Response.id.not_in(
                    union(
                        select(Assignment.response_id).where(Assignment.annotator_id == me.id),
                        select(Label.response_id).where(Label.annotator_id == me.id),
                        select(TrainingAnswer.response_id).where(
                            TrainingAnswer.annotator_id == me.id
                        ),
                    )
                ),
                short,
            )
        )
    )


def kept(s, me: Annotator) -> set[int]:  # type: ignore[no-untyped-def]
    """The items the kept state offers the rater (what claims draw from)."""
    query = select(PoolItem.response_id).where(
        PoolItem.open.is_(True), PoolItem.response_id.not_in(pool.seen_by(me.id))
    )
    return set(s.scalars(query))


def eligible(engine: Engine, exact: bool) -> dict[str, set[int]]:
    """Per rater: the rule's items (``exact``) or the kept state's, after the pool's upkeep."""
    with db.session_scope(engine) as s:
        settings, now = load_settings(s), utcnow()
        if not exact:
            pool.sync(s, settings, now)
            while s.scalar(
                select(func.count(Assignment.id)).where(
                    Assignment.state == "leased", Assignment.expires_at <= now
                )
            ):
                pool.reclaim(s, settings, now)
        raters = s.scalars(select(Annotator).order_by(Annotator.name)).all()
        return {
            me.name: before_0005(s, me, settings, now) if exact else kept(s, me) for me in raters
        }


def fill_at_0004(engine: Engine) -> None:
    """A busy campaign at schema 0004: labels, live and expired leases, skips, a flagged rater,
    gold and training items, training answers. Core inserts: the 0004 tables only."""
    rng = random.Random(5)
    now = utcnow()
    with engine.begin() as conn:
        conn.execute(insert(Dataset), [{"id": 1, "name": "d"}])
        conn.execute(
            insert(Context),
            [
                {"id": i, "dataset_id": 1, "external_id": f"c{i}", "turns": ["a"]}
                for i in range(1, 31)
            ],
        )
        conn.execute(
            insert(System), [{"id": j, "name": f"s{j}", "kind": "baseline"} for j in (1, 2, 3)]
        )
        conn.execute(
            insert(Response),
            [
                {
                    "id": 1000 * r + 100 * j + i,
                    "context_id": i,
                    "system_id": j,
                    "rank": r,
                    "text": "ok",
                    "meta": {},
                }
                for j in (1, 2, 3)
                for i in range(1, 31)
                for r in (0, 1)
                if not r or i % 5 == 0
            ],
        )
        conn.execute(
            insert(GoldItem),
            [
                {"response_id": 101, "expected_sensible": True, "training": False},
                {"response_id": 102, "expected_sensible": False, "training": True},
            ],
        )
        conn.execute(
            insert(Annotator),
            [{"id": a, "name": f"r{a}", "flagged": a == 3} for a in range(1, 9)],
        )
        items = [100 * j + i for j in (1, 2, 3) for i in range(3, 31)]
        labels, leases, seen = [], [], set()
        for a in range(1, 9):
            for rid in rng.sample(items, 25):
                seen.add((rid, a))
                sensible = rng.random() < 0.6
                kind = rng.random()
                if kind < 0.6:
                    labels.append(
                        {
                            "response_id": rid,
                            "annotator_id": a,
                            "sensible": sensible,
                            "specific": sensible and rng.random() < 0.5,
                        }
                    )
                    leases.append((rid, a, now - timedelta(hours=2), "done"))
                elif kind < 0.75:
                    leases.append((rid, a, now + timedelta(days=1), "leased"))  # live
                elif kind < 0.9:
                    leases.append((rid, a, now - timedelta(days=1), "leased"))  # expired
                else:
                    leases.append((rid, a, now + timedelta(days=1), "skipped"))
        conn.execute(insert(Label), labels)
        conn.execute(
            insert(Assignment),
            [
                {
                    "response_id": r,
                    "annotator_id": a,
                    "leased_at": now - timedelta(hours=3),
                    "expires_at": e,
                    "state": st,
                }
                for r, a, e, st in leases
            ],
        )
        conn.execute(
            insert(TrainingAnswer),
            [
                {
                    "annotator_id": 4,
                    "response_id": 102,
                    "sensible": True,
                    "specific": False,
                    "correct": False,
                }
            ],
        )
        conn.execute(insert(Setting), [{"key": "overlap", "value": 3}])


def test_upgrade_to_0005_keeps_every_raters_eligible_items(any_url: str) -> None:
    engine = db.make_engine(any_url, must_exist=False)
    db.upgrade(engine, to="0004")
    fill_at_0004(engine)
    before = eligible(engine, exact=True)
    with db.session_scope(engine, readonly=True) as s:
        settings = load_settings(s)
    with db.session_scope(engine) as s:
        save_settings(s, adaptive=True)
    before_adaptive = eligible(engine, exact=True)
    with db.session_scope(engine) as s:
        save_settings(s, adaptive=False)
    assert before["r1"] and before_adaptive["r1"] < before["r1"], "the fixture exercises both rules"

    db.upgrade(engine)
    with db.session_scope(engine, readonly=True) as s:
        rows = s.scalar(select(func.count()).select_from(PoolItem))
        assert rows == 88, "every rank-0 response but the two gold ones has a row"
    assert eligible(engine, exact=False) == before
    with db.session_scope(engine) as s:
        save_settings(s, adaptive=True)
    assert eligible(engine, exact=False) == before_adaptive
    with db.session_scope(engine, readonly=True) as s:
        lapsed = s.scalar(select(func.count()).where(Assignment.state == "lapsed"))
        assert lapsed and settings.overlap == 3


def step(engine: Engine, rng: random.Random, tokens: dict[str, str], draws: random.Random) -> str:
    """One random action of a labelling session, through the page's path or the admin's.
    ``rng`` picks the actions (the same ones every run for a seed); ``draws`` is what the
    pool draws with (how much of it a claim uses depends on the pool)."""
    name = rng.choice(sorted(tokens))
    token, roll = tokens[name], rng.random()
    try:
        if roll < 0.55:
            view = flow.view(engine, token, draws)
            sensible, specific = rng.random() < 0.6, rng.random() < 0.5
            if view.task is not None:
                flow.answer(engine, token, view.task.response_id, sensible, specific, rng=draws)
            return "answer"
        if roll < 0.65:
            view = flow.view(engine, token, draws)
            if view.task is not None:
                flow.skip(engine, token, view.task.response_id, "other")
            return "skip"
        if roll < 0.72:
            flow.undo(engine, token)
            return "undo"
        if roll < 0.8:
            with db.session_scope(engine) as s:  # time passes for someone's lease
                s.execute(
                    update(Assignment)
                    .where(
                        Assignment.annotator_id
                        == s.scalar(select(Annotator.id).where(Annotator.name == name))
                    )
                    .values(expires_at=datetime(2000, 1, 1))
                )
            return "expire"
        if roll < 0.85:
            (flag if rng.random() < 0.5 else unflag)(engine, name)
            return "flag"
        if roll < 0.9:
            with db.session_scope(engine) as s:
                save_settings(s, overlap=rng.choice((2, 3)), adaptive=rng.random() < 0.5)
            return "settings"
        flow.view(engine, token, draws)  # a lease only (someone reading)
        return "view"
    except UserError:
        return "refused"


@pytest.mark.parametrize("seed", [1, 2])
def test_kept_state_equals_the_rule_after_every_step(sqlite_url: str, seed: int) -> None:
    engine = db.make_engine(sqlite_url)
    make_pool(engine, contexts=6, systems=3, ranks=(0,))
    with db.session_scope(engine) as s:
        save_settings(s, overlap=2, gold_rate=0.0)
    tokens = {f"r{i}": add_annotator(engine, f"r{i}") for i in range(6)}
    rng, draws = random.Random(seed), random.Random(seed + 100)
    done: Counter[str] = Counter()
    for _ in range(150):
        done[step(engine, rng, tokens, draws)] += 1
        assert eligible(engine, exact=False) == eligible(engine, exact=True), done
    assert min(done[k] for k in ("answer", "skip", "expire", "flag", "settings")) > 0, done


def test_imported_labels_close_items_at_the_next_claim(sqlite_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = db.make_engine(sqlite_url)
    make_pool(engine, contexts=2, systems=1, ranks=(0,))
    with db.session_scope(engine) as s:
        save_settings(s, overlap=1, gold_rate=0.0)
    token = add_annotator(engine, "a")
    task = flow.view(engine, token).task  # the pool counted once
    assert task is not None
    other_context = "c1" if task.turns[-1] == "реплика 0" else "c0"
    path = tmp_path / "labels.csv"
    path.write_text(
        f"context_id,system,annotator,sensible,specific\n{other_context},sys0,old,yes,no\n"
    )
    import_labels(engine, path)
    assert eligible(engine, exact=False) == eligible(engine, exact=True)
    other = add_annotator(engine, "b")
    assert flow.view(engine, other).task is None  # one leased, the other labelled: none left


def test_new_responses_join_the_pool_and_gold_leaves_it(sqlite_url: str) -> None:
    engine = db.make_engine(sqlite_url)
    ids = make_pool(engine, contexts=3, systems=1, ranks=(0, 1))
    with db.session_scope(engine) as s:
        rows = dict(s.execute(select(PoolItem.response_id, PoolItem.open)).all())
        assert rows == {rid: True for rid in ids}, "rank 0 only, open, as they are stored"
        s.add(GoldItem(response_id=ids[0], expected_sensible=True))
    add_annotator(engine, "a")
    assert eligible(engine, exact=False) == eligible(engine, exact=True) == {"a": set(ids[1:])}
