"""The assignment service under concurrency, leases, double submits, gold checks, accounts."""

from __future__ import annotations

import itertools
import random
import threading
from collections import Counter
from datetime import datetime

import pytest
from sqlalchemy import func, select, update

from evaltool.annotation import flow
from evaltool.annotation.accounts import add_annotator, disable, hash_token, rotate
from evaltool.errors import UserError
from evaltool.storage import db
from evaltool.storage.project import save_settings
from evaltool.storage.schema import Annotator, Assignment, GoldItem, Label, Response

from .conftest import make_pool


def next_task(engine, token, rng=None):  # type: ignore[no-untyped-def]
    """The item the page shows now, through the one labelling path (None: nothing left)."""
    view = flow.view(engine, token, rng)
    if view.kind == "stopped":
        raise UserError(f"stopped: {view.message}")
    return view.task if view.kind == "task" else None


def submit(engine, token, rid, sensible, specific, rng=None) -> bool:  # type: ignore[no-untyped-def]
    """Answer as the page does; whether this answer was stored (False: already there)."""
    return flow.answer(engine, token, rid, sensible, specific, rng=rng).stored


def labels_per_response(engine) -> Counter:  # type: ignore[no-untyped-def]
    with db.session_scope(engine) as s:
        return Counter(
            dict(
                s.execute(select(Label.response_id, func.count()).group_by(Label.response_id)).all()
            )
        )


