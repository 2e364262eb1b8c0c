"""Benchmark: the annotation page in Chromium, the page before this round beside today's.

Both pages run the same way: `evaltool demo --no-serve` makes the demo database, N annotators
are added, `evaltool annotate` serves the page and N Chromium pages (Playwright, one browser)
label items at once, each pausing --think seconds (exponential, mean 3 s) before answering: a
fast worker, 20 items a minute, faster than anyone reads three turns and a reply. At --think 1
the 16 Chromium pages alone need more CPU than this 2-core machine has (about 85 ms of browser
and 40 ms of server CPU per item); a real crowd's browsers run on its own devices.

Per page kind it prints the websocket messages the browser sent per item, the time from submit
to the next item on screen (p50/p95), and the whole item from first answer to the next item
(p50). The old page is commit --baseline (the tree the issue measured), unpacked with `git
archive` and run from its own sources. Targets: one message per item, submit -> next p95 under
150 ms with 1 page and under 300 ms with 16.

    .venv/bin/python bench/page_latency.py [--pages 1 16] [--items 20] [--think 3.0]

Needs Debian's chromium and the playwright package (both in CI's set-up).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.chromium import ARGS, CHROMIUM  # noqa: E402

SETUP = 300_000  # ms: sixteen pages of the old page opening at once take minutes here


@dataclass
class Sample:
    """What one page measured: seconds per submit and per item, messages sent per item."""

    submit: list[float] = field(default_factory=list)
    item: list[float] = field(default_factory=list)
    messages: list[int] = field(default_factory=list)
    lost: int = 0  # submits whose next item never came (the page stopped there)


def evaltool(tree: Path, *args: str, env: dict[str, str] | None = None) -> str:
    """Run one version's CLI from its own sources; returns its output."""
    env = {**os.environ, **(env or {}), "PYTHONPATH": str(tree)}
    out = subprocess.run(
        [sys.executable, "-m", "evaltool", *args],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout


def unpack(commit: str, into: Path) -> Path:
    """The tree of an earlier commit, for its page to run from its own sources."""
    archive = into / "old.tar"
    with archive.open("wb") as f:
        subprocess.run(["git", "archive", commit], cwd=ROOT, stdout=f, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into / "old", filter="data")
    return into / "old"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prepare(tree: Path, folder: Path, pages: int) -> tuple[str, list[str]]:
    """A fresh demo database and one annotator per page; returns its URL and their tokens."""
    evaltool(tree, "demo", "--no-serve", "--dir", str(folder))
    url = f"sqlite:///{folder / 'evaltool.db'}"
    tokens = []
    for i in range(pages):
        out = evaltool(tree, "annotators", "add", f"bench-{i}", "--db", url)
        tokens.append(re.search(r"token=([\w-]+)", out).group(1))  # type: ignore[union-attr]
    return url, tokens


def serve(tree: Path, url: str, port: int) -> subprocess.Popen[bytes]:
    """That version's `evaltool annotate`; returns once Streamlit's health check answers."""
    env = {**os.environ, "EVALTOOL_DB": url, "PYTHONPATH": str(tree)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "evaltool", "annotate", "--port", str(port)],
        cwd=tree,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # the old `annotate` starts Streamlit as a child: stop both
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2):
                return proc
        except OSError:
            time.sleep(0.3)
    stop(proc)
    raise SystemExit("the annotation page did not start")


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop a server and whatever it started."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    except ProcessLookupError:
        pass


async def settle(page, timeout: int = 60_000) -> None:  # type: ignore[no-untyped-def]
    """Wait for the old page's script run to end: a click during a run can get lost."""
    await page.wait_for_selector(
        '[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=timeout
    )


