"""Helpers for driving the labelling page in Chromium (the tests' fixtures are in conftest)."""

from __future__ import annotations

START = 'button:has-text("Понятно, начать")'
# The component draws in a shadow root; ``item`` marks its host so scripts can find it.
FIND_HOST = """() => {
  const host = [...document.querySelectorAll("*")]
    .find((e) => e.shadowRoot?.querySelector(".labeler"));
  host.setAttribute("data-labeler-host", "");
}"""
NEXT = """(before) => {
  const host = [...document.querySelectorAll("*")]
    .find((e) => e.shadowRoot?.querySelector(".labeler"));
  const el = host && host.shadowRoot.querySelector(".labeler");
  return el && el.dataset.view && el.dataset.item !== before
    && el.getAttribute("aria-busy") === "false";
}"""


def open_task(browser, port: int, query: str, **context):  # type: ignore[no-untyped-def]
    """A fresh browser context on a link (``token=...`` or a study's query), once the page
    shows the instructions (a first visit) or the task."""
    ctx = browser.new_context(**context)
    page = ctx.new_page()
    page.goto(f"http://127.0.0.1:{port}/?{query}")
    page.locator(f"{START}, .labeler[data-view]").first.wait_for(timeout=30_000)
    return page


def start(browser, port: int, query: str, **context):  # type: ignore[no-untyped-def]
    """Open the link and get past the instructions if they show, to the first item."""
    page = open_task(browser, port, query, **context)
    if page.locator(START).count():
        page.locator(START).click()
    item(page)
    return page


def item(page) -> str:  # type: ignore[no-untyped-def]
    """The id of the item on screen ("" on a message), once the page is idle."""
    page.locator('.labeler[aria-busy="false"][data-view]').wait_for(timeout=30_000)
    page.evaluate(FIND_HOST)
    return page.locator(".labeler").get_attribute("data-item") or ""


def next_item(page, before: str) -> str:  # type: ignore[no-untyped-def]
    """Wait until the reply to an answer is on screen; its item id."""
    page.wait_for_function(NEXT, arg=before, timeout=30_000)
    return item(page)


def label_by_keys(page, answers: list[tuple[bool, bool]]) -> list[str]:  # type: ignore[no-untyped-def]
    """Label items with the keys alone (1/2, 3/4, Enter); the ids labelled."""
    done = []
    for sensible, specific in answers:
        before = item(page)
        page.keyboard.press("1" if sensible else "2")
        if sensible:
            page.locator('[data-answer="specific-yes"]').wait_for()
            page.keyboard.press("3" if specific else "4")
        page.keyboard.press("Enter")
        next_item(page, before)
        done.append(before)
    return done
