"""The pairwise page in a real browser: a Prolific worker labels pairs by keys to the
completion code; text never becomes markup; axe-core; side by side on a laptop, stacked on a
phone; and 32 workers behind two page servers on PostgreSQL."""

from __future__ import annotations

import multiprocessing
import sys
import types
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import func, select

from evaltool.annotation import flow
from evaltool.storage import db
from evaltool.storage.schema import Annotator, PairItem, PairLabel, chosen

from .conftest import make_pool, need, served, study_workers
from .pages import item, next_item, start

pytestmark = pytest.mark.browser
AXE = Path(__file__).resolve().parents[1] / ".node" / "node_modules" / "axe-core" / "axe.min.js"
NASTY = '<img src=x onerror="window.__xss=1"> **жирный**'


def prolific(worker: str) -> str:
    return f"study=arena&PROLIFIC_PID={worker}&STUDY_ID=S1&SESSION_ID=X-{worker}"


def pair_study(
    run_cli, url: str, quota: int, overlap: int, contexts: int, text=None, training=None
) -> None:  # type: ignore[no-untyped-def]
    """A Prolific pair study; ``training``: a gold file of teaching pairs, one to pass."""
    make_pool(db.make_engine(url), contexts=contexts, systems=3, ranks=(0,), text=text)
    assert (
        run_cli("pairs", "make", "sys0", "sys1", "sys2", "--seed", "3", "--db", url).exit_code == 0
    )
    got = run_cli("collection", "--overlap", str(overlap), "--gold-rate", "0", "--db", url)
    assert got.exit_code == 0, got.output
    if training is not None:
        got = run_cli("gold", "import", str(training), "--pairs", "--db", url)
        assert got.exit_code == 0, got.output
    made = run_cli(
        "study", "create", "arena", "--platform", "prolific", "--task", "pairs",
        "--items-per-worker", str(quota), "--qualification", "1" if training else "0",
        "--db", url,
    )  # fmt: skip
    assert made.exit_code == 0, made.output


def answer_by_keys(page, key: str, reason: str | None = None) -> str:  # type: ignore[no-untyped-def]
    """Choose with a key (A, B or T), type a reason if given, Enter; the item answered."""
    before = item(page)
    page.keyboard.press(key)
    if reason:
        page.locator("input.reason").fill(reason)
        page.locator("input.reason").press("Enter")
    else:
        page.keyboard.press("Enter")
    next_item(page, before)
    return before