# Timestamps taken in the page itself, so the figures leave out Playwright's own delays: the
# moment submit is pressed or clicked, and the first animation frame that shows the next item.
STAMP_SUBMIT = """
window.__sent = null;
document.addEventListener("keydown", (e) => {
  if (e.key === "Enter") window.__sent = performance.now();
}, true);
document.addEventListener("click", (e) => {
  const b = e.target.closest && e.target.closest("button");
  if (b && b.innerText.includes("Отправить")) window.__sent = performance.now();
}, true);
"""
NEXT_SHOWN = """([kind, arg]) => new Promise((resolve) => {
  let target, ready;
  if (kind === "old") {
    target = document.querySelector('[data-testid="stApp"]');
    ready = () => target.dataset.testScriptState === "notRunning"
      && target.textContent.includes(arg);
  } else {
    // The component draws in a shadow root; its host is found once.
    if (!window.__host || !window.__host.isConnected) {
      window.__host = [...document.querySelectorAll("*")]
        .find((e) => e.shadowRoot && e.shadowRoot.querySelector(".labeler"));
    }
    target = window.__host.shadowRoot;
    ready = () => {
      const el = target.querySelector(".labeler");
      return el && el.dataset.item !== arg && el.getAttribute("aria-busy") === "false";
    };
  }
  const shown = () => requestAnimationFrame(() => resolve(performance.now() - window.__sent));
  if (ready()) return shown();
  const watch = new MutationObserver(() => { if (ready()) { watch.disconnect(); shown(); } });
  const watched = ["data-test-script-state", "aria-busy", "data-item"];
  watch.observe(target, { subtree: true, attributes: true, attributeFilter: watched });
})"""


async def shown(page, kind: str, arg: str) -> float:  # type: ignore[no-untyped-def]
    """Wait for the next item on screen; seconds from submit to its first frame, by the page's
    own clock (a MutationObserver, then the next animation frame: no polling)."""
    ms = await asyncio.wait_for(page.evaluate(NEXT_SHOWN, [kind, arg]), timeout=60)
    return float(ms) / 1000


async def old_item(page, sensible: bool, specific: bool, done: int, sample: Sample) -> None:  # type: ignore[no-untyped-def]
    """The old page: a button per answer, each a rerun, then submit."""
    start = time.perf_counter()
    buttons = page.locator("button")
    await buttons.filter(has_text="Да" if sensible else "Нет").first.click()
    if sensible:
        await page.get_by_text("Специфичный ли ответ").wait_for(timeout=60_000)
        await settle(page)
        await buttons.filter(has_text="Да" if specific else "Нет").nth(1).click()
    submit = page.locator("button:not([disabled])", has_text="Отправить")
    await submit.wait_for(timeout=60_000)
    await settle(page)
    await submit.click()
    sample.submit.append(await shown(page, "old", f"Размечено {done + 1},"))
    sample.item.append(time.perf_counter() - start)


async def new_item(page, sensible: bool, specific: bool, _done: int, sample: Sample) -> None:  # type: ignore[no-untyped-def]
    """Today's page: keys 1/2, then 3/4, then Enter; the next item comes with the reply."""
    before = await page.locator(".labeler").get_attribute("data-item")
    start = time.perf_counter()
    await page.keyboard.press("1" if sensible else "2")
    if sensible:
        await page.keyboard.press("3" if specific else "4")
    await page.keyboard.press("Enter")
    sample.submit.append(await shown(page, "new", before or ""))
    sample.item.append(time.perf_counter() - start)


try:
    from playwright.async_api import TimeoutError as PlaywrightTimeout
except ImportError:  # reported when the benchmark starts its browser
    PlaywrightTimeout = TimeoutError  # type: ignore[misc,assignment]


