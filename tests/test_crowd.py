"""Crowd studies in a real browser: a Prolific worker from the study link to the completion code,
and a crowd of pages on one link, on SQLite and on PostgreSQL behind two page servers; and 64
workers on a pool of 120,000 items there."""

from __future__ import annotations

import csv
import io
import multiprocessing
import sys
import types
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import func, select

from evaltool.annotation import flow
from evaltool.storage import db
from evaltool.storage.schema import Annotator, Label

from .conftest import make_pool, served, study_workers
from .pages import item, label_by_keys, next_item, start

pytestmark = pytest.mark.browser


def prolific(worker: str) -> str:
    return f"study=pilot&PROLIFIC_PID={worker}&STUDY_ID=S1&SESSION_ID=X-{worker}"


def create_study(run_cli, url: str, quota: int, overlap: int = 3) -> None:  # type: ignore[no-untyped-def]
    assert (
        run_cli("collection", "--overlap", str(overlap), "--gold-rate", "0", "--db", url).exit_code
        == 0
    )
    quota_flag = ("--items-per-worker", str(quota))
    made = run_cli("study", "create", "pilot", "--platform", "prolific", *quota_flag, "--db", url)
    assert made.exit_code == 0, made.output
    assert "?study=pilot&PROLIFIC_PID={{%PROLIFIC_PID%}}" in made.output


def test_prolific_worker_by_keyboard_gets_the_code_listed_and_again_on_revisit(
    browser, run_cli, sqlite_url: str, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    make_pool(db.make_engine(sqlite_url, must_exist=False), contexts=6, systems=2, ranks=(0,))
    create_study(run_cli, sqlite_url, quota=3)
    with served(sqlite_url, tmp_path) as port:
        page = start(browser, port, prolific("P1"))
        label_by_keys(page, [(True, True), (False, False)])
        assert page.locator(".code").count() == 0
        before = item(page)
        page.keyboard.press("2")
        page.keyboard.press("Enter")
        next_item(page, before)
        code = page.locator(".code").inner_text()
        link = page.locator(".labeler a.submit").get_attribute("href")
        assert link == f"https://app.prolific.com/submissions/complete?cc={code}"
        page.context.close()
        again = start(browser, port, prolific("P1"))  # a revisit: the same code, no new item
        assert again.locator(".code").inner_text() == code
        again.context.close()
    listed = run_cli("study", "workers", "pilot", "--db", sqlite_url).output
    rows = list(csv.DictReader(io.StringIO(listed)))
    assert [(r["platform_id"], r["items"], r["completion_code"]) for r in rows] == [
        ("P1", "3", code)
    ]


def crowd(browser, ports: list[int], workers: int, quota: int) -> list[str]:  # type: ignore[no-untyped-def]
    """``workers`` pages from the study link, spread over the servers, answering in rounds:
    every page submits, then every page waits, so the answers reach the servers together.
    Returns the codes the pages show after their last item."""
    small = {"viewport": {"width": 800, "height": 700}}
    pages = [
        start(browser, ports[i % len(ports)], prolific(f"W{i}"), **small) for i in range(workers)
    ]
    for n in range(quota):
        shown = [item(p) for p in pages]
        assert all(shown), "a worker ran out of items before the quota"
        for i, page in enumerate(pages):
            page.keyboard.press("1" if (i + n) % 3 else "2")
            if (i + n) % 3:
                page.keyboard.press("3")
            page.keyboard.press("Enter")
        for page, before in zip(pages, shown, strict=True):
            next_item(page, before)
        codes = [p.locator(".code").count() for p in pages]
        assert codes == [int(n == quota - 1)] * workers  # the code after exactly N items
    found = [p.locator(".code").inner_text() for p in pages]
    for p in pages:
        p.context.close()
    return found


def check_crowd(url: str, codes: list[str], workers: int, quota: int, k: int) -> None:
    """Every label stored once, no item over k, every worker with exactly N labels."""
    engine = db.make_engine(url)
    with db.session_scope(engine) as s:
        per_worker = s.execute(
            select(Annotator.completion_code, func.count(Label.id))
            .join(Label, Label.annotator_id == Annotator.id)
            .group_by(Annotator.id)
        ).all()
        per_item = s.execute(select(func.count(Label.id)).group_by(Label.response_id)).scalars()
        assert max(per_item) <= k
        pairs = s.execute(select(Label.response_id, Label.annotator_id)).all()
        assert len(pairs) == len(set(pairs)) == workers * quota
    assert sorted(code for code, _n in per_worker) == sorted(codes)
    assert {n for _code, n in per_worker} == {quota} and len(set(codes)) == workers


def test_crowd_from_one_link_on_sqlite(browser, run_cli, sqlite_url: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    make_pool(db.make_engine(sqlite_url, must_exist=False), contexts=8, systems=2, ranks=(0,))
    create_study(run_cli, sqlite_url, quota=4, overlap=2)
    with served(sqlite_url, tmp_path) as port:
        codes = crowd(browser, [port], workers=6, quota=4)
    check_crowd(sqlite_url, codes, workers=6, quota=4, k=2)


def test_crowd_on_postgresql_behind_two_page_servers(
    browser, run_cli, pg_url: str, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    assert run_cli("init", "--db", pg_url).exit_code == 0
    make_pool(db.make_engine(pg_url), contexts=8, systems=2, ranks=(0,))
    create_study(run_cli, pg_url, quota=4, overlap=2)
    with served(pg_url, tmp_path) as one, served(pg_url, tmp_path) as two:
        codes = crowd(browser, [one, two], workers=6, quota=4)
    check_crowd(pg_url, codes, workers=6, quota=4, k=2)


def flow_workers(url: str, names: list[str], quota: int) -> list[tuple[str, int]]:
    """Study workers through ``flow`` (conftest's ``study_workers``), SSA answers at random."""

    def decide(task, rng):  # type: ignore[no-untyped-def]
        rid, sensible = task.response_id, rng.random() < 0.7
        return lambda engine, token: flow.answer(engine, token, rid, sensible, rng.random() < 0.5)

    return study_workers(url, prolific, names, decide)


@pytest.mark.slow
def test_64_workers_on_120000_items_behind_two_page_servers_on_postgresql(
    browser, run_cli, pg_url: str, tmp_path: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """8 browser pages (4 per server) and 56 workers in 8 processes label at once: every
    stored answer kept once, no item over k, every worker's quota exact."""
    # Streamlit's AppTest leaves the page as __main__; spawned workers would run it again.
    monkeypatch.setitem(sys.modules, "__main__", types.ModuleType("__main__"))
    quota, pages, processes, per_process = 8, 8, 8, 7
    assert run_cli("init", "--db", pg_url).exit_code == 0
    make_pool(db.make_engine(pg_url), contexts=30_000, systems=4, ranks=(0,))
    create_study(run_cli, pg_url, quota=quota, overlap=3)
    spawn = multiprocessing.get_context("spawn")
    names = [[f"F{p}-{i}" for i in range(per_process)] for p in range(processes)]
    with (
        served(pg_url, tmp_path) as one,
        served(pg_url, tmp_path) as two,
        ProcessPoolExecutor(processes, mp_context=spawn) as pool,
    ):
        running = [pool.submit(flow_workers, pg_url, group, quota) for group in names]
        codes = crowd(browser, [one, two], workers=pages, quota=quota)
        done = [worker for job in running for worker in job.result()]
    assert [stored for _, stored in done] == [quota] * processes * per_process
    check_crowd(pg_url, codes + [code for code, _ in done], pages + len(done), quota, k=3)
