"""The chat page in a real browser (Debian chromium, Playwright) with real bot processes: a
crowd worker chats with a tiny ruDialoGPT bot to the minimum and gets the code; bot output
shown as plain text; bad input refused; a missing bot process said; refresh and server
restart survived; replies reported."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from evaltool.annotation import chat
from evaltool.annotation.accounts import add_annotator
from evaltool.storage import db
from evaltool.storage.schema import Annotator, Chat, ChatBot, ChatTurn, Label

from .conftest import free_port, served, stop, transformers_serve
from .pages import item, label_by_keys, start
from .test_chat import campaign, chat_to
from .test_served import SAMPLING

pytestmark = pytest.mark.browser
NASTY = '<img src=x onerror="window.__xss=1"> **жирный** [ссылка](http://example.com)'


def bots(url: str, *args: str) -> subprocess.Popen:
    """``evaltool chat bots c [ARGS]``, once its bots are loaded."""
    env = {**os.environ, "EVALTOOL_DB": url}
    command = [sys.executable, "-m", "evaltool", "chat", "bots", "c", *args]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert proc.stdout is not None and "answering" in proc.stdout.readline().decode()
    return proc


def replies(page, n: int) -> None:  # type: ignore[no-untyped-def]
    """Wait until ``n`` bot replies are on screen."""
    page.locator(".turn.bot").nth(n - 1).wait_for(timeout=60_000)


def say(page, text: str) -> None:  # type: ignore[no-untyped-def]
    page.locator("textarea").fill(text)
    page.keyboard.press("Enter")


def test_a_study_worker_chats_with_a_tiny_bot_to_the_minimum_and_gets_the_code(
    browser, run_cli, tiny_model: Path, sqlite_url: str, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """Replies come without a reload; finish is offered at the minimum; the code is shown."""
    create = ["chat", "create", "c", "--bot", str(tiny_model), "--min-turns", "4", "--db"]
    assert run_cli(*create, sqlite_url).exit_code == 0
    study = ["study", "create", "s", "--platform", "prolific", "--items-per-worker", "1"]
    assert run_cli(*study, "--chat", "c", "--db", sqlite_url).exit_code == 0
    worker = bots(sqlite_url)
    try:
        with served(sqlite_url, tmp_path) as port:
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{port}/?study=s&PROLIFIC_PID=w1&STUDY_ID=x&SESSION_ID=y")
            page.locator('.chatter[data-view="chat"]').wait_for(timeout=30_000)
            page.evaluate("window.__same_page = true")
            replies(page, 1)
            assert page.locator('[data-action="finish"]').is_hidden()
            say(page, "как дела?")
            replies(page, 2)
            assert page.evaluate("window.__same_page === true")  # no reload
            assert page.locator(".turn.human").count() == 2  # the opening and this
            page.locator('[data-action="finish"]').click()
            code = page.locator(".code").inner_text(timeout=30_000)
            page.close()
    finally:
        stop(worker)
    with db.session_scope(db.make_engine(sqlite_url), readonly=True) as s:
        assert s.scalar(select(Annotator.completion_code)) == code


def test_bot_text_stays_text_bad_input_is_refused_and_the_chat_survives(
    browser, run_cli, sqlite_url: str, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """An echo bot repeats markup: shown as text. No bot process: the page says so and keeps
    the turn, answered when one starts. Refresh, server restart and reports."""
    assert (
        run_cli("chat", "create", "c", "--bot", "baseline:echo", "--db", sqlite_url).exit_code == 0
    )
    token = add_annotator(db.make_engine(sqlite_url), "me")
    link = f"?token={token}&chat=c"
    with served(sqlite_url, tmp_path, "--bot-timeout", "2") as port:
        page = browser.new_page(viewport={"width": 390, "height": 844})
        page.goto(f"http://127.0.0.1:{port}/{link}")
        page.locator(".typing").filter(has_text="не отвечает").wait_for(timeout=30_000)
        assert page.locator('[data-action="send"]').is_disabled()  # no writing while it waits
        worker = bots(sqlite_url)
        try:
            replies(page, 1)
            page.locator("textarea").fill("   ")
            assert page.locator('[data-action="send"]').is_disabled()
            assert page.locator("textarea").get_attribute("maxlength") == "1000"
            say(page, NASTY)
            replies(page, 2)
        finally:
            stop(worker)
        shown = page.locator(".turn.bot .text").nth(1)
        assert shown.inner_text() == NASTY
        assert page.evaluate("window.__xss") is None
        assert page.locator(".chatter img, .chatter a, .chatter strong").count() == 0
        page.locator('.turn.bot [data-report="offensive"]').nth(1).click()
        page.locator(".flagged").wait_for(timeout=30_000)
        wide = page.evaluate("document.documentElement.scrollWidth")
        assert wide <= 390  # nothing wider than the phone
        page.reload()
        replies(page, 2)
        page.close()
    with served(sqlite_url, tmp_path) as port:  # a restarted server
        page = browser.new_page()
        page.goto(f"http://127.0.0.1:{port}/{link}")
        replies(page, 2)
        assert page.locator(".turn").count() == 4
        page.close()
    with db.session_scope(db.make_engine(sqlite_url), readonly=True) as s:
        flags = s.scalars(select(ChatTurn.flag).order_by(ChatTurn.position)).all()
    assert flags == [None, None, None, "offensive"]


@pytest.mark.slow
def test_two_page_servers_and_two_bot_processes_over_postgresql_serve_8_chats(
    browser, run_cli, served_rudialogpt: Path, pg_url: str, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """A local bot and the same model behind ``transformers serve``; 8 Chromium pages, 4 on
    each of two page servers, chat at once while two bot processes answer: 4 chats per bot,
    every bot turn answered, each by exactly one process."""
    port = free_port()
    with transformers_serve(port):
        endpoint = f"http://127.0.0.1:{port}/v1"
        bots_ = [
            "--bot",
            f"local={served_rudialogpt}",
            "--bot",
            f"served={served_rudialogpt}@{endpoint}",
        ]
        create = ["chat", "create", "c", *bots_, "--prompt-format", "rudialogpt", *SAMPLING]
        create += ["--min-turns", "4", "--conversations", "4", "--db", pg_url]
        assert run_cli("init", "--db", pg_url).exit_code == 0
        made = run_cli(*create)
        assert made.exit_code == 0, made.output
        engine = db.make_engine(pg_url)
        tokens = [add_annotator(engine, f"p{i}") for i in range(8)]
        workers: list[subprocess.Popen] = []
        try:
            with served(pg_url, tmp_path) as one, served(pg_url, tmp_path) as two:
                pages = [browser.new_page() for _ in tokens]
                for i, (page, token) in enumerate(zip(pages, tokens, strict=True)):
                    page.goto(f"http://127.0.0.1:{(one, two)[i % 2]}/?token={token}&chat=c")
                    page.locator('.chatter[data-view="chat"]').wait_for(timeout=60_000)
                workers += [bots(pg_url, "--idle-exit", "5") for _ in range(2)]
                for page in pages:
                    replies(page, 1)
                for page in pages:
                    say(page, "как дела?")
                for page in pages:
                    replies(page, 2)
                    page.locator('[data-action="finish"]').click()
                for page in pages:
                    page.locator(".message").wait_for(timeout=30_000)
                    page.close()
            outputs = [w.communicate(timeout=120)[0].decode() for w in workers]
        finally:
            for w in workers:
                stop(w)
    answered = [int(re.search(r"(\d+) turns answered, 0 taken", o).group(1)) for o in outputs]  # type: ignore[union-attr]
    assert sum(answered) == 16, outputs
    with db.session_scope(engine, readonly=True) as s:
        per_bot = s.execute(
            select(ChatBot.id, func.count(Chat.id))
            .join(Chat, Chat.bot_id == ChatBot.id)
            .where(Chat.state == "finished")
            .group_by(ChatBot.id)
        ).all()
        turns = s.scalars(select(ChatTurn).where(ChatTurn.speaker == "bot")).all()
    assert sorted(n for _, n in per_bot) == [4, 4]
    assert len(turns) == 16 and all(t.state == "answered" and t.claimed_by for t in turns)


def test_raters_label_the_bot_turns_of_a_finished_chat_through_the_page(
    browser, sqlite_url: str, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """A finished chat of 12 turns: its 6 bot turns are items a rater labels by keys, each
    with the chat before it as its context, scrolled to its last turns; the chatter gets none
    of them."""
    engine = db.make_engine(sqlite_url)
    campaign(engine, min_turns=12, max_turns=12)
    chatter = add_annotator(engine, "chatter")
    chat_to(engine, chatter, 12)
    chat.finish(engine, chatter, "c")
    rater = add_annotator(engine, "rater")
    with served(sqlite_url, tmp_path) as port:
        page = start(browser, port, f"token={rater}", viewport={"width": 390, "height": 700})
        labelled, shown = [], []
        for i in range(6):
            shown.append(page.evaluate(CONTEXT))
            labelled += label_by_keys(page, [(True, i % 2 == 0)])
        assert sorted(s["turns"] for s in shown) == [1, 3, 5, 7, 9, 11]
        assert all(s["bottom"] <= 2 for s in shown)  # the last turns in view
        assert any(s["hidden"] > 0 for s in shown)  # a long chat scrolls
        assert item(page) == ""  # nothing left for this rater
        page.context.close()
        page = start(browser, port, f"token={chatter}")
        assert item(page) == ""  # never one's own chat
        page.context.close()
    with db.session_scope(engine, readonly=True) as s:
        bot_turns = select(ChatTurn.response_id).where(ChatTurn.speaker == "bot")
        items = {str(r) for r in s.scalars(bot_turns)}
        assert set(labelled) == items and len(items) == 6
        got = s.execute(select(Label.response_id, Label.sensible, Label.specific)).all()
    assert {str(r) for r, _, _ in got} == items and all(sensible for _, sensible, _ in got)


# In the page: the labelling task's chat context, its turns and how far its end is from view.
CONTEXT = """() => {
  const host = [...document.querySelectorAll("*")]
    .find((e) => e.shadowRoot?.querySelector(".labeler"));
  const box = host.shadowRoot.querySelector(".labeler .chat");
  return { turns: box.children.length, hidden: box.scrollHeight - box.clientHeight,
           bottom: box.scrollHeight - box.scrollTop - box.clientHeight };
}"""