async def annotator(
    browser, port: int, token: str, kind: str, items: int, think: float, seed: int
) -> Sample:  # type: ignore[no-untyped-def]
    """One person on one page: open the link, pass the instructions, label `items`."""
    rng = random.Random(seed)
    page = await browser.new_page(viewport={"width": 1280, "height": 800})
    await page.add_init_script(STAMP_SUBMIT)
    sent: list[int] = [0]
    page.on("websocket", lambda ws: ws.on("framesent", lambda _f: sent.__setitem__(0, sent[0] + 1)))
    await page.goto(f"http://127.0.0.1:{port}/?token={token}", timeout=SETUP)
    start = page.get_by_role("button", name="Понятно, начать")
    await start.wait_for(timeout=SETUP)
    await settle(page, SETUP)
    await start.click()
    if kind == "new":
        await page.locator(".labeler[data-view=task]").wait_for(timeout=SETUP)
    else:
        await page.get_by_text("Размечено 0,").wait_for(timeout=SETUP)
    await settle(page, SETUP)
    sample = Sample()
    step = new_item if kind == "new" else old_item
    for done in range(items):
        await asyncio.sleep(rng.expovariate(1 / think) if think else 0)
        sensible = rng.random() < 0.7
        before = sent[0]
        try:
            await step(page, sensible, rng.random() < 0.6, done, sample)
        except (TimeoutError, PlaywrightTimeout):
            sample.lost += 1
            break
        sample.messages.append(sent[0] - before)
    await page.close()
    return sample


async def crowd(port: int, tokens: list[str], kind: str, items: int, think: float) -> Sample:
    """All pages at once in one browser; their samples pooled."""
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            parts = await asyncio.gather(
                *(annotator(browser, port, t, kind, items, think, i) for i, t in enumerate(tokens))
            )
        finally:
            await browser.close()
    pooled = Sample()
    for part in parts:
        pooled.submit += part.submit
        pooled.item += part.item
        pooled.messages += part.messages
        pooled.lost += part.lost
    return pooled


def measure(tree: Path, kind: str, pages: int, items: int, think: float, tmp: Path) -> Sample:
    folder = tmp / f"{kind}-{pages}"
    url, tokens = prepare(tree, folder, pages)
    port = free_port()
    server = serve(tree, url, port)
    try:
        return asyncio.run(crowd(port, tokens, kind, items, think))
    finally:
        stop(server)


def row(kind: str, pages: int, s: Sample) -> str:
    ms = np.array(s.submit) * 1000
    return (
        f"{kind:<4} {pages:>5} {np.mean(s.messages):>9.2f} {np.percentile(ms, 50):>7.0f} "
        f"{np.percentile(ms, 95):>7.0f} {np.median(s.item) * 1000:>9.0f} {len(ms):>6} {s.lost:>5}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pages", type=int, nargs="+", default=[1, 16])
    ap.add_argument("--items", type=int, default=20, help="Items each page labels.")
    ap.add_argument("--think", type=float, default=3.0, help="Mean pause before answering, s.")
    ap.add_argument("--baseline", default="fadb31e", help="Commit of the old page.")
    ap.add_argument("--only", choices=["old", "new"], help="Measure one page kind alone.")
    args = ap.parse_args()
    if not Path(CHROMIUM).exists():
        raise SystemExit("Debian chromium is needed: apt-get install chromium")
    with tempfile.TemporaryDirectory(prefix="evaltool-page-") as name:
        tmp = Path(name)
        trees = {"old": unpack(args.baseline, tmp), "new": ROOT}
        if args.only:
            trees = {args.only: trees[args.only]}
        print(f"think {args.think} s, {args.items} items per page; submit -> next item, ms")
        print("page pages  msgs/item     p50     p95  item p50  items  lost")
        results = {}
        for pages in args.pages:
            for kind, tree in trees.items():
                results[kind, pages] = measure(tree, kind, pages, args.items, args.think, tmp)
                print(row(kind, pages, results[kind, pages]), flush=True)
        for pages in args.pages if not args.only else []:
            old, new = results["old", pages], results["new", pages]
            ratio = np.percentile(old.submit, 95) / np.percentile(new.submit, 95)
            print(f"{pages} pages: submit -> next p95 {ratio:.1f}x faster than the old page")


if __name__ == "__main__":
    main()
