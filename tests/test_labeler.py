"""The labelling component in a real browser (Debian chromium, Playwright): keyboard-only and
touch-only labelling, undo and skip, model output shown as plain text, the layout at 1280x800
and 390x844, and axe-core's accessibility rules."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from evaltool.annotation.accounts import add_annotator
from evaltool.storage import db
from evaltool.storage.schema import Assignment, Label

from .conftest import make_pool, need, served
from .pages import item, next_item, open_task, start

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[1]
AXE = ROOT / ".node" / "node_modules" / "axe-core" / "axe.min.js"
# Ordinary turns: about the length of the shipped contexts' longer lines.
TURN = "Привет! Я вчера вернулся из поездки по Карелии, там очень красивые озёра и леса. {i}"
REPLY = "Звучит здорово! А где именно вы были, на Ладоге или в Кижах? Я давно хочу туда съездить."
NASTY = [
    '<img src=x onerror="window.__xss=1">',
    "<script>window.__xss=2</script>",
    "**жирный** [ссылка](http://example.com) # заголовок",
]


@pytest.fixture
def page_server(sqlite_url: str, tmp_path: Path) -> Iterator[tuple[str, int]]:
    """Four items of three ordinary turns each (one system) behind a running page."""
    make_pool(
        db.make_engine(sqlite_url),
        contexts=4,
        systems=1,
        ranks=(0,),
        turns=lambda i: [TURN.format(i=i), "Расскажите подробнее, что понравилось?", TURN],
        text=lambda _name, i: f"{REPLY} {i}",
    )
    with served(sqlite_url, tmp_path) as port:
        yield sqlite_url, port


def labels(url: str) -> list[tuple[int, bool, bool]]:
    with db.session_scope(db.make_engine(url)) as s:
        rows = s.scalars(select(Label).order_by(Label.id)).all()
        return [(r.response_id, r.sensible, r.specific) for r in rows]


def test_keyboard_only_labelling_with_undo_and_skip(browser, page_server) -> None:  # type: ignore[no-untyped-def]
    url, port = page_server
    page = open_task(browser, port, f"token={add_annotator(db.make_engine(url), 'kira')}")
    for _ in range(10):  # Tab to the instructions' button, Enter to start
        page.keyboard.press("Tab")
        focused = "document.activeElement.tagName === 'BUTTON' && document.activeElement.innerText"
        if "Понятно" in (page.evaluate(focused) or ""):
            break
    page.keyboard.press("Enter")
    first = item(page)
    page.keyboard.press("1")
    page.locator('[data-answer="specific-yes"]').wait_for()
    page.keyboard.press("3")
    page.keyboard.press("Enter")
    second = next_item(page, first)
    page.keyboard.press("U")  # undo: the first item comes back
    assert next_item(page, second) == first
    page.keyboard.press("2")
    page.keyboard.press("Enter")
    second = next_item(page, first)
    page.keyboard.press("2")
    page.keyboard.press("Enter")
    third = next_item(page, second)
    # skip, by keyboard: focus the skip control, choose a reason, confirm
    page.locator('[data-action="skip"]').focus()
    page.keyboard.press("Enter")
    page.locator(".skip select").wait_for()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    fourth = next_item(page, third)
    assert fourth not in ("", first, second, third)
    assert labels(url) == [(int(first), False, False), (int(second), False, False)]
    with db.session_scope(db.make_engine(url)) as s:
        skipped = s.scalars(select(Assignment).where(Assignment.state == "skipped")).one()
        assert skipped.response_id == int(third) and skipped.reason
    page.context.close()


def test_touch_only_labelling_on_a_phone(browser, page_server) -> None:  # type: ignore[no-untyped-def]
    url, port = page_server
    phone = {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True}
    page = open_task(browser, port, f"token={add_annotator(db.make_engine(url), 'tom')}", **phone)
    page.get_by_role("button", name="Понятно, начать").tap()
    first = item(page)
    page.locator('[data-answer="sensible-yes"]').tap()
    page.locator('[data-answer="specific-no"]').tap()
    page.locator(".submit").tap()
    second = next_item(page, first)
    page.locator('[data-answer="sensible-no"]').tap()
    page.locator(".submit").tap()
    next_item(page, second)
    assert labels(url) == [(int(first), True, False), (int(second), False, False)]
    page.context.close()


# Where the task's parts lie and whether anything scrolls, as the page itself measures them.
LAYOUT = """() => {
  const root = document.querySelector("[data-labeler-host]").shadowRoot;
  const box = (sel) => [...root.querySelectorAll(sel)].map((e) => e.getBoundingClientRect());
  const all = [...document.querySelectorAll("*")];
  const wide = all.some((e) => e.scrollWidth > e.clientWidth + 1
    && getComputedStyle(e).overflowX !== "hidden");
  const shown = [...root.querySelectorAll("button, select")].filter((e) => e.offsetParent);
  return {
    parts: [".turn", ".response", "[data-answer]", ".submit"].flatMap(box)
      .map((r) => [r.top, r.bottom, r.left, r.right]),
    response: box(".response")[0].bottom,
    buttons: shown.map((e) => [e.offsetWidth, e.offsetHeight, e.textContent]),
    scrolled: all.some((e) => e.scrollTop > 0) || window.scrollY > 0,
    wide,
    docWidth: document.documentElement.scrollWidth,
  };
}"""


def test_whole_task_fits_a_laptop_and_the_response_a_phone_screen(browser, page_server) -> None:  # type: ignore[no-untyped-def]
    url, port = page_server
    token = add_annotator(db.make_engine(url), "lena")
    page = start(browser, port, f"token={token}", viewport={"width": 1280, "height": 800})
    page.keyboard.press("1")  # both questions and submit on screen
    page.locator('[data-answer="specific-yes"]').wait_for()
    laptop = page.evaluate(LAYOUT)
    assert not laptop["scrolled"]
    assert all(top >= 0 and bottom <= 800 for top, bottom, _l, _r in laptop["parts"])
    page.context.close()
    phone = {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True}
    page = start(browser, port, f"token={token}", **phone)
    page.keyboard.press("1")
    page.locator('[data-answer="specific-yes"]').wait_for()
    mobile = page.evaluate(LAYOUT)
    assert mobile["response"] <= 844 and not mobile["scrolled"]
    assert not mobile["wide"] and mobile["docWidth"] <= 390
    assert all(w >= 44 and h >= 44 for w, h, _text in mobile["buttons"]), mobile["buttons"]
    assert all(left >= 0 and right <= 390 for _t, _b, left, right in mobile["parts"])
    page.context.close()


def test_model_output_and_contexts_never_become_markup(browser, sqlite_url, tmp_path) -> None:  # type: ignore[no-untyped-def]
    make_pool(
        db.make_engine(sqlite_url),
        contexts=3,
        systems=1,
        ranks=(0,),
        turns=lambda i: [NASTY[(i + 1) % 3], NASTY[(i + 2) % 3]],
        text=lambda _name, i: NASTY[i],
    )
    token = add_annotator(db.make_engine(sqlite_url), "xss")
    with served(sqlite_url, tmp_path) as port:
        page = start(browser, port, f"token={token}")
        before = item(page)
        for n in range(3):
            shown = page.locator(".labeler .text").all_inner_texts()
            assert sorted(shown) == sorted(NASTY)  # each text literally, in the chat or reply
            found = page.locator(".labeler img, .labeler script, .labeler a, .labeler strong")
            assert found.count() == 0
            assert page.evaluate("window.__xss") is None
            if n < 2:
                page.keyboard.press("2")
                page.keyboard.press("Enter")
                before = next_item(page, before)
        page.context.close()


def test_accessibility_rules_and_visible_focus(browser, page_server) -> None:  # type: ignore[no-untyped-def]
    need(AXE.exists(), f"axe-core is not installed ({AXE}): run `make axe`")
    url, port = page_server
    page = start(browser, port, f"token={add_annotator(db.make_engine(url), 'ally')}")
    page.keyboard.press("1")
    page.locator('[data-answer="specific-yes"]').wait_for()
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        """async () => {
          const inside = { fromShadowDom: ["[data-labeler-host]", ".labeler"] };
          const r = await axe.run({ include: [inside] },
                                  { runOnly: ["wcag2a", "wcag2aa", "wcag21aa", "best-practice"] });
          return { violations: r.violations.map((v) => `${v.id}: ${v.nodes.length} (${v.help})`),
                   passes: r.passes.map((p) => p.id) };
        }"""
    )
    assert result["violations"] == []
    assert {"color-contrast", "button-name", "aria-allowed-attr"} <= set(result["passes"])
    page.keyboard.press("Tab")
    outline = page.evaluate(
        """() => {
          const host = document.querySelector("[data-labeler-host]");
          const el = host.shadowRoot.activeElement;
          const s = el && getComputedStyle(el);
          return s ? [el.tagName, s.outlineStyle, s.outlineWidth] : null;
        }"""
    )
    assert outline and outline[0] == "BUTTON" and outline[1] != "none", outline
    page.context.close()
