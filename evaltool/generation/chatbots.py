"""Meena's interactive mode, the bots' side: making a campaign's bots and answering its pending
turns in processes apart from the page (which never imports torch).

A bot is kept as a spec (model, endpoint, options) so that any process can make it again; it is
registered as a system the way ``generate`` registers one, and a bot process checks that what
it loaded is what was registered. ``serve`` leases pending turns (``storage.chats.claim``),
answers each through the responder's own prompt format, and stores every candidate; a turn
whose process dies is taken again when its lease ends, and a reply is stored once.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select

from evaltool.errors import UserError
from evaltool.generation import backends
from evaltool.generation.responder import Conversation, Responder
from evaltool.generation.settings import GenerationSettings, context_key
from evaltool.storage import chats
from evaltool.storage.db import session_scope
from evaltool.storage.schema import ChatBot, System
from evaltool.storage.systems import SystemSpec, find_system, register

LEASE = timedelta(minutes=2)  # a turn not answered in this time goes to another process
BATCH = 16  # pending turns of one bot answered together
SLOTS = 4  # batches of one bot answered at once (when its replies allow it)
CHAT_TEMPLATE = "chat-template"


@dataclass
class Served:
    """What a bot process did: turns answered, and lost to another process's answer."""

    answered: int = 0
    lost: int = 0
    seconds: list[float] = field(default_factory=list)


def bot_spec(model: str, endpoint: str | None, options: dict[str, Any]) -> dict[str, Any]:
    """What a process needs to make this bot again, as JSON (settings as a plain dict)."""
    plain = {k: v for k, v in options.items() if k not in ("settings", "endpoint")}
    return {
        "model": model,
        "endpoint": endpoint,
        "options": plain,
        "settings": asdict(options.get("settings") or GenerationSettings()),
    }


def make_bot(spec: dict[str, Any], **overrides: Any) -> Responder:
    """The responder a spec describes (``overrides``: device and the like for this process)."""
    options = {**spec["options"], **{k: v for k, v in overrides.items() if v is not None}}
    options["settings"] = GenerationSettings(**spec["settings"])
    return backends.make_responder(spec["model"], spec["endpoint"], **options)


def _spec_of(responder: Responder, name: str, seed: int) -> SystemSpec:
    me = responder.identity
    settings = {**me.settings, "seed": seed}
    return SystemSpec(name, me.kind, me.model, me.revision, settings, me.provenance, me.binding)


def prepared(spec: dict[str, Any], **overrides: Any) -> Responder:
    """The bot loaded and checked. A chat-template bot left at the default of 3 context turns
    sees the whole chat instead (within its window), as a chat model does."""
    bot = make_bot(spec, **overrides)
    bot.prepare([], [])
    chat_model = bot.identity.settings.get("prompt_format") == CHAT_TEMPLATE
    if chat_model and spec["options"].get("context_turns") == 3:
        spec["options"]["context_turns"] = 0
        bot.close()
        bot = make_bot(spec, **overrides)
        bot.prepare([], [])
    return bot


def register_bots(
    engine: Engine, specs: list[dict[str, Any]], names: list[str | None], seed: int
) -> list[int]:
    """Load every bot (nothing is stored unless all load), then register each as a system;
    returns their system ids."""
    loaded = [prepared(spec) for spec in specs]
    started = datetime.now(UTC).isoformat(timespec="seconds")
    with session_scope(engine) as s:
        ids = []
        for bot, name in zip(loaded, names, strict=True):
            log = {**bot.run_log(), "started": started, "chat": True}
            ids.append(register(s, _spec_of(bot, name or bot.name, seed), log).id)
    for bot in loaded:
        bot.close()
    return ids