def test_prolific_worker_labels_pairs_by_keys_to_the_code(
    browser, run_cli, sqlite_url: str, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    pair_study(run_cli, sqlite_url, quota=3, overlap=2, contexts=4, text=lambda n, _i: NASTY + n)
    with served(sqlite_url, tmp_path) as port:
        page = start(browser, port, prolific("P1"))
        sides = page.locator(".side .text").all_inner_texts()
        assert len(sides) == 2 and all(s.startswith(NASTY) for s in sides)
        assert page.evaluate("window.__xss") is None
        assert "sys" not in page.locator(".side-title").all_inner_texts()[0]
        done = [answer_by_keys(page, "a", "левый понятнее"), answer_by_keys(page, "b")]
        assert page.locator(".code").count() == 0
        done.append(answer_by_keys(page, "t"))
        code = page.locator(".code").inner_text()
        link = page.locator(".labeler a.submit").get_attribute("href")
        assert link == f"https://app.prolific.com/submissions/complete?cc={code}"
        page.context.close()
    with db.session_scope(db.make_engine(sqlite_url)) as s:
        rows = s.execute(select(PairLabel.pair_id, PairLabel.side, PairLabel.reason)).all()
        worker = s.scalars(select(Annotator).where(Annotator.study_id.is_not(None))).one()
        assert worker.completion_code == code
    assert rows == [
        (int(done[0]), "left", "левый понятнее"),
        (int(done[1]), "right", None),
        (int(done[2]), "tie", None),
    ]


def test_a_training_pair_shows_the_right_answer_then_real_pairs(
    browser, run_cli, sqlite_url: str, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    gold = tmp_path / "training.csv"
    gold.write_text("context_id,better,worse,training,explanation\nc0,sys1,sys0,yes,<b>так</b>\n")
    pair_study(run_cli, sqlite_url, quota=1, overlap=1, contexts=2, training=gold)
    with db.session_scope(db.make_engine(sqlite_url)) as s:
        teach = s.scalars(select(PairItem).where(PairItem.training.is_(True))).one()
        better, worse = ("B", "A") if teach.a_left else ("A", "B")  # sys1 is b
    with served(sqlite_url, tmp_path) as port:
        page = start(browser, port, prolific("Q1"))
        assert page.locator(".labeler").get_attribute("data-view") == "training"
        assert item(page) == str(teach.id)
        page.keyboard.press(worse.lower())
        page.keyboard.press("Enter")
        page.locator('.labeler[data-view="feedback"]').wait_for(timeout=30_000)
        assert page.locator(".wrong").count() == 1
        shown = {"A": "Лучше A", "B": "Лучше B"}[better]
        assert page.locator(".expected").inner_text() == f"Правильный ответ: {shown}."
        assert page.locator(".explanation").inner_text() == "<b>так</b>"  # text, not markup
        page.keyboard.press("Enter")
        page.locator('.labeler[data-view="stopped"]').wait_for(timeout=30_000)  # one of one wrong
        page.context.close()
        page = start(browser, port, prolific("Q2"))
        page.keyboard.press(better.lower())
        page.keyboard.press("Enter")
        page.locator('.labeler[data-view="feedback"] .right').wait_for(timeout=30_000)
        page.keyboard.press("Enter")
        page.locator('.labeler[data-view="task"]').wait_for(timeout=30_000)
        assert item(page) != str(teach.id)
        page.context.close()


def test_two_conversations_side_by_side_with_the_acute_question(
    browser, sqlite_url: str, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """Chat pairs: each side shows a whole conversation, turn by turn as text, and the
    question is ACUTE-Eval's."""
    from evaltool.annotation import accounts, chat
    from evaltool.annotation.pairing import build_chat_pairs
    from evaltool.storage.project import save_settings

    from .test_chat import answer_all, campaign

    engine = db.make_engine(sqlite_url)
    campaign(engine, bots=("baseline:echo", "baseline:generic"), conversations=1)
    for name in ("p0", "p1"):
        person = accounts.add_annotator(engine, name)
        chat.view(engine, person, "c")
        answer_all(engine)
        chat.send(engine, person, "c", NASTY)
        answer_all(engine)
        assert chat.finish(engine, person, "c").kind == "finished"
    assert build_chat_pairs(engine, "c", None, seed=1).added == 1
    with db.session_scope(engine) as s:
        save_settings(s, task="pairs", overlap=1, gold_rate=0.0)
    token = accounts.add_annotator(engine, "rater")
    with served(sqlite_url, tmp_path) as port:
        page = start(browser, port, f"token={token}")
        assert page.locator("#q-pair").inner_text() == (
            "С каким собеседником вы бы предпочли поговорить подольше?"
        )
        for side in ("left", "right"):
            turns = page.locator(f".side-{side} .turn")
            assert turns.count() == 4
            assert turns.nth(0).get_attribute("class") == "turn person"
            assert turns.nth(1).get_attribute("class") == "turn bot"
        assert page.locator(".side-title").all_inner_texts() == ["Разговор A", "Разговор B"]
        texts = page.locator(".turn.person").all_inner_texts()
        assert texts.count(NASTY) == 2 and page.evaluate("window.__xss") is None
        answer_by_keys(page, "b")
        assert page.locator('.labeler[data-view="empty"]').count() == 1
        page.context.close()
    with db.session_scope(engine) as s:
        assert s.execute(select(PairLabel.side)).scalars().all() == ["right"]


def test_pair_page_passes_axe_side_by_side_and_stacks_on_a_phone(
    browser, run_cli, sqlite_url: str, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    need(AXE.exists(), f"axe-core is not installed ({AXE}): run `make axe`")
    pair_study(run_cli, sqlite_url, quota=5, overlap=2, contexts=3)
    phone = {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True}
    with served(sqlite_url, tmp_path) as port:
        page = start(browser, port, prolific("L1"), viewport={"width": 1280, "height": 800})
        page.keyboard.press("a")
        page.add_script_tag(path=str(AXE))
        result = page.evaluate(
            """async () => {
              const inside = { fromShadowDom: ["[data-labeler-host]", ".labeler"] };
              const rules = ["wcag2a", "wcag2aa", "wcag21aa", "best-practice"];
              const r = await axe.run({ include: [inside] }, { runOnly: rules });
              return r.violations.map((v) => `${v.id}: ${v.nodes.length} (${v.help})`);
            }"""
        )
        assert result == []
        left, right = (page.locator(f".side-{s}").bounding_box() for s in ("left", "right"))
        assert left["y"] == right["y"] and left["x"] < right["x"]  # side by side
        submit = page.locator("button.submit").bounding_box()
        assert submit["y"] + submit["height"] <= 800  # the whole task on one laptop screen
        page.context.close()
        mobile = start(browser, port, prolific("M1"), **phone)
        left, right = (mobile.locator(f".side-{s}").bounding_box() for s in ("left", "right"))
        assert right["y"] > left["y"] + left["height"] - 1 and right["x"] == left["x"]  # stacked
        before = item(mobile)
        mobile.locator('[data-answer="pair-right"]').tap()
        mobile.locator("button.submit").tap()
        next_item(mobile, before)
        mobile.context.close()


def pair_workers(url: str, names: list[str], quota: int) -> list[tuple[str, int]]:
    """Study workers through ``flow.choose`` (conftest's ``study_workers``), sides at random."""

    def decide(task, rng):  # type: ignore[no-untyped-def]
        pid, side = task.item_id, rng.choice(["left", "right", "tie"])
        return lambda engine, token: flow.choose(engine, token, pid, side, rng=rng)

    return study_workers(url, prolific, names, decide)


def test_32_workers_label_pairs_behind_two_page_servers_on_postgresql(
    browser, run_cli, pg_url: str, tmp_path: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """4 browser pages (2 per server) and 28 workers in 4 processes: no answer twice, no
    pair over k, every quota exact."""
    monkeypatch.setitem(sys.modules, "__main__", types.ModuleType("__main__"))
    quota, k = 4, 3
    assert run_cli("init", "--db", pg_url).exit_code == 0
    pair_study(run_cli, pg_url, quota=quota, overlap=k, contexts=20)
    spawn = multiprocessing.get_context("spawn")
    names = [[f"F{p}-{i}" for i in range(7)] for p in range(4)]
    with (
        served(pg_url, tmp_path) as one,
        served(pg_url, tmp_path) as two,
        ProcessPoolExecutor(4, mp_context=spawn) as pool,
    ):
        running = [pool.submit(pair_workers, pg_url, group, quota) for group in names]
        pages = [start(browser, (one, two)[i % 2], prolific(f"W{i}")) for i in range(4)]
        for n in range(quota):
            for i, page in enumerate(pages):
                answer_by_keys(page, "abt"[(i + n) % 3])
        codes = [p.locator(".code").inner_text() for p in pages]
        for p in pages:
            p.context.close()
        done = [worker for job in running for worker in job.result()]
    assert [stored for _, stored in done] == [quota] * 28
    with db.session_scope(db.make_engine(pg_url)) as s:
        answers = s.execute(select(PairLabel.pair_id, PairLabel.annotator_id)).all()
        per_worker = s.execute(
            select(Annotator.completion_code, func.count(PairLabel.id))
            .join(PairLabel, PairLabel.annotator_id == Annotator.id)
            .group_by(Annotator.id)
        ).all()
        sides = s.execute(
            select(PairLabel.side, PairItem.a_left).join(PairItem, PairItem.id == PairLabel.pair_id)
        ).all()
    assert len(answers) == len(set(answers)) == 32 * quota
    assert max(Counter(p for p, _ in answers).values()) <= k
    assert sorted(c for c, _ in per_worker) == sorted(codes + [c for c, _ in done])
    assert {n for _, n in per_worker} == {quota} and len({c for c, _ in per_worker}) == 32
    assert {chosen(side, a_left) for side, a_left in sides} == {"a", "b", "tie"}
