"""Benchmark: the chat page's own delay, 16 chats at once, in Chromium.

A tiny ruDialoGPT-format model answers as two bots of one campaign: loaded by the bot process
(local) and behind ``transformers serve`` (served). ``evaltool annotate`` serves the chat page
and N Chromium pages (Playwright, one browser) chat at once, each sending --turns messages
after a pause to read and type (exponential, mean --think seconds: a fast typist). Per
message it measures the time from Enter to the reply in the page (the moment its row enters
the DOM, seen by a MutationObserver in the page: Playwright's own waiting polls a page that is
not in front only now and then, which timed Playwright, not the page), and subtracts the bot's
own generation time (stored with the reply): what is left is evaltool's overhead (the page,
the database, the bot process's lease and polling, a turn waiting for a free slot). It splits
the overhead's p95 into Enter to the turn stored, stored to the reply stored (less the
generation), and the reply stored to the row in the page. Baseline in the same run: the
generation time itself. Target: overhead p95 at most 300 ms.

    .venv/bin/python bench/chat_latency.py [--pages 16] [--turns 5]

Needs Debian's chromium and the playwright package (both in CI's set-up).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from datetime import UTC
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from page_latency import evaltool, free_port, serve, stop  # noqa: E402
from served import start_server  # noqa: E402
from sqlalchemy import select  # noqa: E402

from evaltool.storage import db  # noqa: E402
from evaltool.storage.schema import (  # noqa: E402
    Annotator,
    Chat,
    ChatBot,
    ChatTurn,
)
from tests.chromium import ARGS, CHROMIUM  # noqa: E402
from tests.golden import tiny  # noqa: E402

SAMPLING = ["--num-beams", "1", "--no-repeat-ngram-size", "0", "--top-k", "0"]
SAMPLING += ["--repetition-penalty", "1.0", "--max-new-tokens", "12", "--num-return-sequences", "1"]


# In the page: the time the N-th bot turn is first in the DOM (a MutationObserver, which runs
# in pages that are not in front, unlike animation frames; the component draws in a shadow
# root).
WATCH = """(n) => {
  window.__drawn = null;
  const seen = new MutationObserver(() => watch());
  const watch = () => {
    const roots = [document];
    for (const host of document.querySelectorAll("*")) {
      if (host.shadowRoot) roots.push(host.shadowRoot);
    }
    if (roots.reduce((k, r) => k + r.querySelectorAll(".turn.bot").length, 0) >= n) {
      window.__drawn = Date.now();
      seen.disconnect();
    } else for (const root of roots) seen.observe(root, { childList: true, subtree: true });
  };
  watch();
}"""


def prepare(folder: Path, pages: int, endpoint: str) -> tuple[str, list[str], subprocess.Popen]:
    """The model, the campaign with a local and a served bot, one chatter per page, and the
    bot process (started once its bots are loaded)."""
    model = folder / "tiny"
    tiny.build_model(0, 4.0).save_pretrained(model)
    tiny.build_tokenizer().save_pretrained(model)
    url = f"sqlite:///{folder / 'chat.db'}"
    evaltool(ROOT, "init", "--db", url)
    bots = ["--bot", f"local={model}", "--bot", f"served={model}@{endpoint}"]
    bots += ["--prompt-format", "rudialogpt"]
    evaltool(ROOT, "chat", "create", "lat", *bots, *SAMPLING, "--conversations", "100", "--db", url)
    tokens = []
    for i in range(pages):
        out = evaltool(ROOT, "annotators", "add", f"chatter-{i}", "--db", url)
        tokens.append(re.search(r"token=([\w-]+)", out).group(1))  # type: ignore[union-attr]
    env = {**os.environ, "EVALTOOL_DB": url, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "evaltool", "chat", "bots", "lat"]
    worker = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert worker.stdout is not None and "answering" in worker.stdout.readline().decode()
    return url, tokens, worker


async def chatter(
    browser, port: int, token: str, turns: int, think: float, seed: int
) -> list[tuple[int, float, float]]:  # type: ignore[no-untyped-def]
    """One person: open the chat, wait for the opening's reply, then send ``turns`` messages,
    each after a pause to read and type (exponential, mean ``think`` seconds); (position of
    the reply, seconds from Enter to the reply on screen) each."""
    rng = random.Random(seed)
    page = await browser.new_page(viewport={"width": 1280, "height": 800})
    await page.goto(f"http://127.0.0.1:{port}/?token={token}&chat=lat", timeout=300_000)
    await page.locator(".turn.bot").first.wait_for(timeout=300_000)
    out = []
    for i in range(turns):
        await asyncio.sleep(rng.expovariate(1 / think) if think else 0)
        await page.locator("textarea").fill(f"сообщение номер {i}")
        await page.evaluate(WATCH, i + 2)
        start = time.time()
        await page.keyboard.press("Enter")
        await page.locator(".turn.bot").nth(i + 1).wait_for(timeout=120_000)
        drawn = await page.evaluate("window.__drawn") / 1000
        out.append((2 * i + 3, start, drawn))
    await page.close()
    return out


async def crowd(
    port: int, tokens: list[str], turns: int, think: float
) -> list[list[tuple[int, float, float]]]:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            return await asyncio.gather(
                *(chatter(browser, port, t, turns, think, i) for i, t in enumerate(tokens))
            )
        finally:
            await browser.close()


def generation_times(url: str) -> dict[tuple[str, int], tuple[str, float, float, float]]:
    """(chatter, position) -> (bot kind, the bot's own seconds for that reply, when the turn
    was stored and when its reply was, as epoch seconds)."""
    with db.session_scope(db.make_engine(url), readonly=True) as s:
        rows = s.execute(
            select(
                Annotator.name,
                ChatTurn.position,
                ChatTurn.candidates,
                ChatBot.spec,
                ChatTurn.created_at,
                ChatTurn.answered_at,
            )
            .join(Chat, Chat.id == ChatTurn.chat_id)
            .join(ChatBot, ChatBot.id == Chat.bot_id)
            .join(Annotator, Annotator.id == Chat.annotator_id)
            .where(ChatTurn.speaker == "bot", ChatTurn.state == "answered")
        ).all()
    return {
        (name, position): (
            "served" if spec.get("endpoint") else "local",
            float(candidates[0]["meta"]["seconds"]),
            created.replace(tzinfo=UTC).timestamp(),
            answered.replace(tzinfo=UTC).timestamp(),
        )
        for name, position, candidates, spec, created, answered in rows
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pages", type=int, default=16)
    ap.add_argument("--turns", type=int, default=5, help="Messages each page sends.")
    ap.add_argument("--think", type=float, default=3.0, help="Mean pause before a message, s.")
    args = ap.parse_args()
    if not Path(CHROMIUM).exists():
        raise SystemExit("Debian chromium is needed: apt-get install chromium")
    with tempfile.TemporaryDirectory(prefix="evaltool-chat-") as name:
        folder = Path(name)
        server_port, page_port = free_port(), free_port()
        model_server = start_server(server_port, batching=False)
        worker = page = None
        try:
            url, tokens, worker = prepare(folder, args.pages, f"http://127.0.0.1:{server_port}/v1")
            page = serve(ROOT, url, page_port)
            measured = asyncio.run(crowd(page_port, tokens, args.turns, args.think))
            own = generation_times(url)
        finally:
            if page is not None:
                stop(page)  # its own session: the server and what it started
            for proc in (worker, model_server):
                if proc is not None:
                    proc.terminate()
                    proc.wait(timeout=30)
    rows: dict[str, list[tuple[float, ...]]] = {"local": [], "served": []}
    for i, per_page in enumerate(measured):
        for position, sent, shown in per_page:
            kind, gen, stored, answered = own[f"chatter-{i}", position]
            steps = (stored - sent, answered - stored, shown - answered)
            rows[kind].append((shown - sent, gen, *steps))
    print(
        f"{args.pages} chats at once, {args.turns} messages each, think {args.think} s; "
        "Enter -> reply on screen, ms"
    )
    print(
        "bot      replies  generation p50  overhead p50  overhead p95 | p95 of: Enter->stored"
        "  stored->answered-generation  answered->on screen"
    )
    worst = 0.0
    for kind, got in rows.items():
        if not got:
            continue
        wall, gen, page_in, bot, page_out = np.array(got).T * 1000
        over = wall - gen
        worst = max(worst, float(np.percentile(over, 95)))
        p95 = [np.percentile(x, 95) for x in (page_in, bot - gen, page_out)]
        print(
            f"{kind:<8} {len(got):>7} {np.percentile(gen, 50):>15.0f} "
            f"{np.percentile(over, 50):>13.0f} {np.percentile(over, 95):>13.0f} | "
            f"{p95[0]:>13.0f} {p95[1]:>28.0f} {p95[2]:>19.0f}"
        )
    verdict = "met" if worst <= 300 else "NOT met"
    print(f"target (overhead p95 <= 300 ms): {verdict}")


if __name__ == "__main__":
    main()