def load_campaign_bots(engine: Engine, campaign: str, **overrides: Any) -> dict[int, Responder]:
    """Every bot of the campaign, loaded in this process and checked against its system."""
    with session_scope(engine, readonly=True) as s:
        camp = chats.get_campaign(s, campaign)
        rows = s.execute(
            select(ChatBot.system_id, ChatBot.spec, System.name, System.settings)
            .join(System, System.id == ChatBot.system_id)
            .where(ChatBot.campaign_id == camp.id)
        ).all()
    bots = {}
    for system_id, spec, name, settings in rows:
        bot = prepared(spec, **overrides)
        with session_scope(engine, readonly=True) as s:
            find_system(s, _spec_of(bot, name, settings.get("seed", 0)))
        bots[system_id] = bot
    if not bots:
        raise UserError(f"chat campaign {campaign!r} has no bots")
    return bots


def serve(
    engine: Engine,
    campaign: str,
    bots: dict[int, Responder],
    *,
    seed: int = 0,
    lease: timedelta = LEASE,
    poll: float = 0.05,
    batch: int = BATCH,
    slots: int = SLOTS,
    stop: Callable[[Served], bool] | None = None,
    worker: str | None = None,
) -> Served:
    """Answer the campaign's pending turns until ``stop`` says so (or forever). Each bot has a
    thread that leases pending turns (up to ``batch`` together) whenever one of its ``slots``
    is free, so a turn that arrives while the bot is answering others starts at once instead
    of waiting for their batch; a bot whose replies depend on what runs beside it (global
    seeds) gets one slot. One bot's work never waits behind another's."""
    worker = worker or f"{socket.gethostname()}:{os.getpid()}"
    done, lock, halt = Served(), threading.Lock(), threading.Event()
    failed: list[BaseException] = []

    def guarded(work: Callable[..., None], *args: Any) -> None:
        try:
            work(*args)
        except BaseException as exc:  # the main thread raises it
            failed.append(exc)
            halt.set()

    def answer(system_id: int, turns: list[chats.PendingTurn]) -> None:
        for turn, rows, took in _answer(bots[system_id], campaign, seed, turns):
            stored = chats.store_reply(engine, turn.turn_id, worker, rows)
            with lock:
                done.answered += stored
                done.lost += not stored
                done.seconds += [took] * stored

    def feed(system_id: int) -> None:
        size = slots if bots[system_id].concurrent else 1
        free = threading.Semaphore(size)

        def run(turns: list[chats.PendingTurn]) -> None:
            try:
                guarded(answer, system_id, turns)
            finally:
                free.release()

        with ThreadPoolExecutor(size) as pool:  # threads kept: a local bot's buffers are theirs
            while not halt.is_set():
                if not free.acquire(timeout=poll):
                    continue
                turns = chats.claim(engine, [system_id], worker, lease, batch)
                if turns:
                    pool.submit(run, turns)
                else:
                    free.release()
                    time.sleep(poll)

    threads = [
        threading.Thread(target=guarded, args=(feed, sid), daemon=True) for sid in sorted(bots)
    ]
    for t in threads:
        t.start()
    try:
        while not (stop and stop(done)) and not halt.is_set():
            time.sleep(poll)
    finally:
        halt.set()
        for t in threads:
            t.join()
    if failed:
        raise failed[0]
    return done


def _answer(
    bot: Responder, campaign: str, seed: int, turns: list[chats.PendingTurn]
) -> list[tuple[chats.PendingTurn, list[dict[str, Any]], float]]:
    """Every leased turn's candidates (as stored) and the seconds the bot took for the batch."""
    convs = [
        Conversation(t.turns, context_key(seed, campaign, str(t.chat_id), str(t.position)), id=i)
        for i, t in enumerate(turns)
    ]
    bot.prepare(convs, convs)
    t0 = time.perf_counter()
    got: dict[int, list[Any]] = {}
    for part in bot.batches(convs):
        for group in bot.respond(part):
            got.update({conv.id: cands for conv, cands in group})
    took = round(time.perf_counter() - t0, 4)
    out = []
    for i, turn in enumerate(turns):
        rows = [{"text": c.text, "meta": {**c.meta, "seconds": took}} for c in got.get(i, [])]
        out.append((turn, rows or [{"text": "", "meta": {"seconds": took, "empty": True}}], took))
    return out
