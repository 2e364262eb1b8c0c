"""Screenshots of the labelling page, the pairwise page and the chat page for the README,
made from the demo (`make screenshots`).

Builds the demo database in a temporary folder, serves the page, and photographs one item with
both questions open in Chromium at 1280x800 (a laptop) and 390x844 (a phone, touch), a pair
item from a Prolific study link (A chosen), then a chat with the demo's generic baseline as the
bot (answered by `evaltool chat bots`), into docs/img/. Needs Debian's chromium and
playwright, like the browser tests.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.chromium import ARGS, CHROMIUM  # noqa: E402

OUT = ROOT / "docs" / "img"
SIZES = {"laptop": (1280, 800, False), "phone": (390, 844, True)}


def evaltool(*args: str) -> str:
    cmd = [sys.executable, "-m", "evaltool", *args]
    return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout


def each_size(url: str, name: str) -> Iterator[tuple[bool, Any]]:
    """The page at ``url`` at each size in turn, (first size?, page); photographed into
    docs/img/NAME-WxH.png when the caller hands it back."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        for first, (width, height, touch) in zip((True, False), SIZES.values(), strict=True):
            ctx = browser.new_context(
                viewport={"width": width, "height": height}, has_touch=touch, is_mobile=touch
            )
            page = ctx.new_page()
            page.goto(url)
            yield first, page
            page.mouse.move(0, 0)
            time.sleep(0.3)
            page.screenshot(path=str(OUT / f"{name}-{width}x{height}.png"))
            ctx.close()
        browser.close()


def shoot(port: int, token: str) -> None:
    """One item with both questions open."""
    for first, page in each_size(f"http://127.0.0.1:{port}/?token={token}", "page"):
        if first:  # the instructions come once per annotator
            start = page.get_by_role("button", name="Понятно, начать")
            start.wait_for(timeout=60_000)
            start.click()
        page.locator('.labeler[data-view="task"]').wait_for(timeout=60_000)
        page.keyboard.press("1")
        page.locator('[data-answer="specific-yes"]').wait_for()


def shoot_pairs(port: int) -> None:
    """A pair item from a Prolific study link, A chosen and a reason typed."""
    url = f"http://127.0.0.1:{port}/?study=arena&PROLIFIC_PID=shot&STUDY_ID=S&SESSION_ID=X"
    for first, page in each_size(url, "pairs"):
        if first:
            start = page.get_by_role("button", name="Понятно, начать")
            start.wait_for(timeout=60_000)
            start.click()
        page.locator('.labeler[data-view="task"] .side-left').wait_for(timeout=60_000)
        page.keyboard.press("a")
        if first:
            page.locator("input.reason").fill("B не отвечает на вопрос")


def shoot_chat(port: int, token: str) -> None:
    """A chat of three messages at both sizes (the same chat: it survives a new page)."""
    url = f"http://127.0.0.1:{port}/?token={token}&chat=demo-chat"
    for first, page in each_size(url, "chat"):
        page.locator(".turn.bot").first.wait_for(timeout=60_000)
        for i, text in enumerate(["Как прошли выходные?", "А что ты любишь читать?"] * first):
            page.locator("textarea").fill(text)
            page.keyboard.press("Enter")
            page.locator(".turn.bot").nth(i + 1).wait_for(timeout=60_000)
        page.locator("textarea").fill("Расскажи про свой город")


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        evaltool("demo", "--no-serve", "--dir", tmp)
        url = f"sqlite:///{Path(tmp) / 'evaltool.db'}"
        out = evaltool("annotators", "add", "screenshots", "--db", url)
        token = re.search(r"token=([\w-]+)", out).group(1)  # type: ignore[union-attr]
        evaltool("chat", "create", "demo-chat", "--bot", "baseline:generic", "--db", url)
        evaltool("pairs", "make", "generic", "reference", "shuffled", "--comparisons", "20",
                 "--db", url)  # fmt: skip
        evaltool(
            "study", "create", "arena", "--platform", "prolific", "--task", "pairs",
            "--items-per-worker", "10", "--db", url,
        )  # fmt: skip
        out = evaltool("annotators", "add", "chatter", "--db", url)
        chatter = re.search(r"token=([\w-]+)", out).group(1)  # type: ignore[union-attr]
        port = 8765
        env = {**os.environ, "EVALTOOL_DB": url}
        cmd = [sys.executable, "-m", "evaltool", "annotate", "--port", str(port)]
        server = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL)
        bots = [sys.executable, "-m", "evaltool", "chat", "bots", "demo-chat"]
        worker = subprocess.Popen(bots, env=env, stdout=subprocess.DEVNULL)
        try:
            for _ in range(200):
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2)
                    break
                except OSError:
                    time.sleep(0.3)
            shoot(port, token)
            shoot_pairs(port)
            shoot_chat(port, chatter)
        finally:
            for proc in (server, worker):
                proc.terminate()
                proc.wait(timeout=20)
    print("\n".join(str(p.relative_to(ROOT)) for p in sorted(OUT.glob("*.png"))))


if __name__ == "__main__":
    main()