@pytest.mark.slow
@pytest.mark.parametrize("threads", [16])
def test_concurrent_annotators_fill_exactly_k(any_db, threads: int) -> None:
    ids = make_pool(any_db, contexts=100, systems=2)  # 200 items
    tokens = [add_annotator(any_db, f"a{i}") for i in range(threads)]
    stored, errors = Counter(), []

    def work(token: str, seed: int) -> None:
        rng = random.Random(seed)
        try:
            while (task := next_task(any_db, token)) is not None:
                sensible = rng.random() < 0.7
                for _ in range(2 if rng.random() < 0.2 else 1):  # some double clicks
                    stored[token] += submit(
                        any_db, token, task.response_id, sensible, rng.random() < 0.5
                    )
        except Exception as exc:
            errors.append(repr(exc))

    pool = [threading.Thread(target=work, args=(t, i)) for i, t in enumerate(tokens)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert errors == []
    counts = labels_per_response(any_db)
    assert set(counts) == set(ids), "every rank-0 item labelled, nothing else"
    assert set(counts.values()) == {3}
    assert sum(stored.values()) == 600, "every stored answer is in the database"
    with db.session_scope(any_db) as s:
        pairs = s.execute(select(Label.response_id, Label.annotator_id)).all()
        assert len(pairs) == len(set(pairs))
        assert (
            s.scalar(
                select(func.count()).select_from(Assignment).where(Assignment.state == "leased")
            )
            == 0
        )


def test_same_item_on_refresh_and_never_twice(any_db) -> None:
    make_pool(any_db, contexts=3, systems=1)
    token = add_annotator(any_db, "a")
    first = next_task(any_db, token)
    assert next_task(any_db, token) == first  # refresh: same item
    seen = set()
    task = first
    while task is not None:
        assert task.response_id not in seen
        seen.add(task.response_id)
        assert submit(any_db, token, task.response_id, True, True)
        assert not submit(any_db, token, task.response_id, False, False)
        task = next_task(any_db, token)
    assert len(seen) == 3
    view = flow.view(any_db, token)
    assert (view.kind, view.done) == ("empty", 3)


def test_no_same_context_twice_in_a_row_and_systems_interleave(any_db) -> None:
    make_pool(any_db, contexts=30, systems=2)
    token = add_annotator(any_db, "a")
    order, rng = [], random.Random(0)  # seeded: the interleaving bound holds for this draw
    while (task := next_task(any_db, token, rng)) is not None:
        order.append((task.turns[-1], task.response.split()[0]))
        submit(any_db, token, task.response_id, True, False, rng)
    assert len(order) == 60
    repeats = [i for i, (a, b) in enumerate(itertools.pairwise(order)) if a[0] == b[0]]
    # a repeat is allowed only when nothing else is left, at the very end
    assert all(i >= len(order) - 4 for i in repeats), repeats
    first_half = Counter(system for _, system in order[:30])
    assert min(first_half.values()) >= 8, f"systems should interleave: {first_half}"


def test_lease_expiry_returns_item_to_pool(any_db) -> None:
    (rid,) = make_pool(any_db, contexts=1, systems=1)
    with db.session_scope(any_db) as s:
        save_settings(s, overlap=1)
    slow, fast = add_annotator(any_db, "slow"), add_annotator(any_db, "fast")
    assert next_task(any_db, slow).response_id == rid
    assert next_task(any_db, fast) is None  # the only slot is leased
    with db.session_scope(any_db) as s:
        s.execute(update(Assignment).values(expires_at=datetime(2000, 1, 1)))
    assert next_task(any_db, fast).response_id == rid
    assert submit(any_db, fast, rid, True, True)
    with pytest.raises(UserError, match="went to someone else"):
        submit(any_db, slow, rid, True, False)
    assert labels_per_response(any_db) == Counter({rid: 1})


def test_late_answer_is_kept_while_a_slot_is_free(any_db) -> None:
    (rid,) = make_pool(any_db, contexts=1, systems=1)
    token = add_annotator(any_db, "a")
    next_task(any_db, token)
    with db.session_scope(any_db) as s:
        s.execute(update(Assignment).values(expires_at=datetime(2000, 1, 1)))
    assert submit(any_db, token, rid, False, True)
    with db.session_scope(any_db) as s:
        label = s.scalars(select(Label)).one()
        assert (label.sensible, label.specific) == (False, False)  # specific needs sensible
        assert label.seconds is not None


def test_tokens_hashed_disable_rotate(any_db) -> None:
    make_pool(any_db, contexts=2, systems=1)
    token = add_annotator(any_db, "a")
    assert len(token) >= 32  # 192 random bits, url-safe
    with db.session_scope(any_db) as s:
        row = s.scalars(select(Annotator)).one()
        assert row.token_hash == hash_token(token) and token not in row.token_hash
    for bad in (None, "", "wrong"):
        with pytest.raises(UserError):
            next_task(any_db, bad)
    disable(any_db, "a")
    with pytest.raises(UserError, match="disabled"):
        next_task(any_db, token)
    new = rotate(any_db, "a")
    with pytest.raises(UserError, match="unknown login token"):
        next_task(any_db, token)
    assert next_task(any_db, new) is not None
    with pytest.raises(UserError, match="not given to you"):
        submit(any_db, new, 999999, True, True)


def test_gold_items_mixed_in_and_failing_annotator_flagged(any_db) -> None:
    ids = make_pool(any_db, contexts=20, systems=1)
    with db.session_scope(any_db) as s:
        s.add_all(
            GoldItem(response_id=r, expected_sensible=True, expected_specific=True) for r in ids[:6]
        )
        save_settings(s, gold_rate=0.5, gold_min_items=5, gold_threshold=0.7, stop_flagged=True)
    good, bad = add_annotator(any_db, "good"), add_annotator(any_db, "bad")
    gold_seen = 0
    for token, honest in ((good, True), (bad, False)):
        try:
            while (task := next_task(any_db, token)) is not None:
                is_gold = task.response_id in ids[:6]
                gold_seen += is_gold and honest
                answer = honest or not is_gold
                submit(any_db, token, task.response_id, answer, answer)
        except UserError as exc:
            assert not honest and "paused" in str(exc)
    assert gold_seen == 6
    with db.session_scope(any_db) as s:
        flags = dict(s.execute(select(Annotator.name, Annotator.flagged)).all())
    assert flags == {"good": False, "bad": True}


def test_items_come_in_uniformly_random_order(any_db) -> None:  # type: ignore[no-untyped-def]
    """Among the first 200 picks about 1% lie in the lowest 1% of their system's ids (the old
    random-start-then-scan order put 29 of the first 40 there)."""
    ids = make_pool(any_db, contexts=300, systems=4, ranks=(0,))
    by_system: dict[int, list[int]] = {}
    with db.session_scope(any_db) as s:
        for rid, sid in s.execute(select(Response.id, Response.system_id)):
            by_system.setdefault(sid, []).append(rid)
    low = {rid for rids in by_system.values() for rid in sorted(rids)[: max(1, len(rids) // 100)]}
    rng = random.Random(0)
    tokens = [add_annotator(any_db, f"r{i}") for i in range(200)]
    picks = [next_task(any_db, t, rng) for t in tokens]  # each person's first item
    assert all(p is not None for p in picks) and len(ids) == 1200
    share = sum(p.response_id in low for p in picks if p) / len(picks)
    assert share <= 0.03, share


def test_labels_of_flagged_raters_are_refilled_and_unflag_restores(any_db) -> None:  # type: ignore[no-untyped-def]
    from evaltool.annotation.accounts import flag, unflag

    (rid,) = make_pool(any_db, contexts=1, systems=1, ranks=(0,))
    tokens = [add_annotator(any_db, f"a{i}") for i in range(5)]
    for t in tokens[:3]:
        task = next_task(any_db, t)
        assert task is not None and submit(any_db, t, rid, True, True)
    assert next_task(any_db, tokens[3]) is None  # k labels: full
    flag(any_db, "a0")  # by hand, as the admin does
    task = next_task(any_db, tokens[3])  # a0's label no longer counts: one slot again
    assert task is not None and task.response_id == rid
    assert next_task(any_db, tokens[4]) is None  # the lease holds the one slot
    unflag(any_db, "a0")
    with db.session_scope(any_db) as s:
        assert not s.scalars(select(Annotator.flagged).where(Annotator.name == "a0")).one()


def test_never_an_item_labelled_in_any_way(any_db) -> None:  # type: ignore[no-untyped-def]
    """An imported label (no lease) keeps the item from the same rater when they get a link."""
    ids = make_pool(any_db, contexts=2, systems=1, ranks=(0,))
    with db.session_scope(any_db) as s:
        rater = Annotator(name="imported", active=True, token_hash=hash_token("tok"))
        s.add(rater)
        s.flush()
        s.add(Label(response_id=ids[0], annotator_id=rater.id, sensible=True, specific=False))
    seen = [next_task(any_db, "tok")]
    seen.append(next_task(any_db, "tok"))
    assert seen[0] is not None and seen[0].response_id == ids[1]


def test_undo_while_the_lease_lives_and_skip_with_reason(any_db) -> None:  # type: ignore[no-untyped-def]
    from evaltool.annotation import flow

    make_pool(any_db, contexts=3, systems=1, ranks=(0,))
    token = add_annotator(any_db, "u")
    first = flow.view(any_db, token)
    assert first.kind == "task" and first.task is not None and not first.can_undo
    rid = first.task.response_id
    after = flow.answer(any_db, token, rid, True, False)
    assert after.stored and after.can_undo and after.task.response_id != rid
    back = flow.undo(any_db, token)  # the answered item is shown again, first
    assert back.task is not None and back.task.response_id == rid and back.done == 0
    again = flow.answer(any_db, token, rid, False, False)
    nxt = again.task.response_id
    skipped = flow.skip(any_db, token, nxt, "text is broken")
    assert skipped.task is not None and skipped.task.response_id not in (rid, nxt)
    other = add_annotator(any_db, "v")
    met = set()
    while (v := flow.view(any_db, other)).task is not None:  # the skipped item went back
        met.add(v.task.response_id)
        flow.answer(any_db, other, v.task.response_id, True, True)
    assert nxt in met
    with pytest.raises(UserError, match="reason"):
        flow.skip(any_db, token, skipped.task.response_id, "bored")
    with db.session_scope(any_db) as s:
        from evaltool.storage.status import skips

        assert skips(s) == {
            "items": 1,
            "by_system": {"sys0": 1},
            "by_reason": {"text is broken": 1},
        }
    with db.session_scope(any_db) as s:
        s.execute(update(Assignment).values(expires_at=datetime(2000, 1, 1)))
    with pytest.raises(UserError, match="nothing to undo"):
        flow.undo(any_db, token)


def test_adaptive_overlap_stops_decided_items(any_db) -> None:  # type: ignore[no-untyped-def]
    (rid,) = make_pool(any_db, contexts=1, systems=1, ranks=(0,))
    with db.session_scope(any_db) as s:
        save_settings(s, adaptive=True)
    tokens = [add_annotator(any_db, f"a{i}") for i in range(3)]
    for t in tokens[:2]:  # two agreeing labels decide it with k = 3
        assert next_task(any_db, t) is not None
        submit(any_db, t, rid, False, False)
    assert next_task(any_db, tokens[2]) is None
    with db.session_scope(any_db) as s:
        save_settings(s, adaptive=False)
    assert next_task(any_db, tokens[2]) is not None
