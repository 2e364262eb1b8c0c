"""Chat campaigns, the bots' side (``generation.chatbots`` and ``evaltool chat bots``): a tiny
local ruDialoGPT-format bot under the card rule, a bot process killed mid-reply, and two bot
processes over PostgreSQL answering eight chats at once."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import func, select

from evaltool.annotation import accounts, chat
from evaltool.generation import chatbots
from evaltool.generation.responder import Responder
from evaltool.generation.settings import context_key
from evaltool.storage import db
from evaltool.storage.schema import ChatTurn

from .conftest import stop


def bots_process(url: str, *args: str) -> subprocess.Popen:
    """``evaltool chat bots c`` in its own process, as a user starts it."""
    env = {**os.environ, "EVALTOOL_DB": url}
    command = [sys.executable, "-m", "evaltool", "chat", "bots", "c", *args]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def wait_for(check, seconds: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    """Poll ``check`` until it holds."""
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def pending(url: str) -> int:
    with db.session_scope(db.make_engine(url), readonly=True) as s:
        return s.scalar(select(func.count(ChatTurn.id)).where(ChatTurn.state == "pending")) or 0


@pytest.fixture
def sqlite_url(run_cli, tmp_path: Path) -> str:  # type: ignore[no-untyped-def]
    """The project database ``run_cli`` makes with ``init``."""
    assert run_cli("init").exit_code == 0
    return f"sqlite:///{tmp_path / 'evaltool.db'}"


def test_a_tiny_rudialogpt_bot_answers_from_the_last_three_turns(
    run_cli, tiny_model: Path, sqlite_url: str
) -> None:
    """Card rule, three candidates per turn, all stored, the first shown; the bot sees the
    chat through its prompt format: the last 3 turns, as ``generate`` does."""
    created = run_cli(
        "chat", "create", "c", "--bot", str(tiny_model), "--min-turns", "4", "--max-new-tokens", "8"
    )
    assert created.exit_code == 0, created.output
    assert "1 bots (" in created.output
    engine = db.make_engine(sqlite_url)
    me = accounts.add_annotator(engine, "me")
    bots = chatbots.load_campaign_bots(engine, "c")
    chat.view(engine, me, "c")
    for text in ("как дела?", "что делаешь?", None):
        chatbots.serve(engine, "c", bots, stop=lambda _: pending(sqlite_url) == 0)
        if text:
            chat.send(engine, me, "c", text)
    with db.session_scope(engine, readonly=True) as s:
        turns = s.scalars(select(ChatTurn).order_by(ChatTurn.position)).all()
        assert [t.speaker for t in turns] == ["human", "bot"] * 3
        last = turns[-1]
        assert len(last.candidates) == 3 and last.text == last.candidates[0]["text"]
        before = [t.text for t in turns[:-1]]
    (bot,) = bots.values()
    key = context_key(0, "c", str(last.chat_id), str(last.position))
    assert [c.text for c in bot.reply(before[-3:], key)] == [c["text"] for c in last.candidates]


class Overlaps:
    """Wraps a bot's ``respond``: counts the calls inside it at once, and holds the first
    call (up to 2 s) until a second one starts."""

    def __init__(self, bot: Responder) -> None:
        self.respond, self.inside, self.most = bot.respond, 0, 0
        self.lock, self.second = threading.Lock(), threading.Event()
        bot.respond = self  # type: ignore[method-assign]

    def __call__(self, batch):  # type: ignore[no-untyped-def]
        with self.lock:
            self.inside += 1
            self.most = max(self.most, self.inside)
            if self.inside > 1:
                self.second.set()
        try:
            self.second.wait(2.0)
            yield from self.respond(batch)
        finally:
            with self.lock:
                self.inside -= 1


@pytest.mark.parametrize("decoder", ["fast", "hf"])
def test_a_turn_starts_while_the_bot_answers_another(
    run_cli, tiny_model: Path, sqlite_url: str, decoder: str
) -> None:
    """Two chats' openings, a batch of one each: the second is answered beside the first
    when the bot's replies come from per-turn streams (evaltool's loop, here under the card
    rule), and after it when they come from torch's global seed (transformers' generate); the
    replies are what the bot gives each turn alone."""
    rule = [] if decoder == "fast" else ["--decoding", "transformers", "--decoder", "hf"]
    assert run_cli("chat", "create", "c", "--bot", str(tiny_model), *rule).exit_code == 0
    engine = db.make_engine(sqlite_url)
    for name in ("a", "b"):
        chat.view(engine, accounts.add_annotator(engine, name), "c")
    bots = chatbots.load_campaign_bots(engine, "c")
    (bot,) = bots.values()
    assert bot.concurrent is (decoder == "fast")
    seen = Overlaps(bot)
    done = chatbots.serve(engine, "c", bots, batch=1, slots=2, stop=lambda d: d.answered == 2)
    assert done.answered == 2 and seen.most == (2 if decoder == "fast" else 1)
    bot.respond = seen.respond  # type: ignore[method-assign]
    with db.session_scope(engine, readonly=True) as s:
        for turn in s.scalars(select(ChatTurn).where(ChatTurn.speaker == "bot")):
            key = context_key(0, "c", str(turn.chat_id), str(turn.position))
            alone = [c.text for c in bot.reply(["Привет!"], key)]
            assert alone == [c["text"] for c in turn.candidates]


@pytest.mark.slow
def test_a_bot_process_killed_mid_reply_loses_no_turn(
    run_cli, tiny_model: Path, sqlite_url: str
) -> None:
    """A bot process is stopped while it holds a turn it has not answered, then killed; a new
    process takes the turn when the lease ends, and the chat goes on."""
    assert run_cli("chat", "create", "c", "--bot", str(tiny_model)).exit_code == 0
    engine = db.make_engine(sqlite_url)
    me = accounts.add_annotator(engine, "me")
    first = bots_process(sqlite_url, "--lease", "3")
    try:
        started(first)
        view = chat.view(engine, me, "c")
        while True:  # catch it between lease and reply (a reply takes a few ms here)
            turn = view.turns[-1].position
            wait_for(lambda at=turn: _claimed(sqlite_url, at), 30)
            os.kill(first.pid, signal.SIGSTOP)
            if _state(sqlite_url, turn) == "pending":
                break
            os.kill(first.pid, signal.SIGCONT)
            wait_for(lambda: chat.view(engine, me, "c").waiting is None)
            view = chat.send(engine, me, "c", f"реплика {turn + 1}")
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
        second = bots_process(sqlite_url, "--idle-exit", "2")
        out = second.communicate(timeout=120)[0].decode()
    finally:
        stop(first)
    assert "1 turns answered, 0 taken by another process" in out, out
    assert _state(sqlite_url, turn) == "answered"
    assert chat.send(engine, me, "c", "и что?").waiting is not None  # the chat goes on


def started(proc: subprocess.Popen) -> None:
    """Wait until a bot process says its bots are loaded."""
    assert proc.stdout is not None
    line = proc.stdout.readline().decode()
    assert "answering" in line, line


def _claimed(url: str, position: int) -> bool:
    with db.session_scope(db.make_engine(url), readonly=True) as s:
        query = select(ChatTurn.claimed_by).where(ChatTurn.position == position)
        return s.scalar(query.order_by(ChatTurn.id.desc()).limit(1)) is not None


def _state(url: str, position: int) -> str | None:
    with db.session_scope(db.make_engine(url), readonly=True) as s:
        query = select(ChatTurn.state).where(ChatTurn.position == position)
        return s.scalar(query.order_by(ChatTurn.id.desc()).limit(1))


@pytest.mark.slow
def test_two_bot_processes_over_postgresql_answer_eight_chats_each_turn_once(
    run_cli, tiny_model: Path, pg_url: str
) -> None:
    """Eight people chat at once (through ``annotation.chat``, the page's path) while two bot
    processes serve the campaign: every bot turn answered, and by exactly one process."""
    assert run_cli("init", "--db", pg_url).exit_code == 0
    created = run_cli(
        "chat", "create", "c", "--bot", str(tiny_model), "--conversations", "8",
        "--min-turns", "6", "--max-new-tokens", "6", "--db", pg_url,
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    engine = db.make_engine(pg_url)
    people = [accounts.add_annotator(engine, f"p{i}") for i in range(8)]
    procs = [bots_process(pg_url, "--idle-exit", "4") for _ in range(2)]
    try:
        for proc in procs:
            started(proc)

        def person(token: str) -> int:
            view = chat.view(engine, token, "c")
            while len(view.turns) < 6:
                wait_for(lambda: chat.view(engine, token, "c").waiting is None, 120)
                view = chat.send(engine, token, "c", f"реплика {len(view.turns)}")
            wait_for(lambda: chat.view(engine, token, "c").can_finish, 120)
            return 1 if chat.finish(engine, token, "c").kind == "finished" else 0

        with ThreadPoolExecutor(8) as pool:
            assert sum(pool.map(person, people)) == 8
        outputs = [p.communicate(timeout=120)[0].decode() for p in procs]
    finally:
        for proc in procs:
            stop(proc)
    counts = [re.search(r"(\d+) turns answered, (\d+) taken", out) for out in outputs]
    assert all(counts), outputs
    answered = [int(m.group(1)) for m in counts if m]
    assert sum(answered) == 8 * 3 and all(n > 0 for n in answered), outputs
    assert all(m.group(2) == "0" for m in counts if m)
    with db.session_scope(engine, readonly=True) as s:
        bot_turns = s.scalars(select(ChatTurn).where(ChatTurn.speaker == "bot")).all()
    assert len(bot_turns) == 24 and all(t.state == "answered" for t in bot_turns)
    assert len({t.claimed_by for t in bot_turns}) == 2
