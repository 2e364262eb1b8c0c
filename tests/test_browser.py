"""A real browser (Debian chromium driven by Playwright) labels items on the served page."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import select

from evaltool.annotation.accounts import add_annotator
from evaltool.storage import db
from evaltool.storage.schema import Label

from .conftest import _free_port, make_pool, need, serve

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]

pytestmark = pytest.mark.browser


@pytest.fixture
def browser():  # type: ignore[no-untyped-def]
    need(os.path.exists(CHROMIUM), "Debian chromium is not installed (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def settle(page) -> None:  # type: ignore[no-untyped-def]
    """Wait until the page's script run is over: a click on a stale element gets lost."""
    page.wait_for_selector(
        '[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=30_000
    )


def open_link(browser, port: int, token: str):  # type: ignore[no-untyped-def]
    """Open a personal link and get past the instructions shown at first login."""
    page = browser.new_page()
    page.goto(f"http://127.0.0.1:{port}/?token={token}")
    start = page.get_by_role("button", name="Понятно, начать")
    start.wait_for(timeout=30_000)
    settle(page)
    start.click()
    return page


def label_items(page, answers: list[tuple[bool, bool]], done: int = 0) -> None:  # type: ignore[no-untyped-def]
    """Answer items on an open page by clicking, as a person would, waiting for each step."""
    for i, (sensible, specific) in enumerate(answers):
        page.get_by_text(f"Размечено {done + i},").wait_for(timeout=30_000)
        settle(page)
        buttons = page.locator("button")
        buttons.filter(has_text="Да" if sensible else "Нет").first.click()
        if sensible:
            page.get_by_text("Специфичный ли ответ").wait_for(timeout=30_000)
            settle(page)
            buttons.filter(has_text="Да" if specific else "Нет").nth(1).click()
        submit = page.locator("button:not([disabled])", has_text="Отправить")
        submit.wait_for(timeout=30_000)
        settle(page)
        submit.click()
    page.get_by_text(f"Размечено {done + len(answers)},").wait_for(timeout=30_000)
    settle(page)


def test_annotator_labels_items_by_mouse_and_keyboard_in_chromium(
    browser, sqlite_url: str, tmp_path: Path
) -> None:
    engine = db.make_engine(sqlite_url)
    make_pool(
        engine,
        contexts=4,
        systems=1,
        ranks=(0,),
        turns=lambda i: [f"Вопрос номер {i}?"],
        text=lambda _name, i: f"Ответ {i}",
    )
    token = add_annotator(engine, "anna")
    port = _free_port()
    proc = serve(sqlite_url, port, tmp_path)
    try:
        page = open_link(browser, port, token)
        try:
            label_items(page, [(True, True), (False, False), (True, False)])
            page.keyboard.press("2")  # the fourth by keyboard alone: not sensible, submit
            page.locator("button:not([disabled])", has_text="Отправить").wait_for(timeout=30_000)
            settle(page)
            page.keyboard.press("Enter")
            page.get_by_text("Все доступные вам ответы размечены").wait_for(timeout=30_000)
        finally:
            page.screenshot(path=str(tmp_path / "page.png"))
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    with db.session_scope(engine) as s:
        labels = s.scalars(select(Label).order_by(Label.id)).all()
        assert [(lab.sensible, lab.specific) for lab in labels] == [
            (True, True),
            (False, False),
            (True, False),
            (False, False),
        ]
